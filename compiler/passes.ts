/**
 * The whole compiler, in order: CHECK then BUILD. Each pass takes the previous pass's form and
 * returns the next, appending findings to ctx.diagnostics; none throws on bad input. The chains
 * are built with PassChain.then, whose signature only accepts a pass that reads the form the
 * chain so far produces, so a pass put in the wrong place is a type error, not a runtime surprise.
 *
 * Why this order: positions exist only after parse, so validate maps schema errors through
 * them; resolve needs every valid resource of every file before it can check references;
 * analyze reasons across resolved references (shadowing needs the parent's complete rule set);
 * lower decides precedence once, so the proxy never sorts; emit hashes only lowered content,
 * so the digest ignores file names and positions.
 *
 * CHECK runs whatever it finds (over the resources that survived each pass), so one run reports
 * everything; BUILD needs an error-free tree, so compile() runs it only when CHECK found none.
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
  readonly run: (input: I, ctx: PassContext) => O | Promise<O>;
}

/**
 * PassRunner runs one pass for a chain: it may time it, catch what it throws, or stop the chain
 * by returning PASS_FAILED (compile() turns a throw into WFT901 and stops).
 */
export type PassRunner = <I, O>(pass: Pass<I, O>, input: I, ctx: PassContext) => Promise<O | typeof PASS_FAILED>;

/** PASS_FAILED is what a PassRunner returns for a pass that did not complete; the chain stops. */
export const PASS_FAILED: unique symbol = Symbol('pass failed');

/**
 * PassChain is a sequence of passes from form I to form O. `then` only accepts a pass whose input
 * is O, so the type checker verifies every link; `names` lists the passes in order.
 */
export class PassChain<I, O> {
  private constructor(
    readonly names: readonly string[],
    private readonly exec: (input: I, ctx: PassContext, runner: PassRunner) => Promise<O | typeof PASS_FAILED>,
  ) {}

  /** of starts a chain with its first pass. */
  static of<I, O>(first: Pass<I, O>): PassChain<I, O> {
    return new PassChain([first.name], (input, ctx, runner) => runner(first, input, ctx));
  }

  /** then returns a new chain that feeds this chain's output to `next`. */
  then<N>(next: Pass<O, N>): PassChain<I, N> {
    const exec = this.exec;
    return new PassChain([...this.names, next.name], async (input, ctx, runner) => {
      const form = await exec(input, ctx, runner);
      return form === PASS_FAILED ? PASS_FAILED : runner(next, form, ctx);
    });
  }

  /** run runs every pass in order through `runner`; PASS_FAILED when one did not complete. */
  run(input: I, ctx: PassContext, runner: PassRunner): Promise<O | typeof PASS_FAILED> {
    return this.exec(input, ctx, runner);
  }
}

function pass<I, O>(name: string, run: (input: I, ctx: PassContext) => O | Promise<O>): Pass<I, O> {
  return Object.freeze({ name, run });
}

/** READ: options → the resources that passed their schema (readers that need no references). */
export const READ = PassChain.of(pass('load', load))
  .then(pass('parse', parse))
  .then(pass('validate', validate));

/** CHECK: options → resolved, analysed resources. Runs even when a pass reported errors. */
export const CHECK = READ.then(pass('resolve', resolve)).then(pass('analyze', analyze));

/** BUILD: an error-free resolved tree → the bundle and its bytes. */
export const BUILD = PassChain.of(pass('lower', lower)).then(pass('emit', emit));

/** PASS_NAMES lists every pass in the order compile() runs them. */
export const PASS_NAMES: readonly string[] = Object.freeze([...CHECK.names, ...BUILD.names]);

export type { CompileOptions };
