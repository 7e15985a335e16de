/**
 * What the demo shows about the mesh: each proxy's active digest (read from its admin `/config`,
 * the proxy's own word rather than what it last told the controller) and the controller's
 * `/v1/status` (current revision, last compile and its diagnostics).
 */
import { request } from 'undici';

/** ProxyView is one proxy as the terminal view shows it. */
export interface ProxyView {
  name: string;
  /** Active digest, null when the proxy has none yet or did not answer. */
  digest: string | null;
  /** The admin listener answered. */
  up: boolean;
  /** Why the last bundle was rejected, if it was. */
  lastRejection: string | null;
}

/** CompileView is the controller's last compile, reduced to what the terminal shows. */
export interface CompileView {
  commit: string;
  message: string;
  ok: boolean;
  /** `file:line code message` of the first error, when not ok. */
  firstError: string | null;
  errors: number;
}

/** ControllerView is the part of `/v1/status` the terminal shows. */
export interface ControllerView {
  up: boolean;
  digest: string | null;
  commit: string | null;
  lastCompile: CompileView | null;
  /**
   * Digests proxies hold that the controller counts as current (not behind, active, not lost).
   * Each proxy gets its Service's slice, whose digest is not the full bundle's, so a proxy is
   * current when its digest is one of these, not when it equals `digest`.
   */
  currentDigests?: ReadonlySet<string>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** getJson fetches a JSON document with a short timeout; null when anything goes wrong. */
export async function getJson(url: string, timeoutMs = 2000): Promise<unknown> {
  try {
    const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const text = await res.body.text();
    if (res.statusCode >= 500) return null;
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** digestOf finds the active digest in a proxy's `/config` (tolerant of how it nests it). */
export function digestOf(config: unknown): string | null {
  if (!isRecord(config)) return null;
  for (const key of ['digest', 'activeDigest']) if (str(config[key])) return str(config[key]);
  for (const key of ['active', 'bundle', 'current']) {
    const inner = config[key];
    if (isRecord(inner) && str(inner.digest)) return str(inner.digest);
  }
  return null;
}

function rejectionOf(config: unknown): string | null {
  if (!isRecord(config)) return null;
  const r = config.lastRejection ?? config.rejection;
  if (typeof r === 'string') return r;
  if (isRecord(r)) {
    const code = str(r.code);
    const reason = str(r.reason) ?? str(r.message) ?? str(r.error);
    return [code, reason].filter((x) => x !== null).join(': ') || null;
  }
  return null;
}

/** readProxy reads one proxy's admin `/config`. */
export async function readProxy(name: string, admin: string): Promise<ProxyView> {
  const config = await getJson(`http://${admin}/config`);
  return { name, digest: digestOf(config), up: config !== null, lastRejection: rejectionOf(config) };
}

/**
 * readyEndpointsOf reads a proxy's `/config` and returns, per Service id it follows, how many
 * registered instances it would route to now (ready ones); an empty map when it did not answer.
 */
export async function readyEndpointsOf(admin: string): Promise<Map<string, number>> {
  const config = await getJson(`http://${admin}/config`);
  const out = new Map<string, number>();
  const sets = isRecord(config) && isRecord(config.endpoints) ? config.endpoints : {};
  for (const [id, set] of Object.entries(sets)) {
    const eps = isRecord(set) && Array.isArray(set.endpoints) ? set.endpoints.filter(isRecord) : [];
    out.set(id, eps.filter((e) => e.ready === true).length);
  }
  return out;
}

/** readController reads `/v1/status` of the controller at `base` (`http://host:port`). */
export async function readController(base: string): Promise<ControllerView> {
  const doc = await getJson(`${base}/v1/status`);
  if (!isRecord(doc)) return { up: false, digest: null, commit: null, lastCompile: null };
  const current = isRecord(doc.current) ? doc.current : null;
  const currentCommit = current && isRecord(current.commit) ? str(current.commit.commit) : null;
  let lastCompile: CompileView | null = null;
  const lc = doc.lastCompile;
  if (isRecord(lc) && isRecord(lc.commit)) {
    const diags = Array.isArray(lc.diagnostics) ? lc.diagnostics.filter(isRecord) : [];
    const first = diags.find((d) => d.severity === 'error');
    lastCompile = {
      commit: str(lc.commit.commit) ?? '',
      message: str(lc.commit.message) ?? '',
      ok: lc.ok === true,
      errors: typeof lc.errors === 'number' ? lc.errors : diags.filter((d) => d.severity === 'error').length,
      firstError: first ? `${str(first.file) ?? '(repository)'}:${typeof first.line === 'number' ? first.line : 0} ${str(first.code) ?? ''} ${str(first.message) ?? ''}` : null,
    };
  }
  const currentDigests = new Set<string>();
  for (const p of Array.isArray(doc.proxies) ? doc.proxies.filter(isRecord) : []) {
    const d = str(p.digest);
    if (d !== null && p.behind === false && p.lost !== true && p.state === 'active') currentDigests.add(d);
  }
  return { up: true, digest: current ? str(current.digest) : null, commit: currentCommit, lastCompile, currentDigests };
}

/** waitFor polls `check` every `everyMs` until it resolves true or `timeoutMs` passes. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
