/**
 * weft test: run every RouteTest case against the compiled bundle with the proxy's own router
 * and policies (runtime/testing). Exit 0 when every case passes, 1 when a case fails or the
 * policies do not compile, 2 for usage or internal errors.
 */
import type { Command } from '../cli.js';
import { forTerminalLines } from '../../compiler/format/escape.js';
import { UsageError, parseFlags } from '../cli.js';
import { compile } from '../../compiler/compile.js';
import { render, shownPrefix, sourcesFor, throwArgumentErrors } from '../diagnostics-output.js';
import { runRouteTests, type TestRun } from '../../runtime/testing/route-tests.js';

const HELP = `weft test [DIR] [--rev REV] [--format text|json]

Runs every RouteTest case in DIR against the compiled bundle, with the same router and
policies the proxies run. A case sends one request (method, url, headers, from: the calling
Service) and checks what the mesh does with it: backend, backends (weight shares in percent,
±0.5), status (404, 403, 500, 503, a redirect's status, 200 = delivered; 429 = the request is
subject to a rate limit: burst+1 identical requests at one instant are refused), redirect
{status, location}, path (path and query the backend receives) and headers (request headers
the backend receives).

Options:
  --rev REV        test the policies of a git revision (read from git; the working tree is untouched)
  --format F       text (default): one line per failing case, then "N passed, N failed";
                   json: {passed, failed, results, diagnostics}

Exit codes: 0 every case passed; 1 a case failed, or the policies do not compile; 2 usage or
internal error.`;

function textReport(run: TestRun): string {
  const lines: string[] = [];
  for (const r of run.results) {
    if (r.passed) continue;
    lines.push(`${r.file}:${r.line}:${r.column}: FAIL ${r.test} "${r.name}": ${r.failures.join('; ')}`);
  }
  lines.push(`${run.passed} passed, ${run.failed} failed`);
  return lines.join('\n') + '\n';
}

export const command: Command = {
  summary: 'run the RouteTest cases against the compiled bundle with the proxy\'s router',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseFlags('weft test', {
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { rev: { type: 'string' }, format: { type: 'string', default: 'text' } },
    });
    if (positionals.length > 1) throw new UsageError(`test takes one directory, got ${positionals.length}`);
    const format = values.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`unknown --format "${format}" (text or json)`);
    const dir = positionals[0] ?? '.';
    const result = await compile(values.rev === undefined ? { dir } : { dir, rev: values.rev });
    throwArgumentErrors(result.diagnostics, values.rev !== undefined ? '--rev' : null, dir);
    if (result.diagnostics.some((d) => d.code === 'WFT901')) {
      process.stderr.write(render('text', result.diagnostics.filter((d) => d.code === 'WFT901'), dir, new Map(), false));
      return 2;
    }
    if (!result.bundle) {
      if (format === 'json') {
        process.stdout.write(JSON.stringify({ passed: 0, failed: 0, results: [], diagnostics: result.diagnostics }, null, 2) + '\n');
      } else {
        process.stdout.write(render('text', result.diagnostics, dir, await sourcesFor(result.diagnostics, dir, values.rev), process.stdout.isTTY === true));
        process.stdout.write('the policies do not compile: no case was run\n');
      }
      return 1;
    }
    // Case files are relative to DIR; shown relative to where the command runs, so editors and
    // GitHub can open them.
    const run = runRouteTests(result.bundle, result.resources);
    for (const r of run.results) r.file = shownPrefix(dir) + r.file;
    if (format === 'json') {
      process.stdout.write(JSON.stringify({ passed: run.passed, failed: run.failed, results: run.results, diagnostics: result.diagnostics }, null, 2) + '\n');
    } else {
      if (run.results.length === 0) process.stderr.write('weft: no RouteTest cases found\n');
      process.stdout.write(forTerminalLines(textReport(run)));
    }
    return run.failed > 0 ? 1 : 0;
  },
};
