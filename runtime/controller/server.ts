import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Controller } from './controller.js';
import { ControllerError, messageOf } from './errors.js';
import { sendError } from './http.js';
import type { Handler } from './handler.js';
import { ROUTES } from './routes.js';

/**
 * ControllerServer serves ROUTES over HTTP/1.1. Timeouts are set for long-polling: idle
 * keep-alive connections outlive the longest `Prefer: wait`, and no per-request socket timeout
 * cuts a held request short.
 */
export class ControllerServer {
  readonly server: http.Server;

  constructor(
    private readonly ctl: Controller,
    private readonly routes: ReadonlyMap<string, Handler> = ROUTES,
  ) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = ctl.maxWaitMs + 5_000;
    this.server.headersTimeout = 30_000;
    // requestTimeout bounds receiving a request; kept above the longest hold so that no Node
    // version's interpretation can cut a long-poll short.
    this.server.requestTimeout = ctl.maxWaitMs + 30_000;
    this.server.maxHeadersCount = 100;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://controller');
    } catch {
      sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', 'bad request target');
      return;
    }
    const handler = this.routes.get(`${req.method} ${url.pathname}`);
    if (!handler) {
      const known = [...this.routes.keys()].some((k) => k.endsWith(` ${url.pathname}`));
      sendError(res, known ? 405 : 404, known ? 'WEFT_CTL_METHOD' : 'WEFT_CTL_NOT_FOUND', `${req.method} ${url.pathname} is not served here`);
      return;
    }
    Promise.resolve()
      .then(() => handler(this.ctl, req, res, url))
      .catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'WEFT_CTL_INTERNAL', messageOf(err));
        else res.destroy();
      });
  }

  /** listen binds `host:port` (port 0 picks one) and resolves to the address actually bound. */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new ControllerError('WEFT_CTL_LISTEN', `cannot listen on ${host}:${port}: ${messageOf(err)}`));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** close stops accepting, ends idle keep-alive connections, and resolves when all are gone. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      setTimeout(() => this.server.closeAllConnections(), 1000).unref();
    });
  }
}
