import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeCode } from '../errors.js';
import { ControllerError } from './errors.js';

/** readBody buffers a request body up to `limit` bytes; larger is ControllerError WEFT_CTL_BAD_REQUEST. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new ControllerError('WEFT_CTL_BAD_REQUEST', `body larger than ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new ControllerError('WEFT_CTL_BAD_REQUEST', `body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** sendJson answers with a JSON body (pretty enough to read with curl). */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

/** sendError answers `{error: {code, message}}`; `code` is one of RUNTIME_ERRORS (runtime/errors.ts). */
export function sendError(res: ServerResponse, status: number, code: RuntimeCode, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, headers);
}

/** parseEtags reads If-None-Match: the listed entity tags without quotes or W/ ("*" kept). */
export function parseEtags(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1'))
    .filter((t) => t !== '');
}

/** parsePreferWait reads `Prefer: wait=N` (RFC 7240) in seconds; 0 when absent or malformed. */
export function parsePreferWait(header: string | undefined): number {
  if (!header) return 0;
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(header);
  return m ? Number(m[1]) : 0;
}
