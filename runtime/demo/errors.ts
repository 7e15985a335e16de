/**
 * DemoError is a problem `weft up` explains in one line and exits 1 for (a busy repository path,
 * another `weft up` running, a child that would not start): the user's environment, not a bug.
 */
export class DemoError extends Error {
  override name = 'DemoError';
}
