import type { Origin } from './resources.js';

/** RawDocument: one YAML document (or one CUE-exported resource) before schema checks. */
export interface RawDocument {
  file: string;
  document: number;
  value: unknown;
  origin: Origin;
}
