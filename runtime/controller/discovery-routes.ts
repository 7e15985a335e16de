import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Controller } from './controller.js';
import { ControllerError, messageOf } from './errors.js';
import { parseEtags, parsePreferWait, readBody, sendError, sendJson } from './http.js';
import type { Handler } from './handler.js';
import type { Registrant } from '../discovery/registry.js';
import type { Bundle } from '../../schemas/bundle.js';
import { reachOf, type Reach } from '../../schemas/reachable.js';
import { MAX_SERVICES_PER_POLL, type EndpointsResponse, type EndpointSet, type RegistrationResponse } from '../discovery/protocol.js';

/** REGISTRATION_BODY_LIMIT bounds PUT/DELETE /v1/endpoints/self. */
export const REGISTRATION_BODY_LIMIT = 16 * 1024;
const MAX_LABELS = 64;

/** DISCOVERY_ROUTES is the controller's discovery surface (docs/discovery.md). */
export const DISCOVERY_ROUTES: readonly (readonly [string, Handler])[] = [
  ['GET /v1/endpoints', getEndpoints],
  ['PUT /v1/endpoints/self', putSelf],
  ['DELETE /v1/endpoints/self', deleteSelf],
];

/**
 * registrantOf is who is registering. With identity on, the Service named by the verified client
 * certificate, whatever the body says (nobody registers as another Service); in `--insecure`
 * mode, the `service`/`namespace` of the body, as every other insecure route trusts the request.
 */
