/** weft status: what the controller serves, its last compile, and whether every proxy caught up. */
import { request } from 'undici';
import type { Command } from '../cli.js';
import { UsageError, durationFlag, parseFlags } from '../cli.js';
import { forTerminal, jsonText } from '../../compiler/format/escape.js';
import { formatDiagnostic } from '../../runtime/controller/controller.js';
import type { StatusDocument } from '../../runtime/controller/status-document.js';
import { readStreamBounded, safeJsonError } from '../../runtime/bounded-read.js';

const help = `weft status: ask a controller what it serves and whether every proxy has it.

Usage: weft status --controller URL [--format text|json]

  --controller URL   the controller's dashboard listener (default http://127.0.0.1:15014; with
                     --insecure, the main listener works too)
  --format F         text (default) or json (the controller's /v1/status document, unchanged)
  --timeout D        give up when the whole answer has not arrived within D (default 5s)

Shows the current revision and digest, the last compile (ok, or its diagnostics), and every
proxy: service, digest, state, last contact; a proxy not on the current digest is marked stale.
Then each Service's registered instances: address, readiness, lease age, labels; and, when a
traffic generator posts to the controller (weft up does), the last seconds of traffic split by
the instance that answered.
Proxies not heard from for a while are listed as lost and do not count.

Exit codes: 0 every proxy is on the current digest, 1 some proxy is behind or rejected it,
2 usage error or the controller cannot be reached.`;

/** STATUS_MAX_BYTES bounds the status document read from the network (thousands of proxies fit). */
const STATUS_MAX_BYTES = 16 * 1024 * 1024;

