/** Headers are lower-case names; a repeated header is an array (the shape node:http and undici use). */
export type Headers = Record<string, string | string[]>;
