/** Headers are lower-case names; a repeated header is an array (the shape node:http and undici use). */
export type Headers = Record<string, string | string[]>;

/**
 * policyHeader is the value a policy reads for header `name` (lower-case): `host` is the
 * request's authority when known, because proxies carry it apart from the other headers (a rule
 * on Host must see what the client asked for, as route matching does); else the header as given.
 */
export function policyHeader(headers: Readonly<Record<string, string | readonly string[] | undefined>>, name: string, authority: string | undefined): string | readonly string[] | undefined {
  if (name === 'host' && authority !== undefined) return authority;
  return headers[name];
}
