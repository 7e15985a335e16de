/**
 * Where the running Weft package lives, so `weft up` finds the example policies and its own CLI
 * whatever the current directory is (the demo is often started from elsewhere, and tests run it
 * from a temporary directory).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * packageRoot is the directory holding Weft's package.json: found by walking up from this
 * module, so it works from the sources and from dist/ alike. Throws when not found (a broken
 * install, never a user mistake).
 */
export function packageRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
        if (typeof parsed === 'object' && parsed !== null && (parsed as { name?: unknown }).name === 'weft') return dir;
      } catch {
        // An unreadable package.json on the way up is not ours; keep walking.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the weft package above ${from}`);
    dir = parent;
  }
}

/** weftEntry is the compiled CLI (`dist/bin/weft.js`) that child processes are started with. */
export function weftEntry(root: string = packageRoot()): string {
  return path.join(root, 'dist', 'bin', 'weft.js');
}

/** examplePolicies is the example mesh shipped with the package (`policies/`). */
export function examplePolicies(root: string = packageRoot()): string {
  return path.join(root, 'policies');
}
