import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Controller } from './controller.js';
import { ControllerError, messageOf } from './errors.js';
import { SliceCache } from './slices.js';
import { parseEtags, parsePreferWait, readBody, sendError, sendJson } from './http.js';
import { createHash } from 'node:crypto';
import { parsePushEvent, verifyHubSignature } from './webhook.js';
import { DASHBOARD_ROUTES } from './dashboard/routes.js';
import { DISCOVERY_ROUTES } from './discovery-routes.js';
import type { Handler } from './handler.js';
import { postCertificates } from './certificate-routes.js';
import type { PeerTag } from './fleet.js';
import { IdentityError } from '../identity/errors.js';
import type { VerifiedLeaf } from '../identity/verify-leaf.js';
import { authenticatePeer } from './peer-identity.js';


const healthz: Handler = (_ctl, _req, res) => sendText(res, 200, 'ok\n');
const readyz: Handler = (ctl, _req, res) => (ctl.current ? sendText(res, 200, 'ready\n') : sendText(res, 503, 'no bundle yet\n'));
const getStatus: Handler = (ctl, _req, res) => sendJson(res, 200, ctl.status());

/**
 * ROUTES is the controller's whole HTTP surface, `METHOD /path` → handler: what the main
 * listener serves in --insecure mode (plain HTTP, every request trusted, as before identity).
 * Anything else is 404 (or 405 for a known path).
 */
export const ROUTES: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['GET /v1/bundle', getBundle],
  ['POST /v1/status', postStatus],
  ['GET /v1/status', getStatus],
  ['POST /v1/certificates', postCertificates],
  ['POST /v1/hooks/git', postGitHook],
  ['GET /metrics', getMetrics],
  ['GET /healthz', healthz],
  ['GET /readyz', readyz],
  ...DASHBOARD_ROUTES,
  ...DISCOVERY_ROUTES,
]);

/**
 * MTLS_ROUTES is the main listener with --ca-dir (TLS): only what proxies and the git host call.
 * Proxy-facing routes check the client certificate themselves (requirePeer); certificates
 * bootstrap with a token; the webhook is HMAC-checked. People and tools read the dashboard
 * listener instead (DASHBOARD_LISTENER_ROUTES).
 */
export const MTLS_ROUTES: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['GET /v1/bundle', getBundle],
  ['POST /v1/status', postStatus],
  ['POST /v1/certificates', postCertificates],
  ['POST /v1/hooks/git', postGitHook],
  ['GET /healthz', healthz],
  ['GET /readyz', readyz],
  ...DASHBOARD_ROUTES.filter(([k]) => k.startsWith('POST ')).map(([k, h]): [string, Handler] => [k, withPeer(h)]),
  // Endpoint leases and the endpoint stream are proxy-facing: a valid client certificate first.
  ...DISCOVERY_ROUTES.map(([k, h]): [string, Handler] => [k, withPeer(h)]),
]);

/**
 * DASHBOARD_LISTENER_ROUTES is `--dashboard ADDR`: plain HTTP, read-only (every route a GET, none
 * proxy-facing): the dashboard page, /v1/status (what `weft status` reads), /metrics, /healthz.
 */
export const DASHBOARD_LISTENER_ROUTES: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['GET /v1/status', getStatus],
  ['GET /metrics', getMetrics],
  ['GET /healthz', healthz],
  ['GET /readyz', readyz],
  ...DASHBOARD_ROUTES.filter(([k]) => k.startsWith('GET ')),
]);

/**
 * requirePeer authenticates a proxy-facing request. In --insecure mode it returns null (nothing
 * to check: the request is trusted, as the mode says); with a CA, the verified client
 * certificate, or it answers 401/403 itself and returns false.
 */
export function requirePeer(ctl: Controller, req: IncomingMessage, res: ServerResponse): VerifiedLeaf | null | false {
  if (!ctl.issuer) return null;
  try {
    const peer = authenticatePeer(req);
    if (!peer.workload) throw new IdentityError('WEFT_ID_CERT_SAN', `${peer.id.uri} is not a workload identity (/ns/<namespace>/sa/<service>)`);
    return peer;
  } catch (err) {
    const e = err instanceof IdentityError ? err : new IdentityError('WEFT_ID_CERT', messageOf(err));
    ctl.metrics.authFailures.inc({ code: e.code });
    // The connection is closed after the answer: a client that sent a body we did not read cannot reuse it.
    sendError(res, e.status, e.code, e.message, { connection: 'close' });
    return false;
  }
}

/** withPeer wraps a handler so it runs only for an authenticated peer (in mTLS mode). */
function withPeer(h: Handler): Handler {
  return (ctl, req, res, url) => (requirePeer(ctl, req, res) === false ? undefined : h(ctl, req, res, url));
}

/** peerTag is what the fleet records of a verified peer. */
function peerTag(peer: VerifiedLeaf | null): PeerTag | null {
  return peer ? { uri: peer.id.uri, notAfter: peer.notAfter } : null;
}

/**
 * ownService checks that `claimed` (a `service` parameter or field: `name` in namespace default,
 * `namespace/name`, `name.namespace`, or empty) names the peer's own Service; when it does, the
 * Service as `namespace/name` (the form slices are served by).
 */
function ownService(peer: VerifiedLeaf, claimed: string): string | null {
  const w = peer.workload!;
  const full = `${w.namespace}/${w.service}`;
  const ok = claimed === '' || claimed === full || claimed === `${w.service}.${w.namespace}` || (claimed === w.service && w.namespace === 'default');
  return ok ? full : null;
}

