import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Controller } from './controller.js';

/** Handler answers one request; `url` is already parsed. Handlers never throw to the server. */
export type Handler = (ctl: Controller, req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;
