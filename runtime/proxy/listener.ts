import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { BadRequestError, NotReadyError, WeftError } from '../errors.js';
import { splitTarget } from '../router/index.js';
import { RequestBody } from './body.js';
import type { ProxyContext } from './context.js';
import { errorReply, Exchange, type Direction, type Handler, type Headers, type Reply } from './pipeline.js';
import { randomHex } from './random-id.js';

/**
 * A listener: a node:http server that turns each request into an Exchange, runs the composed
 * pipeline and writes the Reply. Framing is Node's llhttp in strict mode (never
 * insecureHTTPParser): duplicate Content-Length, Content-Length with Transfer-Encoding, obs-fold
 * and bad chunk sizes are refused with 400 and the connection closed; oversized headers get 431.
 *
 * Keep-alive: the server keeps idle client connections 65 s, longer than any HTTP client's usual
 * idle timeout (undici 4 s, Node's agent 5 s), so the client closes first and never sends on a
 * socket this side is closing.
 */

/** KEEP_ALIVE_TIMEOUT_MS for client-facing listeners. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** createListener builds (not yet listening) the server for one direction. */
export function createListener(ctx: ProxyContext, direction: Direction, handler: Handler, maxHeaderSize = 16 * 1024): Server {
  const server = createServer({ maxHeaderSize, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, headersTimeout: KEEP_ALIVE_TIMEOUT_MS + 1_000, requestTimeout: 0 }, (req, res) => {
    void handle(ctx, direction, handler, req, res);
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    // A response may already be under way (an error mid-body): then only closing is possible.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!socket.writable || err.code === 'ECONNRESET' || (inFlight && inFlight.headersSent)) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'HPE_HEADERS_TIMEOUT' ? 408 : 400;
    const body = `weft: ${status === 431 ? 'WEFT_HEADERS_TOO_LARGE' : 'WEFT_BAD_REQUEST'}: ${err.code ?? 'malformed request'}\n`;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.destroySoon();
  });
  return server;
}

function copyHeaders(req: IncomingMessage): Headers {
  const out: Headers = {};
  const h = req.headers;
  for (const k in h) {
    const v = h[k];
    if (v !== undefined && k !== 'host') out[k] = v;
  }
  return out;
}

async function handle(ctx: ProxyContext, direction: Direction, handler: Handler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const startedAt = performance.now();
  const active = ctx.active();
  if (!active) {
    req.resume();
    write(res, errorReply(new NotReadyError()));
    return;
  }
  let body: RequestBody;
  try {
    body = await RequestBody.read(req, ctx.settings.bodyBufferLimit);
  } catch (err) {
    res.shouldKeepAlive = false;
    write(res, errorReply(err instanceof WeftError ? err : new BadRequestError(String(err))));
    return;
  }
  const target = splitTarget(req.url ?? '/');
  const ex = new Exchange({
    id: randomHex(8),
    direction,
    req,
    clientAddress: req.socket.remoteAddress ?? '',
    startedAt,
    router: active.router,
    self: ctx.self,
    method: req.method ?? 'GET',
    path: target.path,
    query: target.query,
    authority: target.authority ?? req.headers.host ?? '',
    headers: copyHeaders(req),
    body,
    picker: ctx.picker,
  });
  let code: string | null = null;
  res.on('close', () => {
    if (!res.writableFinished) ex.abort(new WeftError('WEFT_CLIENT_GONE', 'the client went away', 499));
    body.destroy();
    if (ex.onDone.length === 0) return;
    const outcome = { status: res.statusCode, code, durationSeconds: (performance.now() - startedAt) / 1000, completed: res.writableFinished };
    for (const f of ex.onDone) {
      try {
        f(ex, outcome);
      } catch {
        // an observer's failure must not affect the request
      }
    }
  });
  let reply: Reply;
  try {
    reply = await handler(ex);
  } catch (err) {
    if (err instanceof WeftError) reply = errorReply(err);
    else reply = errorReply(new WeftError('WEFT_INTERNAL', `internal error: ${(err as Error).message ?? String(err)}`, 500));
    if (reply.status === 400) res.shouldKeepAlive = false;
  }
  code = reply.code;
  write(res, reply);
}

function write(res: ServerResponse, reply: Reply): void {
  if (res.destroyed) {
    if (reply.body && typeof reply.body !== 'string') reply.body.destroy();
    return;
  }
  try {
    res.writeHead(reply.status, reply.headers);
  } catch (err) {
    // An upstream header Node refuses to send (invalid characters): answer 502 instead.
    if (reply.body && typeof reply.body !== 'string') reply.body.destroy();
    const r = errorReply(new WeftError('WEFT_UPSTREAM_PROTOCOL', `upstream sent an invalid header: ${(err as Error).message}`, 502));
    res.writeHead(r.status, r.headers);
    res.end(r.body as string);
    return;
  }
  const b = reply.body;
  if (b === null) res.end();
  else if (typeof b === 'string') res.end(b);
  else pipe(b, res);
}

/**
 * pipe streams an upstream body to the client. Not stream.pipeline(): that allocates an
 * AbortController per call and aborts it at the end, a measurable cost per request. Errors on
 * either side destroy the other (a truncated response is never passed off as complete).
 */
function pipe(b: Readable, res: ServerResponse): void {
  const onError = (): void => {
    res.destroy();
  };
  b.once('error', onError);
  res.once('close', () => {
    if (!b.readableEnded) b.destroy();
  });
  b.pipe(res);
}
