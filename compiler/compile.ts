/**
 * compile runs PASSES over one directory or git revision. It never throws on bad input: a
 * failure inside a pass becomes a WFT901 diagnostic, so callers get findings or a bundle.
 */
import { PASSES } from './passes.js';
import { compareDiagnostics, hasErrors, makeDiagnostic } from './diagnostics.js';
import type { CompileOptions, CompileResult, PassContext, ValidatedTree } from './types.js';
import type { Bundle } from '../schemas/bundle.js';

export async function compile(options: CompileOptions): Promise<CompileResult> {
  const ctx: PassContext = { options: Object.freeze({ ...options }), diagnostics: [], revision: null };
  const timings: Record<string, number> = {};
  let form: unknown = options;
  let resources: ValidatedTree['resources'] = [];
  let emitted: { bundle: Bundle; json: string } | null = null;
  for (const p of PASSES) {
    if (p.needsNoErrors && hasErrors(ctx.diagnostics)) break;
    const started = performance.now();
    try {
      form = await (p.run as (input: unknown, c: PassContext) => unknown)(form, ctx);
    } catch (err) {
      ctx.diagnostics.push(makeDiagnostic('WFT901', `internal error in the ${p.name} pass: ${err instanceof Error ? err.message : String(err)}`, null));
      if (process.env.WEFT_DEBUG && err instanceof Error) ctx.diagnostics.at(-1)!.hint = err.stack ?? null;
      break;
    } finally {
      timings[p.name] = performance.now() - started;
    }
    if (p.name === 'validate') resources = (form as ValidatedTree).resources;
    if (p.name === 'emit') emitted = form as { bundle: Bundle; json: string };
  }
  const diagnostics = [...ctx.diagnostics].sort(compareDiagnostics);
  const ok = !hasErrors(diagnostics) && emitted !== null;
  return { bundle: ok ? emitted!.bundle : null, bundleJson: ok ? emitted!.json : null, diagnostics, resources, timings };
}
