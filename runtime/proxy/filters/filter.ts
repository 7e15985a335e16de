import type { Reply } from '../pipeline.js';

/** ResponseEdits collects edits to apply to the reply, in filter order (ResponseHeaderModifier). */
export type ResponseEdits = ((reply: Reply) => void)[];
