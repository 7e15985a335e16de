/**
 * weft diff: compile two revisions of a policy repository and report what changes for traffic.
 *
 * Exit codes (the decision, also in the help text and docs/pr-validation.md):
 *   0  the comparison was made, whether or not anything changed;
 *   1  head does not compile (its diagnostics are in the report, as `weft validate` would
 *      fail), or `--exit-code` was given and something changed;
 *   2  usage error, a revision git cannot resolve, head's directory missing, or an internal error.
 * A base that does not compile is not the change's fault: the report says so and exit stays 0.
 * A base where DIR does not exist (the PR adds it) is compared as an empty mesh.
 */
import type { Command } from '../cli.js';
import { forTerminalLines } from '../../compiler/format/escape.js';
import { UsageError, parseFlags } from '../cli.js';
import { compile } from '../../compiler/compile.js';
import type { CompileResult, Diagnostic } from '../../compiler/types.js';
import { countChanges, diffBundles } from '../../compiler/diff/diff.js';
import { formatDiffText } from '../../compiler/diff/format-text.js';
import { DEFAULT_MAX_BYTES, formatDiffMarkdown } from '../../compiler/diff/format-markdown.js';
import { formatDiffJson } from '../../compiler/diff/format-json.js';
import { forDisplay, shownPrefix, throwArgumentErrors } from '../diagnostics-output.js';

const FORMATS = ['text', 'markdown', 'json'] as const;
type Format = (typeof FORMATS)[number];

const HELP = `weft diff [DIR] --base REV [--head REV] [--format text|markdown|json] [--exit-code]

Compiles DIR at two revisions and reports what changes for traffic, not for text: Services
added or removed; per Service, matches added, removed or changed (identified by route and match
content, never by position) with their backends and weight shares before → after; filters,
timeouts, retries, rate limits, authorization, backend policy and endpoint changes; findings
that head introduces. Revisions are read from git without touching the working tree.

Options:
  --base REV         the revision to compare against (a branch, tag, SHA or HEAD~1); required
  --head REV         the revision to compare; default: the working tree of DIR
  --format F         text (default), markdown (a PR comment under 60 KB, the rest summarised
                     with counts), json
  --max-bytes N      markdown size limit in bytes (default ${DEFAULT_MAX_BYTES})
  --exit-code        exit 1 when anything changes (like git diff --exit-code)

Exit codes: 0 compared (changes or not); 1 head does not compile, or --exit-code and changes;
2 usage error, unknown revision, or internal error.`;

/** Internal compiler failures: the comparison could not be made (exit 2), not "head is broken". */
function fatal(r: CompileResult): Diagnostic[] {
  return r.diagnostics.filter((d) => d.code === 'WFT901');
}

/** shown rewrites a result's file names (relative to DIR) to be relative to where the command runs. */
function shown(r: CompileResult, dir: string): Pick<CompileResult, 'bundle' | 'diagnostics'> {
  const prefix = shownPrefix(dir);
  const bundle = r.bundle && prefix !== '' ? { ...r.bundle, sources: Object.fromEntries(Object.entries(r.bundle.sources).map(([id, s]) => [id, { ...s, file: prefix + s.file }])) } : r.bundle;
  return { bundle, diagnostics: forDisplay(r.diagnostics, dir) };
}

export const command: Command = {
  summary: 'what a change does to traffic: compare two revisions semantically',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseFlags('weft diff', {
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        base: { type: 'string' },
        head: { type: 'string' },
        format: { type: 'string', default: 'text' },
        'max-bytes': { type: 'string' },
        'exit-code': { type: 'boolean', default: false },
      },
    });
    if (positionals.length > 1) throw new UsageError(`diff takes one directory, got ${positionals.length}`);
    if (!values.base) throw new UsageError('diff needs --base REV (the revision to compare against)');
    const format = values.format as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`unknown --format "${values.format}" (text, markdown or json)`);
    let maxBytes = DEFAULT_MAX_BYTES;
    if (values['max-bytes'] !== undefined) {
      maxBytes = Number(values['max-bytes']);
      if (!Number.isInteger(maxBytes) || maxBytes < 1000) throw new UsageError('--max-bytes must be an integer of at least 1000');
    }
    const dir = positionals[0] ?? '.';
    // Sequential, not Promise.all: the CUE evaluator keeps global state (one evaluation at a time).
    const base = await compile({ dir, rev: values.base });
    const head = values.head === undefined ? await compile({ dir }) : await compile({ dir, rev: values.head });
    // A revision that does not resolve is blamed on the flag that named it; DIR missing at base
    // is a PR that adds the policies (below), missing at head is a usage error.
    throwArgumentErrors(base.diagnostics.filter((d) => d.code === 'WFT103'), '--base', dir);
    throwArgumentErrors(head.diagnostics, '--head', dir);
    const broken = [...fatal(base), ...fatal(head)];
    if (broken.length) {
      // One line each, like every other error that stops a command before it has a report.
      for (const d of broken) process.stderr.write(`weft: ${d.message}\n`);
      return 2;
    }
    // DIR missing at base is a PR that adds the policies: everything in head is new.
    const baseMissing = base.bundle === null && base.diagnostics.some((d) => d.code === 'WFT102');
    const diff = diffBundles({ ref: values.base, result: shown(base, dir), missing: baseMissing }, { ref: values.head ?? null, result: shown(head, dir) });
    const text = format === 'json' ? formatDiffJson(diff) : format === 'markdown' ? formatDiffMarkdown(diff, { maxBytes }) : forTerminalLines(formatDiffText(diff));
    process.stdout.write(text);
    if (head.bundle === null) return 1;
    return values['exit-code'] && countChanges(diff).total > 0 ? 1 : 0;
  },
};
