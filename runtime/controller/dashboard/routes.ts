/**
 * The dashboard's routes, spread into the controller's route table (runtime/controller/routes.ts)
 * with one line: `GET /` (the static page, runtime/controller/dashboard/index.html: plain HTML
 * and JS, no build step, no CDN) and `GET|POST /v1/traffic` (the traffic samples it charts; see
 * traffic-store.ts for why they are posted). Everything else the page shows comes from
 * `GET /v1/status`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Controller } from '../controller.js';
import { ControllerError, messageOf } from '../errors.js';
import { readBody, sendError, sendJson } from '../http.js';
import type { Handler } from '../handler.js';
import { parseTrafficPost } from './traffic-store.js';

/** TRAFFIC_BODY_LIMIT bounds `POST /v1/traffic`. */
export const TRAFFIC_BODY_LIMIT = 64 * 1024;

const here = path.dirname(fileURLToPath(import.meta.url));
/**
 * The page is read from the sources (tsc does not copy HTML into dist/): next to this module
 * when run from the sources, else from the package's runtime/controller/dashboard/.
 */
const PAGE_CANDIDATES = [path.join(here, 'index.html'), path.join(here, '..', '..', '..', '..', 'runtime', 'controller', 'dashboard', 'index.html')];
let page: Buffer | null = null;

function loadPage(): Buffer | null {
  if (page) return page;
  for (const file of PAGE_CANDIDATES) {
    try {
      page = readFileSync(file);
      return page;
    } catch {
      // Try the next place.
    }
  }
  return null;
}

/**
 * The page only talks to this origin; user-controlled text (commit messages, diagnostics) is
 * inserted as text, and the policy forbids anything else.
 */
const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'";

function getPage(_ctl: Controller, _req: IncomingMessage, res: ServerResponse): void {
  const body = loadPage();
  if (!body) {
    sendError(res, 404, 'WEFT_CTL_NOT_FOUND', 'the dashboard page is not installed (runtime/controller/dashboard/index.html)');
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-cache',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(body);
}

async function postTraffic(ctl: Controller, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let value: unknown;
  try {
    value = JSON.parse((await readBody(req, TRAFFIC_BODY_LIMIT)).toString('utf8'));
  } catch (err) {
    sendError(res, err instanceof ControllerError ? 413 : 400, 'WEFT_CTL_BAD_REQUEST', messageOf(err));
    return;
  }
  const parsed = parseTrafficPost(value);
  if (!parsed) {
    sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', 'expected {source, samples: [{t, requests, errors, backends: {name: count}}]}');
    return;
  }
  ctl.traffic.add(parsed.source, parsed.samples);
  res.writeHead(204);
  res.end();
}

/** DASHBOARD_ROUTES are spread into ROUTES: `...DASHBOARD_ROUTES`. */
export const DASHBOARD_ROUTES: ReadonlyArray<readonly [string, Handler]> = [
  ['GET /', getPage],
  ['GET /index.html', getPage],
  ['GET /v1/traffic', (ctl, _req, res) => sendJson(res, 200, ctl.traffic.document())],
  ['POST /v1/traffic', postTraffic],
];
