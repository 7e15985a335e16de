/**
 * formatDiffJson renders a BundleDiff for scripts: the BundleDiff itself plus its counts, two-space
 * indented. The shape is the exported BundleDiff type; fields are only ever added.
 */
import { countChanges, type BundleDiff } from './diff.js';

/** formatDiffJson returns one JSON document followed by a newline. */
export function formatDiffJson(d: BundleDiff): string {
  return JSON.stringify({ ...d, changes: countChanges(d) }, null, 2) + '\n';
}
