/**
 * errorsPage renders docs/runtime-errors.md from RUNTIME_ERRORS (runtime/errors.ts), so the page
 * is generated, never hand-kept. test/runtime/errors.test.ts checks the page equals it; after
 * adding a code, rewrite the page with `npm run build && node dist/test/runtime/errors-page.js`.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUNTIME_ERRORS, type RuntimeErrorInfo } from '../../runtime/errors.js';

/** ERRORS_PAGE is the page's path in the repository. */
export const ERRORS_PAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'runtime-errors.md');

const TITLES: Record<RuntimeErrorInfo['where'], string> = {
  proxy: "The proxy's request path",
  bundle: 'Bundles the proxy refuses',
  source: 'Bundle sources (proxy side)',
  controller: 'The controller',
  identity: 'Identity',
  process: 'Processes',
};

/** statusCell is how the page writes a code's statuses. */
export function statusCell(s: RuntimeErrorInfo['status']): string {
  return s === 'configured' ? 'configured' : s.length === 0 ? '–' : s.join(', ');
}

/** errorsPage is the whole text of docs/runtime-errors.md. */
export function errorsPage(): string {
  const out = [
    '# Runtime error codes',
    '',
    '<!-- Generated from RUNTIME_ERRORS in runtime/errors.ts by test/runtime/errors-page.ts; test/runtime/errors.test.ts checks it. -->',
    '',
    'Every error the proxy, the controller, the bundle sources and the identity library report carries',
    'one of these stable codes (compile-time findings are diagnostics instead: docs/diagnostics.md).',
    'A proxy answers its own errors as `weft: <code>: <message>` with the code also in the',
    '`weft-error` response header (and `weft-reason` for policy refusals); the controller answers',
    '`{"error": {"code", "message"}}`; the access log, `/config`, status reports and metrics labels',
    'carry the same codes. A code never changes meaning once released.',
    '',
    'Status: the HTTP statuses the code is answered with (the usual one first); – when it is never',
    'an HTTP answer (a log line, `/config`, a status report, an exit code); *configured* when the',
    'policy sets it.',
  ];
  let where: string | null = null;
  for (const [code, info] of Object.entries(RUNTIME_ERRORS) as [string, RuntimeErrorInfo][]) {
    if (info.where !== where) {
      where = info.where;
      out.push('', `## ${TITLES[info.where]}`, '', '| code | where | status | meaning |', '|---|---|---|---|');
    }
    out.push(`| \`${code}\` | ${info.where} | ${statusCell(info.status)} | ${info.meaning.replaceAll('|', '\\|')} |`);
  }
  return out.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(ERRORS_PAGE, errorsPage());
