/** FORMATTERS: every diagnostics output format by its --format name. */
import type { Formatter } from './formatter.js';
import { github } from './github.js';
import { json } from './json.js';
import { sarif } from './sarif.js';
import { text } from './text.js';

export type { Formatter, FormatOptions } from './formatter.js';

/** FORMATTERS maps each --format name to its Formatter; the key is the formatter's name. */
export const FORMATTERS: Readonly<Record<'text' | 'json' | 'sarif' | 'github', Formatter>> = Object.freeze({ text, json, sarif, github });

/** FormatName is a valid --format value. */
export type FormatName = keyof typeof FORMATTERS;

/** isFormatName narrows a --format argument. */
export function isFormatName(s: string): s is FormatName {
  return Object.hasOwn(FORMATTERS, s);
}
