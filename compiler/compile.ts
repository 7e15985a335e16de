/**
 * compile runs CHECK, then BUILD when CHECK found no error, over one directory or git revision.
 * It never throws on bad input: a failure inside a pass becomes a WFT901 diagnostic, so callers
 * get findings or a bundle.
 */
import { BUILD, CHECK, PASS_FAILED, READ, type Pass, type PassRunner } from './passes.js';
import { compareDiagnostics, hasErrors, makeDiagnostic } from './diagnostics.js';
import type { CompileOptions, CompileResult, Diagnostic, PassContext } from './types.js';
import type { Resource } from './resources.js';

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
  const ctx = contextFor(options);
  options.memo?.begin();
  const timings: Record<string, number> = {};
  const runner = passRunner(timings, observer);
  const checked = await CHECK.run(options, ctx, runner);
  const built = checked !== PASS_FAILED && !hasErrors(ctx.diagnostics) ? await BUILD.run(checked, ctx, runner) : PASS_FAILED;
  const diagnostics = [...ctx.diagnostics].sort(compareDiagnostics);
  const emitted = built !== PASS_FAILED && !hasErrors(diagnostics) ? built : null;
  // Only a compile that ran every pass used all it needs; after one that stopped early the memo
  // keeps everything (the next good commit is likely to need it).
  if (emitted) options.memo?.sweep();
  const result: CompileResult = {
    bundle: emitted?.bundle ?? null,
    bundleJson: null,
    diagnostics,
    resources: checked !== PASS_FAILED ? checked.resources : [],
    timings,
  };
  // Read through, so text that emit makes on demand (with a memo) is made on first read here too.
  if (emitted) Object.defineProperty(result, 'bundleJson', { enumerable: true, get: () => emitted.json });
  return result;
}

/**
 * readResources runs only READ (load, parse, validate): every resource that passed its schema,
 * written in YAML or CUE, and the findings so far (sorted). For tools that need the declared
 * resources before, or without, a bundle (the demo reads Service endpoints with it).
 */
export async function readResources(options: CompileOptions): Promise<{ resources: Resource[]; diagnostics: Diagnostic[] }> {
  const ctx = contextFor(options);
  const read = await READ.run(options, ctx, passRunner({}, {}));
  return { resources: read !== PASS_FAILED ? read.resources : [], diagnostics: [...ctx.diagnostics].sort(compareDiagnostics) };
}

function contextFor(options: CompileOptions): PassContext {
  return { options: Object.freeze({ ...options }), diagnostics: [], revision: null };
}

/** passRunner times each pass into `timings` and turns a throw into WFT901 (the chain stops). */
function passRunner(timings: Record<string, number>, observer: PassObserver): PassRunner {
  return async <I, O>(p: Pass<I, O>, input: I, c: PassContext): Promise<O | typeof PASS_FAILED> => {
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
}
