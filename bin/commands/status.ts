/** weft status: what the controller serves, its last compile, and whether every proxy caught up. */
import { request } from 'undici';
import type { Command } from '../cli.js';
import { UsageError, parseFlags } from '../cli.js';
import { formatDiagnostic } from '../../runtime/controller/controller.js';
import type { StatusDocument } from '../../runtime/controller/status-document.js';
import { readStreamBounded, safeJsonError } from '../../runtime/bounded-read.js';

const help = `weft status: ask a controller what it serves and whether every proxy has it.

Usage: weft status --controller URL [--format text|json]

  --controller URL   the controller (e.g. http://127.0.0.1:15010)
  --format F         text (default) or json (the controller's /v1/status document, unchanged)

Shows the current revision and digest, the last compile (ok, or its diagnostics), and every
proxy: service, digest, state, last contact; a proxy not on the current digest is marked stale.
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
        controller: { type: 'string' },
        format: { type: 'string', default: 'text' },
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
    let doc: StatusDocument;
    try {
      const res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`HTTP ${res.statusCode}`);
      }
      // Bounded: whatever answers at that URL, at most STATUS_MAX_BYTES is read.
      doc = JSON.parse((await readStreamBounded(res.body, STATUS_MAX_BYTES, 'the status document', res.headers['content-length'])).toString('utf8')) as StatusDocument;
    } catch (err) {
      // A JSON syntax error would quote what the server sent: say what it is instead.
      const why = err instanceof SyntaxError ? `the answer is not JSON (${safeJsonError(err)}); is this a Weft controller?` : err instanceof Error ? err.message : String(err);
      throw new UsageError(`cannot read ${url.href}: ${why}`);
    }
    const failing = doc.proxies.filter((p) => !p.lost && p.behind);
    if (values.format === 'json') process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    else process.stdout.write(renderText(doc));
    return failing.length > 0 ? 1 : 0;
  },
};

/** renderText is the human form of a status document. */
export function renderText(doc: StatusDocument, now = Date.now()): string {
  const lines: string[] = [];
  const cur = doc.current;
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
  return lines.join('\n') + '\n';
}
