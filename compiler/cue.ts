/**
 * cue: placeholder until the CUE helper replaces this file. parseCue turns *.cue files into
 * RawDocuments (one per exported resource); this stand-in reports nothing and returns none.
 */
import type { PassContext, RawDocument, SourceFile } from './types.js';

/** parseCue: placeholder (the CUE helper replaces it); returns no documents. */
export function parseCue(_files: SourceFile[], _ctx: PassContext): Promise<RawDocument[]> {
  return Promise.resolve([]);
}
