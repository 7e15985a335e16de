/**
 * weft compile: compile a policy folder (or a git revision of it) into one bundle, written
 * atomically to --out (a reader never sees half a file) or to stdout.
 */
import type { Command } from '../cli.js';
import { UsageError, parseFlags } from '../cli.js';
import { readSigningKey } from '../signing-keys.js';
import { compile } from '../../compiler/compile.js';
import { writeFileAtomic } from '../../runtime/atomic-write.js';
import { signingKey } from '../../compiler/emit.js';
import { callerId } from '../../compiler/resolve.js';
import { sliceBundle } from '../../compiler/slice.js';
import { FORMATTERS } from '../../compiler/format/index.js';
import { exitCode, oneDir, parseBytes, parseFormat, render, sourcesFor, throwArgumentErrors } from '../diagnostics-output.js';

const HELP = `weft compile [DIR] [--rev REV] [--out FILE] [--sign-key PEM] [--format text|json|sarif|github]
             [--max-file-size BYTES] [--slice SERVICE]

Compiles the policy files under DIR (default .) into one bundle: canonical JSON whose digest
(sha256) covers the compiled routing content only, so a commit that changes no routing keeps
its digest. The same tree always gives the same bytes.

Options:
  --rev REV              read DIR as it is at a git revision (a branch, tag, SHA or HEAD~1),
                         without touching the working tree; the bundle records the commit
  --out FILE             write the bundle to FILE (atomically: temp file, then rename);
                         default: stdout
  --sign-key PEM         sign the bundle with the ed25519 private key in this PEM file
                         (weft keygen makes one)
  --format F             how findings are printed: text (default), json, sarif, github
  --max-file-size BYTES  largest policy file read (default 1048576)
  --slice SERVICE        write only the slice for SERVICE (name in namespace default, or
                         namespace/name): the bundle cut to that Service's inbound policies and
                         its egress scope, for a proxy fed with --bundle (docs/scale.md)

Findings go to stdout with --out, else to stderr (stdout then holds only the bundle).
Exit codes: 0 bundle written (warnings allowed); 1 errors, no bundle; 2 usage or internal error.`;

/** writeOut writes the bundle to --out atomically and durably; a failure is one UsageError line. */
async function writeOut(file: string, data: string): Promise<void> {
  try {
    await writeFileAtomic(file, data);
  } catch (err) {
    throw new UsageError(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** command: `weft compile`; writes a bundle only when there are no errors; resolves to the exit code. */
export const command: Command = {
  summary: 'compile policy files into one signed, content-addressed bundle',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseFlags('weft compile', {
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        rev: { type: 'string' },
        out: { type: 'string' },
        'sign-key': { type: 'string' },
        format: { type: 'string' },
        'max-file-size': { type: 'string' },
        slice: { type: 'string' },
      },
    });
    const dir = oneDir(positionals);
    const format = parseFormat(values.format);
    const maxFileBytes = parseBytes('--max-file-size', values['max-file-size']);
    let signKey: string | undefined;
    if (values['sign-key'] !== undefined) signKey = readSigningKey('--sign-key', values['sign-key']);
    const result = await compile({
      dir,
      ...(values.rev !== undefined ? { rev: values.rev } : {}),
      ...(signKey !== undefined ? { signKey } : {}),
      ...(maxFileBytes !== undefined ? { maxFileBytes } : {}),
    });
    throwArgumentErrors(result.diagnostics, values.rev !== undefined ? '--rev' : null, dir);
    const toStdout = values.out === undefined;
    const stream = toStdout ? process.stderr : process.stdout;
    // A clean text run prints nothing; machine formats always print a complete document.
    if (result.diagnostics.length > 0 || FORMATTERS[format].machine) {
      const sources = format === 'text' ? await sourcesFor(result.diagnostics, dir, values.rev) : new Map<string, string | null>();
      stream.write(render(format, result.diagnostics, dir, sources, stream.isTTY === true));
    }
    const code = exitCode(result.diagnostics, 'error');
    if (code !== 0 || result.bundleJson === null || result.bundle === null) return code === 0 ? 2 : code;
    let out = { bundle: result.bundle, json: result.bundleJson };
    if (values.slice !== undefined) {
      const service = callerId(values.slice, 'default');
      if (!result.bundle.spec.services.some((s) => s.id === service)) throw new UsageError(`--slice: no Service ${service} in the compiled policies`);
      // compile() already refused a bad key (WFT601), so this parse succeeds.
      const key = signKey !== undefined ? signingKey(signKey) : null;
      out = sliceBundle(result.bundle, service, typeof key === 'string' ? null : key);
    }
    if (toStdout) {
      process.stdout.write(out.json + (process.stdout.isTTY ? '\n' : ''));
    } else {
      await writeOut(values.out as string, out.json);
      if (!FORMATTERS[format].machine) process.stdout.write(`wrote ${values.out} (${out.bundle.digest})\n`);
    }
    return 0;
  },
};