export const command: Command = {
  summary: 'show the controller\'s revision, last compile and each proxy\'s digest',
  help,
  async run(argv) {
    const { values } = parseFlags('weft status', {
      args: argv,
      options: {
        controller: { type: 'string', default: 'http://127.0.0.1:15014' },
        format: { type: 'string', default: 'text' },
        timeout: { type: 'string', default: '5s' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values.controller) throw new UsageError('--controller URL is required');
    if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format: expected text or json, got "${values.format}"`);
    let url: URL;
    try {
      url = new URL('/v1/status', values.controller);
    } catch {
      throw new UsageError(`--controller: not a URL: ${values.controller}`);
    }
    const timeoutMs = durationFlag('--timeout', values.timeout);
    // Everything in the document came over the network (proxies post their own errors): its
    // strings are made terminal-safe before anything is printed.
    const started = Date.now();
    const doc = terminalSafe(await fetchStatus(url, timeoutMs));
    const failing = doc.proxies.filter((p) => !p.lost && p.behind);
    if (values.format === 'json') process.stdout.write(jsonText(doc) + '\n');
    else {
      const traffic = await fetchTraffic(new URL('/v1/traffic', values.controller), Math.max(500, timeoutMs - (Date.now() - started)));
      process.stdout.write(renderText(doc) + renderTraffic(traffic));
    }
    return failing.length > 0 ? 1 : 0;
  },
};

/**
 * fetchStatus reads GET /v1/status within `timeoutMs` (connect, headers and body together).
 * Every failure is a UsageError naming the likely cause: nothing listening, no answer in time,
 * something that is not a Weft controller, or an answer that is not a status document.
 */
/** WHERE_STATUS_IS says which listener weft status reads (added to messages that suggest the wrong one was given). */
const WHERE_STATUS_IS = "weft status reads the controller's --dashboard listener: plain http://, http://127.0.0.1:15014 by default (weft up prints its own)";

async function fetchStatus(url: URL, timeoutMs: number): Promise<StatusDocument> {
  const where = url.href;

  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await request(url, { signal, headers: { accept: 'application/json' } });
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      throw new UsageError(
        res.statusCode === 404
          ? `${where} answered 404: this is not a Weft controller (weft status reads the controller's status address, the --dashboard listener: http://127.0.0.1:15014 by default)`
          : res.statusCode === 405
            ? `${where} answered 405: this is a controller's proxy-facing listener; ${WHERE_STATUS_IS}`
            : `${where} answered HTTP ${res.statusCode}; a Weft controller answers 200`,
      );
    }
    // Bounded: whatever answers at that URL, at most STATUS_MAX_BYTES is read.
    const body = await readStreamBounded(res.body, STATUS_MAX_BYTES, 'the status document', res.headers['content-length']);
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      // A JSON syntax error would quote what the server sent: say what it is instead.
      throw new UsageError(`${where} did not answer JSON (${safeJsonError(err)}): this is not a Weft controller's status address`);
    }
    if (!isStatusDocument(doc)) throw new UsageError(`${where} answered JSON that is not a Weft status document: this is not a Weft controller`);
    return doc;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (signal.aborted) throw new UsageError(`no answer from ${where} within ${timeoutMs} ms: is this the controller's status address, and is the controller running? (--timeout waits longer)`);
    const code = (err as { code?: string }).code ?? '';
    if (code === 'ECONNREFUSED') throw new UsageError(`nothing listens at ${url.host}: is the controller running, and is this its status address?`);
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new UsageError(`cannot resolve the host of ${where}`);
    // The controller's mTLS listener presents a mesh-CA certificate no public root vouches for.
    if (url.protocol === 'https:') throw new UsageError(`cannot read ${where}: ${err instanceof Error ? err.message : String(err)} (an https:// address of a controller is its mTLS listener, which serves proxies only; ${WHERE_STATUS_IS})`);
    // A TLS listener hangs up on plaintext HTTP: most likely the controller's mTLS listener.
    if (code === 'UND_ERR_SOCKET') throw new UsageError(`${url.host} closed the connection without answering (a TLS listener, such as the controller's mTLS one?); ${WHERE_STATUS_IS}`);
    throw new UsageError(`cannot read ${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** TrafficDocument is the part of GET /v1/traffic weft status reads (samples of the demo's load generator). */
interface TrafficDocument {
  source: string | null;
  samples: { t: number; requests: number; errors: number; backends: Record<string, number> }[];
}

/**
 * fetchTraffic reads GET /v1/traffic (what a traffic generator such as `weft up` posted), or null:
 * it is optional (nothing posts outside the demo), so any failure just leaves the line out.
 */
async function fetchTraffic(url: URL, timeoutMs: number): Promise<TrafficDocument | null> {
  try {
    const res = await request(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      return null;
    }
    const doc = JSON.parse((await readStreamBounded(res.body, STATUS_MAX_BYTES, 'the traffic document', res.headers['content-length'])).toString('utf8')) as TrafficDocument;
    return Array.isArray(doc?.samples) ? doc : null;
  } catch {
    return null;
  }
}

/**
 * renderTraffic is the last seconds of posted traffic, split by the instance that answered
 * (`weft up`: which reviews instance served each request), or nothing when no recent samples.
 */
export function renderTraffic(doc: TrafficDocument | null, now = Date.now()): string {
  const recent = (doc?.samples ?? []).filter((x) => typeof x.t === 'number' && x.t >= now - 8000 && x.t < now).slice(-5);
  if (recent.length === 0) return '';
  const requests = recent.reduce((n, x) => n + x.requests, 0);
  const errors = recent.reduce((n, x) => n + x.errors, 0);
  const by: Record<string, number> = {};
  for (const x of recent) for (const [k, v] of Object.entries(x.backends ?? {})) by[forTerminal(k)] = (by[forTerminal(k)] ?? 0) + v;
  const served = Object.values(by).reduce((a, b) => a + b, 0);
  const split = Object.keys(by).sort().map((k) => `${k} ${served > 0 ? Math.round((100 * (by[k] ?? 0)) / served) : 0}%`).join('  ');
  const source = doc?.source ? `, posted by ${forTerminal(doc.source)}` : '';
  return `\ntraffic     ${(requests / recent.length).toFixed(1)} req/s, ${errors} error(s) in the last ${recent.length}s${source}${split ? `: ${split}` : ''}\n`;
}

/** isStatusDocument checks the fields weft status reads, so a foreign JSON answer is named as such. */
function isStatusDocument(v: unknown): v is StatusDocument {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return Array.isArray(d.proxies) && typeof d.repository === 'object' && d.repository !== null;
}

/** terminalSafe returns the document with every string's control characters shown escaped. */
function terminalSafe(doc: StatusDocument): StatusDocument {
  return JSON.parse(JSON.stringify(doc), (_key, value: unknown) => (typeof value === 'string' ? forTerminal(value) : value)) as StatusDocument;
}

/** renderText is the human form of a status document. */
export function renderText(doc: StatusDocument, now = Date.now()): string {
  const lines: string[] = [];
  const cur = doc.current;
  // Older controllers send no `security`; say nothing rather than guess.
  if (doc.security?.mode === 'insecure') {
    lines.push('security    INSECURE: no mesh CA (--insecure): anyone who can reach the controller can fetch bundles, report status and register');
  } else if (doc.security?.mode === 'mtls') {
    lines.push(`security    mTLS, trust domain ${doc.security.trustDomain ?? '?'}; certificates live ${doc.security.certTtlSeconds ?? '?'}s`);
  }
  lines.push(`repository  ${doc.repository.url}  branch ${doc.repository.branch}${doc.repository.path ? `  path ${doc.repository.path}` : ''}`);
  if (doc.repository.error) lines.push(`            error: ${doc.repository.error.code}: ${doc.repository.error.message}`);
  if (cur) {
    const c = cur.commit;
    lines.push(`revision    ${c ? `${c.commit.slice(0, 12)} "${c.message}" by ${c.author}` : '(unknown)'}`);
    lines.push(`digest      ${cur.digest}  ${cur.signedBy ? `signed by ${cur.signedBy}` : 'unsigned'}`);
  } else {
    lines.push('revision    (no bundle yet)');
  }
  const lc = doc.lastCompile;
  if (!lc) lines.push('compile     (none yet)');
  else if (lc.ok) lines.push(`compile     ok  ${lc.commit.commit.slice(0, 12)}  ${lc.durationMs} ms, ${lc.warnings} warning(s)`);
  else {
    lines.push(`compile     FAILED  ${lc.commit.commit.slice(0, 12)} "${lc.commit.message}": ${lc.errors} error(s); the previous bundle stays live`);
    for (const d of lc.diagnostics.filter((x) => x.severity === 'error').slice(0, 20)) lines.push(`              ${formatDiagnostic(d)}`);
  }
  const live = doc.proxies.filter((p) => !p.lost);
  const stale = live.filter((p) => p.behind);
  lines.push(`proxies     ${live.length} live, ${live.length - stale.length} current, ${stale.length} stale${doc.proxies.length > live.length ? `, ${doc.proxies.length - live.length} lost` : ''}`);
  if (doc.proxies.length > 0) {
    const rows = [['SERVICE', 'PROXY', 'DIGEST', 'STATE', 'LAST CONTACT', '']];
    for (const p of doc.proxies) {
      const ago = Math.max(0, Math.round((now - Date.parse(p.lastContact)) / 1000));
      const mark = p.lost ? 'lost' : p.behind ? (p.state === 'rejected' ? `stale: rejected: ${p.error ?? ''}` : 'stale') : '';
      rows.push([p.service, p.proxy, p.digest ? p.digest.slice(0, 19) : '-', p.state, `${ago}s ago`, mark]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
    lines.push('');
    for (const r of rows) lines.push(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
  }
  lines.push(...renderInstances(doc));
  return lines.join('\n') + '\n';
}

/** renderInstances lists registered instances per Service (docs/discovery.md); nothing when none. */
function renderInstances(doc: StatusDocument): string[] {
  const disc = doc.discovery;
  if (!disc) return [];
  const total = disc.services.reduce((n, s) => n + s.instances.length, 0);
  const ready = disc.services.reduce((n, s) => n + s.ready, 0);
  const lines = ['', `instances   ${total} registered, ${ready} ready  (lease ${disc.leaseMs / 1000}s${disc.warming ? '; WARMING after a restart: sets incomplete for one lease' : ''})`];
  if (total === 0) return lines;
  const rows = [['SERVICE', 'ADDRESS', 'READY', 'LEASE AGE', 'LABELS', 'INSTANCE']];
  for (const s of disc.services) {
    for (const i of s.instances) {
      const addr = i.address.includes(':') ? `[${i.address}]:${i.port}` : `${i.address}:${i.port}`;
      const labels = Object.entries(i.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-';
      rows.push([s.service, addr, i.ready ? 'yes' : 'NO', `${(i.leaseAgeMs / 1000).toFixed(1)}s`, labels, i.instance]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  lines.push('');
  for (const r of rows) lines.push(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
  return lines;
}
