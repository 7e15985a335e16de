/**
 * compile runs CHECK, then BUILD when CHECK found no error, over one directory or git revision.
 * It never throws on bad input: a failure inside a pass becomes a WFT901 diagnostic, so callers
 * get findings or a bundle.
 */
import { BUILD, CHECK, PASS_FAILED, type Pass, type PassRunner } from './passes.js';
import { compareDiagnostics, hasErrors, makeDiagnostic } from './diagnostics.js';
import type { CompileOptions, CompileResult, PassContext } from './types.js';

/**
 * PassObserver is told when each pass starts and ends (benchmarks measure CPU time with it);
 * `ended` is called whether or not the pass completed.
 */
export interface PassObserver {
  started?(pass: string): void;
  ended?(pass: string): void;
}

/** compile: see the file comment. `observer` is optional and sees every pass that runs. */
export async function compile(options: CompileOptions, observer: PassObserver = {}): Promise<CompileResult> {
  const ctx: PassContext = { options: Object.freeze({ ...options }), diagnostics: [], revision: null };
  const timings: Record<string, number> = {};
  const runner: PassRunner = async <I, O>(p: Pass<I, O>, input: I, c: PassContext): Promise<O | typeof PASS_FAILED> => {
    observer.started?.(p.name);
    const started = performance.now();
    try {
      return await p.run(input, c);
    } catch (err) {
      c.diagnostics.push(makeDiagnostic('WFT901', `internal error in the ${p.name} pass: ${err instanceof Error ? err.message : String(err)}`, null));
      if (process.env.WEFT_DEBUG && err instanceof Error) c.diagnostics.at(-1)!.hint = err.stack ?? null;
      return PASS_FAILED;
    } finally {
      timings[p.name] = performance.now() - started;
      observer.ended?.(p.name);
    }
  };
  const checked = await CHECK.run(options, ctx, runner);
  const built = checked !== PASS_FAILED && !hasErrors(ctx.diagnostics) ? await BUILD.run(checked, ctx, runner) : PASS_FAILED;
  const diagnostics = [...ctx.diagnostics].sort(compareDiagnostics);
  const emitted = built !== PASS_FAILED && !hasErrors(diagnostics) ? built : null;
  return {
    bundle: emitted?.bundle ?? null,
    bundleJson: emitted?.json ?? null,
    diagnostics,
    resources: checked !== PASS_FAILED ? checked.resources : [],
    timings,
  };
}
