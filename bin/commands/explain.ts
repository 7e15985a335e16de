/**
 * weft explain: follow one request through the compiled mesh with the proxy's own router and
 * policies, and say why it goes where it goes (runtime/testing/explain.ts).
 */
import { statSync } from 'node:fs';
import type { Command } from '../cli.js';
import { forTerminalLines } from '../../compiler/format/escape.js';
import { UsageError, parseFlags } from '../cli.js';
import { compile } from '../../compiler/compile.js';
import { callerId } from '../../compiler/resolve.js';
import { buildRouter } from '../../runtime/router/index.js';
import { explainRequest, formatExplainText } from '../../runtime/testing/explain.js';
import { render, shownPrefix, throwArgumentErrors } from '../diagnostics-output.js';

const HELP = `weft explain [DIR] [--from SERVICE] METHOD URL [-H 'Name: value']... [--rev REV] [--format text|json]

Follows one request through the compiled policies of DIR with the router and policies the
proxies run: which Service answers the host, which route, rule and match were chosen (file:line)
and why (the precedence step that beat every other match that also matched), the matches tried
first and why each did not match, the backends and their weight shares, the filters that run
and the request as each backend receives it, and the receiving side's authorization and rate
limit decisions. A request that matches nothing lists every route considered and why.

Arguments:
  METHOD                 GET, POST, ...
  URL                    http://reviews/api/x?y=1 (the host names the Service), or /path with -H 'Host: reviews'
Options:
  --from SERVICE         the calling Service (name in namespace default, or namespace/name);
                         without it the caller has no mesh identity
  -H, --header 'N: v'    a request header (repeatable)
  --rev REV              explain the policies of a git revision (the working tree is untouched)
  --format F             text (default) or json

Exit codes: 0 explained (whatever the outcome); 1 the policies do not compile; 2 usage or
internal error.`;

const METHOD = /^[A-Za-z]{1,20}$/;
const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
/** methodLike: a standard method in any case, or an upper-case token (extension methods are written so). */
const methodLike = (word: string): boolean => STANDARD_METHODS.has(word.toUpperCase()) || /^[A-Z]{1,20}$/.test(word);
const isDirectory = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
const URL_SHAPE = /^(https?:\/\/|\/)/i;
const USAGE = 'weft explain [DIR] METHOD URL';

/**
 * explainArguments reads [DIR] METHOD URL by the shape of each word, so a missing or misplaced
 * argument is blamed on the one actually missing ("no URL after GET"), not on its neighbour.
 */
function explainArguments(positionals: string[]): [dir: string, method: string, url: string] {
  if (positionals.length > 3) throw new UsageError(`too many arguments (${positionals.length}); usage: ${USAGE}`);
  // The last URL-shaped word is the URL: an absolute DIR (/srv/policies) also starts with '/', so a
  // folder in DIR's place (first of several words) is not taken for it.
  const urlAt = positionals.findLastIndex((p, i) => URL_SHAPE.test(p) && !(i === 0 && positionals.length > 1 && isDirectory(p)));
  if (urlAt === -1) {
    const last = positionals[positionals.length - 1];
    if (last === undefined) throw new UsageError(`explain needs METHOD and URL; usage: ${USAGE}`);
    if (methodLike(last)) throw new UsageError(`no URL after the method ${last}; usage: ${USAGE} (URL is http://service/path, or /path with -H 'Host: service')`);
    throw new UsageError(`"${last}" is not a URL: give http://service/path, or /path with -H 'Host: service'; usage: ${USAGE}`);
  }
  if (urlAt !== positionals.length - 1 && !isDirectory(positionals[urlAt]!)) throw new UsageError(`the URL "${positionals[urlAt]}" must come last; usage: ${USAGE}`);
  const before = positionals.slice(0, urlAt);
  const method = before[before.length - 1];
  // `weft explain policies/ http://x/` names a folder where the method goes: say the method is missing.
  if (method === undefined || (before.length === 1 && !methodLike(method) && isDirectory(method))) throw new UsageError(`no METHOD before the URL; usage: ${USAGE}`);
  if (!METHOD.test(method)) throw new UsageError(`"${method}" is not an HTTP method (GET, POST, ...); usage: ${USAGE}`);
  return [before.length === 2 ? before[0]! : '.', method, positionals[urlAt]!];
}

export const command: Command = {
  summary: 'why a request goes where it goes: route, match, precedence, filters, policies',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseFlags('weft explain', {
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        from: { type: 'string' },
        header: { type: 'string', short: 'H', multiple: true },
        rev: { type: 'string' },
        format: { type: 'string', default: 'text' },
      },
    });
    const [dir, method, url] = explainArguments(positionals);
    const format = values.format;
    if (format !== 'text' && format !== 'json') throw new UsageError(`unknown --format "${format}" (text or json)`);
    const headers: Record<string, string> = {};
    for (const h of values.header ?? []) {
      const colon = h.indexOf(':');
      const name = colon > 0 ? h.slice(0, colon).trim() : '';
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`-H wants 'Name: value', not "${h}"`);
      headers[name] = h.slice(colon + 1).trim();
    }
    if (url.startsWith('/') && !Object.keys(headers).some((k) => k.toLowerCase() === 'host')) throw new UsageError(`a path URL needs -H 'Host: service'`);

    const result = await compile(values.rev === undefined ? { dir } : { dir, rev: values.rev });
    throwArgumentErrors(result.diagnostics, values.rev !== undefined ? '--rev' : null, dir);
    if (result.diagnostics.some((d) => d.code === 'WFT901')) {
      process.stderr.write(render('text', result.diagnostics.filter((d) => d.code === 'WFT901'), dir, new Map(), false));
      return 2;
    }
    if (!result.bundle) {
      const shown = render(format === 'json' ? 'json' : 'text', result.diagnostics, dir, new Map(), false);
      process.stdout.write(shown);
      if (format === 'text') process.stdout.write('the policies do not compile: nothing to explain\n');
      return 1;
    }
    const from = values.from === undefined ? null : callerId(values.from, 'default');
    if (from !== null && !result.bundle.spec.services.some((s) => s.id === from)) throw new UsageError(`--from: no Service ${from} in the compiled policies`);
    const router = buildRouter(result.bundle.spec);
    // Sources are relative to DIR; show them relative to where the command runs.
    const prefix = shownPrefix(dir);
    const sources = Object.fromEntries(Object.entries(result.bundle.sources).map(([id, s]) => [id, { ...s, file: prefix + s.file }]));
    const report = explainRequest({ ...result.bundle, sources }, router, { method: method.toUpperCase(), url, headers, from });
    process.stdout.write(format === 'json' ? JSON.stringify(report, null, 2) + '\n' : forTerminalLines(formatExplainText(report)));
    return 0;
  },
};