/**
 * STATUS_BODY_LIMIT bounds POST /v1/status; WEBHOOK_BODY_LIMIT bounds push events: the controller
 * reads only `ref`, and GitHub lists at most 20 commits in a push payload, so 1 MiB is ample (a
 * larger event is refused with 413, and the next poll fetches the push anyway).
 */
export const STATUS_BODY_LIMIT = 64 * 1024;
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;
/** DELIVERIES_KEPT bounds the memory of webhook deliveries already acted on. */
export const DELIVERIES_KEPT = 1024;

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
  const peer = requirePeer(ctl, req, res);
  if (peer === false) return;
  const proxy = (url.searchParams.get('proxy') ?? '').slice(0, 256);
  let service = bundleService(url);
  if (peer) {
    // With identity on, a proxy gets its own Service's bundle (slice) only: the certificate says which.
    const own = ownService(peer, service);
    if (own === null) {
      ctl.metrics.authFailures.inc({ code: 'WEFT_CTL_FORBIDDEN' });
      sendError(res, 403, 'WEFT_CTL_FORBIDDEN', `${peer.id.uri} may fetch its own Service's bundle, not "${service}"`);
      return;
    }
    service = own;
  }
  const tag = peerTag(peer);
  const inm = req.headers['if-none-match'];
  const etags = parseEtags(Array.isArray(inm) ? inm.join(',') : inm);
  const waitS = Math.min(parsePreferWait(String(req.headers.prefer ?? '')), Math.floor(ctl.maxWaitMs / 1000));
  if (proxy) ctl.fleet.seen(proxy, service, etags[0] ?? null, Date.now(), tag);
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
        if (proxy) ctl.fleet.seen(proxy, service, etags[0] ?? null, Date.now(), tag);
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

/**
 * POST /v1/status ← {proxy, service, digest, state: active|rejected, error}. With identity on, the
 * caller must present a certificate, and may report only for its own Service (403 otherwise);
 * its row in the proxy table is keyed by its identity, so it cannot overwrite another's.
 */
async function postStatus(ctl: Controller, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const peer = requirePeer(ctl, req, res);
  if (peer === false) return;
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
  let service = str(r.service, 256) ?? '';
  if (peer) {
    const own = ownService(peer, service);
    if (own === null) {
      ctl.metrics.authFailures.inc({ code: 'WEFT_CTL_FORBIDDEN' });
      sendError(res, 403, 'WEFT_CTL_FORBIDDEN', `${peer.id.uri} may report status only for its own Service, not "${service}"`);
      return;
    }
    service = own;
  }
  const recorded = ctl.fleet.report(
    { proxy: r.proxy.slice(0, 256), service, digest: str(r.digest, 100), state: r.state, error: str(r.error, 4096) },
    Date.now(),
    peerTag(peer),
  );
  if (!recorded) {
    sendError(res, 429, 'WEFT_CTL_FLEET_FULL', `the proxy table holds ${ctl.fleet.size} proxies, its limit; this one is served but not listed`);
    return;
  }
  res.writeHead(204);
  res.end();
}

/**
 * POST /v1/hooks/git: a GitHub push event; a push to the watched branch triggers a fetch at once.
 * With a secret (required unless --insecure), a request without X-Hub-Signature-256 is refused
 * before its body is read, the body is bounded (WEBHOOK_BODY_LIMIT), the HMAC must match (401
 * otherwise, and nothing happens), and a delivery already acted on is ignored: by its
 * X-GitHub-Delivery id, and by its body (the signature does not cover the delivery header, so a
 * replayed body with a new id is caught by its digest).
 */
async function postGitHook(ctl: Controller, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const secret = ctl.webhookSecret;
  const sigHeader = req.headers['x-hub-signature-256'];
  const sig = Array.isArray(sigHeader) ? sigHeader[0] : sigHeader;
  if (secret === undefined && ctl.issuer) {
    ctl.metrics.webhooks.inc({ result: 'unauthorized' });
    sendError(res, 401, 'WEFT_CTL_WEBHOOK_SIGNATURE', 'the webhook is off: start the controller with --webhook-secret', { connection: 'close' });
    return;
  }
  if (secret !== undefined && !sig) {
    ctl.metrics.webhooks.inc({ result: 'unauthorized' });
    sendError(res, 401, 'WEFT_CTL_WEBHOOK_SIGNATURE', 'missing X-Hub-Signature-256', { connection: 'close' });
    return;
  }
  let body: Buffer;
  try {
    body = await readBody(req, WEBHOOK_BODY_LIMIT);
  } catch (err) {
    ctl.metrics.webhooks.inc({ result: 'bad_request' });
    sendError(res, 413, 'WEFT_CTL_BAD_REQUEST', messageOf(err));
    return;
  }
  if (secret !== undefined) {
    if (!verifyHubSignature(secret, body, sig)) {
      ctl.metrics.webhooks.inc({ result: 'unauthorized' });
      sendError(res, 401, 'WEFT_CTL_WEBHOOK_SIGNATURE', 'wrong X-Hub-Signature-256');
      return;
    }
    // Remembered only once signed, so nobody can pre-empt a real delivery by sending its id first.
    const delivery = String(req.headers['x-github-delivery'] ?? '').slice(0, 128);
    const bodyKey = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if ((delivery && ctl.deliveries.has(`id:${delivery}`)) || ctl.deliveries.has(bodyKey)) {
      ctl.metrics.webhooks.inc({ result: 'replayed' });
      sendJson(res, 200, { accepted: false, reason: 'delivery already received' });
      return;
    }
    for (const k of [delivery ? `id:${delivery}` : null, bodyKey]) if (k) ctl.deliveries.add(k);
    while (ctl.deliveries.size > DELIVERIES_KEPT) ctl.deliveries.delete(ctl.deliveries.values().next().value!);
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
