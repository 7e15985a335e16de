/**
 * The floor of `npm run bench:proxy`: the cheapest HTTP pass-through built from the parts Weft
 * itself uses — a node:http server in, an undici Pool out through the low-level `dispatch` API —
 * and nothing else: the request headers are copied (Host set to the client's), the request body
 * is streamed, the response is written straight from undici's handler with backpressure. No
 * routing, no policy, no metrics, no ids, no hop-by-hop hygiene beyond what keeps the two
 * connections' framing apart. Weft's CPU per request is reported as a ratio of this one's,
 * measured in the same run (issue 16: the goal is ≤ 1.3×).
 *
 * Usage (spawned by proxy.bench.ts): node floor-proxy.js PORT UPSTREAM_HOST:PORT; prints `ready`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

/** CONNECTION_SCOPED response headers: they describe the upstream connection, not the client's. */
const CONNECTION_SCOPED = new Set(['connection', 'keep-alive', 'transfer-encoding']);

function serve(pool: Pool, req: IncomingMessage, res: ServerResponse): void {
  const headers: Record<string, string | string[]> = {};
  const h = req.headers;
  for (const k in h) {
    const v = h[k];
    if (v !== undefined && k !== 'connection' && k !== 'keep-alive') headers[k] = v;
  }
  const hasBody = h['content-length'] !== undefined ? h['content-length'] !== '0' : h['transfer-encoding'] !== undefined;
  let ctrl: Dispatcher.DispatchController | null = null;
  res.on('close', () => {
    if (!res.writableFinished && ctrl && !ctrl.aborted) ctrl.abort(new Error('client gone'));
  });
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      ctrl = c;
    },
    onResponseStart(_c, status, resHeaders) {
      const out: Record<string, string | string[]> = {};
      for (const k in resHeaders) if (!CONNECTION_SCOPED.has(k)) out[k] = resHeaders[k] as string | string[];
      res.writeHead(status, out);
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_c, _err) {
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(502, { 'content-length': '0' });
        res.end();
      }
    },
  };
  pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url ?? '/', headers, body: hasBody ? req : null, headersTimeout: 0, bodyTimeout: 300_000 }, handler);
}

function main(): void {
  const port = Number(process.argv[2]);
  const upstream = String(process.argv[3]);
  // The same pool settings Weft's PoolSet uses, so both keep the same connections alive.
  const pool = new Pool(`http://${upstream}`, { keepAliveTimeout: 4_000, keepAliveMaxTimeout: 60_000, keepAliveTimeoutThreshold: 1_000 });
  const server = createServer((req, res) => serve(pool, req, res));
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void pool.close().finally(() => process.exit(0));
  });
}

main();
