import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Controller } from './controller.js';
import { ControllerError, messageOf } from './errors.js';
import { SliceCache } from './slices.js';
import { parseEtags, parsePreferWait, readBody, sendError, sendJson } from './http.js';
import { parsePushEvent, verifyHubSignature } from './webhook.js';
import { DASHBOARD_ROUTES } from './dashboard/routes.js';
import { DISCOVERY_ROUTES } from './discovery-routes.js';
import type { Handler } from './handler.js';


/**
 * ROUTES is the controller's whole HTTP surface, `METHOD /path` → handler. Anything else is
 * 404 (or 405 for a known path). The dashboard (a later issue) is one more line here.
 */
export const ROUTES: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['GET /v1/bundle', getBundle],
  ['POST /v1/status', postStatus],
  ['GET /v1/status', (ctl, _req, res) => sendJson(res, 200, ctl.status())],
  ['POST /v1/hooks/git', postGitHook],
  ['GET /metrics', getMetrics],
  ['GET /healthz', (_ctl, _req, res) => sendText(res, 200, 'ok\n')],
  ['GET /readyz', (ctl, _req, res) => (ctl.current ? sendText(res, 200, 'ready\n') : sendText(res, 503, 'no bundle yet\n'))],
  ...DASHBOARD_ROUTES,
  ...DISCOVERY_ROUTES,
]);

/** STATUS_BODY_LIMIT bounds POST /v1/status; WEBHOOK_BODY_LIMIT bounds push events (GitHub caps them at 25 MB, but the controller reads only `ref`). */
export const STATUS_BODY_LIMIT = 64 * 1024;
export const WEBHOOK_BODY_LIMIT = 5 * 1024 * 1024;

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * sendBundle answers what `service`'s proxies are served (its slice; the whole bundle when no
 * Service is named). A client that accepts gzip gets it compressed (once per distinct bundle,
 * then cached): bundles are repetitive JSON, so a wake-up of a large fleet moves a small
 * fraction of the bytes. The ETag is that bundle's digest whatever the encoding.
 */
function sendBundle(ctl: Controller, req: IncomingMessage, res: ServerResponse, service: string): void {
  const served = ctl.servedFor(service);
  if (!served) {
    sendError(res, 503, 'WEFT_CTL_NOT_READY', 'no bundle yet', { 'retry-after': '1' });
    return;
  }
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) ? SliceCache.gzipOf(served) : null;
  const body = gzip ?? served.bytes;
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': body.length,
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    vary: 'accept-encoding',
    etag: `"${served.digest}"`,
    'cache-control': 'no-cache',
    'x-weft-revision': ctl.current?.commit?.commit ?? '',
  });
  res.end(body);
}

function sendNotModified(ctl: Controller, req: IncomingMessage, res: ServerResponse, hadEtag: boolean, service: string): void {
  const served = ctl.servedFor(service);
  if (!served || !hadEtag) {
    sendBundle(ctl, req, res, service);
    return;
  }
  res.writeHead(304, { etag: `"${served.digest}"`, 'cache-control': 'no-cache' });
  res.end();
}

/**
 * bundleService is the Service a bundle request is for: `service=NAMESPACE/NAME`, or a bare
 * `service=NAME` (namespace default). '' (none named) asks for the whole bundle.
 */
function bundleService(url: URL): string {
  return (url.searchParams.get('service') ?? '').slice(0, 256);
}

/**
 * GET /v1/bundle?service=S&proxy=ID: S's slice of the current bundle (200, ETag "<digest of
 * the slice>"), or, when the client already has it (If-None-Match) and asks `Prefer: wait=N`,
 * held until S's slice changes (200) or N seconds pass (304): a commit that leaves S's slice
 * alone does not wake S's proxies. Before any bundle exists a waiting request is held too.
 */
