import type { Headers } from './headers.js';

/**
 * RequestLine is the part of a request that routing filters read and change: the Host to send
 * upstream (`authority`, with the port when the client gave one), the path without the query,
 * the query without `?` ('' when none; filters keep it) and the headers (lower-case names). The
 * proxy's Exchange is one; `weft test` builds one per simulated request. Filters change it in
 * place.
 */
export interface RequestLine {
  authority: string;
  path: string;
  query: string;
  headers: Headers;
}