function registrantOf(ctl: Controller, req: IncomingMessage, body: Record<string, unknown>): Registrant | string {
  if (ctl.peerIdentity) {
    const id = ctl.peerIdentity(req);
    return id ?? 'a client certificate naming a Service is required';
  }
  const service = body.service;
  const namespace = body.namespace ?? 'default';
  if (typeof service !== 'string' || !NAME.test(service) || typeof namespace !== 'string' || !NAME.test(namespace)) {
    return 'expected "service" (and optionally "namespace") naming the registering Service';
  }
  return { service, namespace };
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** An IPv4/IPv6 literal or a DNS name: what a caller can connect to, nothing else. */
const ADDRESS = /^(?:[0-9a-fA-F:.]{2,45}|[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?)$/;

async function readJson(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | null> {
  let value: unknown;
  try {
    value = JSON.parse((await readBody(req, REGISTRATION_BODY_LIMIT)).toString('utf8'));
  } catch (err) {
    sendError(res, err instanceof ControllerError ? 413 : 400, 'WEFT_CTL_BAD_REQUEST', messageOf(err));
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', 'expected a JSON object');
    return null;
  }
  return value as Record<string, unknown>;
}

function addressOf(body: Record<string, unknown>): { address: string; port: number } | string {
  const { address, port } = body;
  if (typeof address !== 'string' || !ADDRESS.test(address)) return 'expected "address": an IP address or a DNS name';
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return 'expected "port": 1..65535';
  return { address, port };
}

/**
 * PUT /v1/endpoints/self ← {instance, address, port, labels, ready}: registers the caller's
 * instance or renews its lease; answers the lease it holds.
 */
async function putSelf(ctl: Controller, req: IncomingMessage, res: ServerResponse): Promise<void> {
  ctl.discovery.catalog.touch();
  const body = await readJson(req, res);
  if (!body) return;
  const who = registrantOf(ctl, req, body);
  if (typeof who === 'string') {
    sendError(res, ctl.peerIdentity ? 403 : 400, ctl.peerIdentity ? 'WEFT_CTL_FORBIDDEN' : 'WEFT_CTL_BAD_REQUEST', who);
    return;
  }
  const at = addressOf(body);
  const labels = body.labels ?? {};
  const problem =
    typeof at === 'string' ? at
    : typeof body.ready !== 'boolean' ? 'expected "ready": true|false'
    : typeof body.instance !== 'string' || body.instance === '' || body.instance.length > 256 ? 'expected "instance": the proxy id'
    : !validLabels(labels) ? `expected "labels": at most ${MAX_LABELS} string values`
    : null;
  if (problem !== null || typeof at === 'string') {
    sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', problem ?? 'bad registration');
    return;
  }
  const r = ctl.discovery.registry.register(who, {
    address: at.address,
    port: at.port,
    labels: labels as Record<string, string>,
    ready: body.ready as boolean,
    instance: body.instance as string,
  });
  if (!r.ok) {
    sendError(res, 429, 'WEFT_CTL_TOO_MANY', r.reason, { 'retry-after': '5' });
    return;
  }
  ctl.metrics.registrations.inc({ result: r.changed ? 'changed' : 'renewed' });
  const answer: RegistrationResponse = { service: `${who.namespace}/${who.service}`, leaseMs: ctl.discovery.leaseMs, heartbeatMs: ctl.discovery.heartbeatMs };
  sendJson(res, 200, answer);
}

/** DELETE /v1/endpoints/self ← {address, port}: ends the caller's lease now (204; 404 when none). */
async function deleteSelf(ctl: Controller, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJson(req, res);
  if (!body) return;
  const who = registrantOf(ctl, req, body);
  if (typeof who === 'string') {
    sendError(res, ctl.peerIdentity ? 403 : 400, ctl.peerIdentity ? 'WEFT_CTL_FORBIDDEN' : 'WEFT_CTL_BAD_REQUEST', who);
    return;
  }
  const at = addressOf(body);
  if (typeof at === 'string') {
    sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', at);
    return;
  }
  if (!ctl.discovery.registry.deregister(who, at.address, at.port)) {
    sendError(res, 404, 'WEFT_CTL_NOT_FOUND', `no registration of ${who.namespace}/${who.service} at ${at.address}:${at.port}`);
    return;
  }
  ctl.metrics.registrations.inc({ result: 'deregistered' });
  res.writeHead(204);
  res.end();
}

function validLabels(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const entries = Object.entries(v);
  return entries.length <= MAX_LABELS && entries.every(([k, x]) => k.length <= 253 && typeof x === 'string' && x.length <= 256);
}

/** serviceParam reads one `service=` value: `namespace/name`, or `name` (namespace default). */
function serviceParam(v: string): string | null {
  const [a, b, extra] = v.split('/');
  if (extra !== undefined || a === undefined) return null;
  const [ns, name] = b === undefined ? ['default', a] : [a, b];
  return NAME.test(ns) && NAME.test(name) ? `${ns}/${name}` : null;
}

/** Reach per caller, per bundle (a new bundle drops them with it). */
const reachCache = new WeakMap<Bundle, Map<string, Reach>>();

/**
 * mayRead checks that the verified caller may read the endpoint sets of `services`: the Services
 * its proxies reach in the current bundle (schemas/reachable.ts: its egress scope and the
 * backends its routes there forward to; what its slice holds), as Istio's `Sidecar` egress hosts
 * bound what a sidecar is sent. Otherwise one 403 naming what is out of reach (a proxy asks only
 * for what it reaches, so this is an attacker, or a proxy whose bundle is about to be replaced
 * and retries), or 503 before the first bundle. False when it has answered.
 */
function mayRead(ctl: Controller, req: IncomingMessage, res: ServerResponse, services: ReadonlySet<string>): boolean {
  const who = ctl.peerIdentity?.(req);
  if (!who) {
    sendError(res, 403, 'WEFT_CTL_FORBIDDEN', 'a client certificate naming a Service is required');
    return false;
  }
  const bundle = ctl.current?.bundle;
  if (!bundle) {
    sendError(res, 503, 'WEFT_CTL_NOT_READY', 'no bundle yet', { 'retry-after': '1' });
    return false;
  }
  const caller = `${who.namespace}/${who.service}`;
  let byCaller = reachCache.get(bundle);
  if (!byCaller) reachCache.set(bundle, (byCaller = new Map()));
  let reach = byCaller.get(caller);
  if (!reach) byCaller.set(caller, (reach = reachOf(bundle.spec, caller)));
  const outside = [...services].filter((id) => !reach.ids.has(id));
  if (outside.length === 0) return true;
  const shown = outside.slice(0, 5).join(', ') + (outside.length > 5 ? ` and ${outside.length - 5} more` : '');
  sendError(res, 403, 'WEFT_CTL_FORBIDDEN', `${caller} does not reach ${shown} (egress scope, docs/discovery.md)`);
  return false;
}

/**
 * GET /v1/endpoints?service=NS/NAME[&service=…]: the full EndpointSet of every named Service whose
 * version is not among If-None-Match. When all are current and `Prefer: wait=N` is given, the
 * request is held until one of them changes (200 with just the changed sets) or N seconds pass
 * (304). With one Service the response's ETag is its version, exactly like /v1/bundle.
 */
function getEndpoints(ctl: Controller, req: IncomingMessage, res: ServerResponse, url: URL): void {
  ctl.discovery.catalog.touch();
  const raw = url.searchParams.getAll('service').flatMap((s) => s.split(',')).filter((s) => s !== '');
  if (raw.length === 0 || raw.length > MAX_SERVICES_PER_POLL) {
    sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', `name 1..${MAX_SERVICES_PER_POLL} Services: ?service=NAMESPACE/NAME`);
    return;
  }
  const services = new Set<string>();
  for (const r of raw) {
    const id = serviceParam(r);
    if (id === null) {
      sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', `service "${r.slice(0, 100)}" is not NAMESPACE/NAME`);
      return;
    }
    services.add(id);
  }
  if (ctl.peerIdentity && !mayRead(ctl, req, res, services)) return;
  const inm = req.headers['if-none-match'];
  const etags = new Set(parseEtags(Array.isArray(inm) ? inm.join(',') : inm));
  const catalog = ctl.discovery.catalog;
  const changed = (): EndpointSet[] => [...services].map((id) => catalog.set(id)).filter((s) => !etags.has(s.version));
  const answer = (sets: EndpointSet[]): void => {
    const single = services.size === 1 ? sets[0] : undefined;
    const doc: EndpointsResponse = { sets };
    const body = JSON.stringify(doc);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-cache',
      ...(single ? { etag: `"${single.version}"` } : {}),
    });
    res.end(body);
  };
  const notModified = (): void => {
    const only = services.size === 1 ? catalog.set([...services][0]!) : undefined;
    res.writeHead(304, { 'cache-control': 'no-cache', ...(only ? { etag: `"${only.version}"` } : {}) });
    res.end();
  };
  const now = changed();
  if (now.length > 0) return answer(now);
  const waitS = Math.min(parsePreferWait(String(req.headers.prefer ?? '')), Math.floor(ctl.maxWaitMs / 1000));
  if (waitS <= 0) return notModified();
  const drop = catalog.hub.hold(
    {
      value: { services },
      settle: (how) => {
        if (how === 'closed' || res.writableEnded) return;
        const sets = changed();
        if (sets.length > 0) answer(sets);
        else notModified();
      },
    },
    waitS * 1000,
  );
  res.setHeader('preference-applied', `wait=${waitS}`);
  res.on('close', drop);
}