function getBundle(ctl: Controller, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const proxy = (url.searchParams.get('proxy') ?? '').slice(0, 256);
  const service = bundleService(url);
  const inm = req.headers['if-none-match'];
  const etags = parseEtags(Array.isArray(inm) ? inm.join(',') : inm);
  const waitS = Math.min(parsePreferWait(String(req.headers.prefer ?? '')), Math.floor(ctl.maxWaitMs / 1000));
  if (proxy) ctl.fleet.seen(proxy, service, etags[0] ?? null);
  const served = ctl.servedFor(service);
  const hasCurrent = served !== null && (etags.includes(served.digest) || etags.includes('*'));
  if (served && !hasCurrent) {
    sendBundle(ctl, req, res, service);
    return;
  }
  if (waitS <= 0) {
    sendNotModified(ctl, req, res, etags.length > 0, service);
    return;
  }
  const drop = ctl.hub.hold(
    {
      value: { proxy, service, etags },
      settle: (how) => {
        if (proxy) ctl.fleet.seen(proxy, service, etags[0] ?? null);
        if (how === 'closed' || res.writableEnded) return;
        const now = ctl.servedFor(service);
        if (how === 'woken' && now && !etags.includes(now.digest)) sendBundle(ctl, req, res, service);
        else sendNotModified(ctl, req, res, etags.length > 0, service);
      },
    },
    waitS * 1000,
  );
  res.setHeader('preference-applied', `wait=${waitS}`);
  res.on('close', drop);
}

/** POST /v1/status ← {proxy, service, digest, state: active|rejected, error}. */
async function postStatus(ctl: Controller, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let value: unknown;
  try {
    value = JSON.parse((await readBody(req, STATUS_BODY_LIMIT)).toString('utf8'));
  } catch (err) {
    sendError(res, err instanceof ControllerError ? 413 : 400, 'WEFT_CTL_BAD_REQUEST', messageOf(err));
    return;
  }
  const r = value as Record<string, unknown> | null;
  const str = (v: unknown, max: number): string | null => (typeof v === 'string' ? v.slice(0, max) : null);
  if (
    typeof r !== 'object' || r === null ||
    typeof r.proxy !== 'string' || r.proxy === '' ||
    (r.state !== 'active' && r.state !== 'rejected') ||
    (r.digest !== null && r.digest !== undefined && typeof r.digest !== 'string')
  ) {
    sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', 'expected {proxy, service, digest, state: "active"|"rejected", error}');
    return;
  }
  ctl.fleet.report({
    proxy: r.proxy.slice(0, 256),
    service: str(r.service, 256) ?? '',
    digest: str(r.digest, 100),
    state: r.state,
    error: str(r.error, 4096),
  });
  res.writeHead(204);
  res.end();
}

/**
 * POST /v1/hooks/git: a GitHub push event. With a secret, X-Hub-Signature-256 must match (401
 * otherwise, and nothing happens); a push to the watched branch triggers a fetch at once.
 */
async function postGitHook(ctl: Controller, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(req, WEBHOOK_BODY_LIMIT);
  } catch (err) {
    ctl.metrics.webhooks.inc({ result: 'bad_request' });
    sendError(res, 413, 'WEFT_CTL_BAD_REQUEST', messageOf(err));
    return;
  }
  const secret = ctl.webhookSecret;
  if (secret !== undefined) {
    const sig = req.headers['x-hub-signature-256'];
    if (!verifyHubSignature(secret, body, Array.isArray(sig) ? sig[0] : sig)) {
      ctl.metrics.webhooks.inc({ result: 'unauthorized' });
      sendError(res, 401, 'WEFT_CTL_WEBHOOK_SIGNATURE', 'missing or wrong X-Hub-Signature-256');
      return;
    }
  }
  if (req.headers['x-github-event'] === 'ping') {
    ctl.metrics.webhooks.inc({ result: 'ignored' });
    sendJson(res, 200, { ok: true, event: 'ping' });
    return;
  }
  const event = parsePushEvent(body, req.headers['content-type']);
  if (!event) {
    ctl.metrics.webhooks.inc({ result: 'bad_request' });
    sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', 'not a push event (expected JSON with "ref")');
    return;
  }
  const branch = ctl.repo.branch;
  if (branch && event.ref !== `refs/heads/${branch}`) {
    ctl.metrics.webhooks.inc({ result: 'ignored' });
    sendJson(res, 202, { accepted: false, reason: `push to ${event.ref}, watching refs/heads/${branch}` });
    return;
  }
  ctl.metrics.webhooks.inc({ result: 'accepted' });
  ctl.trigger('webhook');
  sendJson(res, 202, { accepted: true, ref: event.ref, after: event.after });
}

async function getMetrics(ctl: Controller, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  ctl.refreshGauges();
  const text = await ctl.metrics.registry.metrics();
  res.writeHead(200, { 'content-type': ctl.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
