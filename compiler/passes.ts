/**
 * PASSES is the whole compiler, in order. Each pass takes the previous pass's form and returns
 * the next, appending findings to ctx.diagnostics; none throws on bad input.
 *
 * Why this order: positions exist only after parse, so validate maps schema errors through
 * them; resolve needs every valid resource of every file before it can check references;
 * analyze reasons across resolved references (shadowing needs the parent's complete rule set);
 * lower decides precedence once, so the proxy never sorts; emit hashes only lowered content,
 * so the digest ignores file names and positions.
 *
 * resolve and analyze still run when earlier passes found errors (over the resources that
 * survived), so one run reports everything; lower and emit need an error-free tree.
 */
import type { CompileOptions, PassContext } from './types.js';
import { load } from './load.js';
import { parse } from './parse.js';
import { validate } from './validate.js';
import { resolve } from './resolve.js';
import { analyze } from './analyze.js';
import { lower } from './lower.js';
import { emit } from './emit.js';

/** Pass is one named stage: `run` maps one typed form to the next. */
export interface Pass<I, O> {
  readonly name: string;
  /** Skip this pass (and every later one) once an error has been reported. */
  readonly needsNoErrors: boolean;
  readonly run: (input: I, ctx: PassContext) => O | Promise<O>;
}

function pass<I, O>(name: string, needsNoErrors: boolean, run: (input: I, ctx: PassContext) => O | Promise<O>): Pass<I, O> {
  return Object.freeze({ name, needsNoErrors, run });
}

export const PASSES = Object.freeze([
  pass('load', false, load),
  pass('parse', false, parse),
  pass('validate', false, validate),
  pass('resolve', false, resolve),
  pass('analyze', false, analyze),
  pass('lower', true, lower),
  pass('emit', true, emit),
] as const);

export type { CompileOptions };
