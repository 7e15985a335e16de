/**
 * weft validate: compile a policy folder (or a git revision of it) and report every finding,
 * without writing a bundle. What CI runs on each pull request.
 */
import type { Command } from '../cli.js';
import { UsageError, parseFlags } from '../cli.js';
import { compile } from '../../compiler/compile.js';
import { exitCode, oneDir, parseBytes, parseFormat, render, shownPrefix, sourcesFor, throwArgumentErrors } from '../diagnostics-output.js';
import { changedFirst } from '../changed-first.js';

const HELP = `weft validate [DIR] [--rev REV] [--format text|json|sarif|github] [--fail-on error|warning]
              [--max-file-size BYTES] [--changed-from REV]

Checks the policy files under DIR (default .): YAML syntax, each resource against its schema,
references between resources, and the cross-resource analyses (shadowed matches, zero weights,
unsafe regular expressions, ...). Every finding is reported in one run, sorted by position;
docs/diagnostics.md explains each code.

Options:
  --rev REV              read DIR as it is at a git revision (a branch, tag, SHA or HEAD~1),
                         without touching the working tree
  --format F             text (default; colour on a terminal), json (an array of diagnostics),
                         sarif (SARIF 2.1.0, for code scanning), github (workflow commands that
                         annotate the pull request)
  --fail-on LEVEL        error (default): exit 1 on errors; warning: exit 1 on warnings too
  --max-file-size BYTES  largest policy file read (default 1048576)
  --changed-from REV     findings on lines changed since the merge base with REV come first
                         (GitHub shows only 10 annotations per type and step)

Exit codes: 0 no failing findings; 1 failing findings; 2 usage or internal error.
The json, sarif and github formats print nothing else on stdout.`;

/** command: `weft validate`; resolves to the exit code (0 clean, 1 failing findings, 2 usage or internal error). */
export const command: Command = {
  summary: 'check policy files and report every finding (CI runs this on pull requests)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseFlags('weft validate', {
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        rev: { type: 'string' },
        format: { type: 'string' },
        'fail-on': { type: 'string' },
        'max-file-size': { type: 'string' },
        'changed-from': { type: 'string' },
      },
    });
    const dir = oneDir(positionals);
    const format = parseFormat(values.format);
    const failOn = values['fail-on'] ?? 'error';
    if (failOn !== 'error' && failOn !== 'warning') throw new UsageError(`--fail-on must be error or warning, not "${failOn}"`);
    const maxFileBytes = parseBytes('--max-file-size', values['max-file-size']);
    const result = await compile({ dir, ...(values.rev !== undefined ? { rev: values.rev } : {}), ...(maxFileBytes !== undefined ? { maxFileBytes } : {}) });
    throwArgumentErrors(result.diagnostics, values.rev !== undefined ? '--rev' : null, dir);
    const sources = format === 'text' ? await sourcesFor(result.diagnostics, dir, values.rev) : new Map<string, string | null>();
    const shown = values['changed-from'] === undefined ? result.diagnostics : await changedFirst(result.diagnostics, values['changed-from'], values.rev ?? null, shownPrefix(dir));
    process.stdout.write(render(format, shown, dir, sources, process.stdout.isTTY === true));
    return exitCode(result.diagnostics, failOn);
  },
};
