/**
 * The sarif format: a SARIF 2.1.0 log (OASIS), as GitHub code scanning and other tools read it.
 * Every code of CODES is a rule of the driver, so a result's ruleIndex is stable across runs.
 */
import { CODES, type Code } from '../codes.js';
import type { Diagnostic, Severity } from '../types.js';
import { jsonText } from './escape.js';
import type { Formatter } from './formatter.js';

/** SARIF_SCHEMA is the schema URI a SARIF 2.1.0 log names. */
export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const VERSION = '0.1.0';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', info: 'note' };
const RULE_IDS = Object.keys(CODES) as Code[];

function rules(): object[] {
  return RULE_IDS.map((id) => {
    const info = CODES[id];
    return {
      id,
      name: info.name.replace(/(^|-)([a-z0-9])/g, (_m: string, _d: string, c: string) => c.toUpperCase()),
      shortDescription: { text: info.meaning },
      fullDescription: { text: `${info.meaning} ${info.fix}` },
      help: { text: info.fix, markdown: `${info.fix}\n\nSee docs/diagnostics.md#${id.toLowerCase()}-${info.name}.` },
      defaultConfiguration: { level: LEVEL[info.severity] },
      properties: { tags: [info.name] },
    };
  });
}

function result(d: Diagnostic): object {
  const ruleIndex = RULE_IDS.indexOf(d.code as Code);
  const text = d.hint ? `${d.message} (${d.hint})` : d.message;
  const out: Record<string, unknown> = { ruleId: d.code, level: LEVEL[d.severity], message: { text } };
  if (ruleIndex >= 0) out.ruleIndex = ruleIndex;
  if (d.file !== null) {
    const physicalLocation: Record<string, unknown> = { artifactLocation: { uri: encodeURI(d.file) } };
    if (d.line > 0) {
      const region: Record<string, number> = { startLine: d.line, startColumn: Math.max(1, d.column) };
      if (d.endLine >= d.line) {
        region.endLine = d.endLine;
        // SARIF's endColumn is exclusive, as ours is; an empty span still needs end >= start.
        region.endColumn = d.endLine === d.line ? Math.max(region.startColumn ?? 1, d.endColumn) : Math.max(1, d.endColumn);
      }
      physicalLocation.region = region;
    }
    out.locations = [{ physicalLocation }];
  }
  if (d.resource !== null) out.properties = { resource: d.resource };
  return out;
}

/** sarif prints one SARIF 2.1.0 log with one run; results keep the input order. */
export const sarif: Formatter = {
  name: 'sarif',
  machine: true,
  format: (diagnostics) =>
    jsonText(
      {
        $schema: SARIF_SCHEMA,
        version: '2.1.0',
        runs: [
          {
            tool: { driver: { name: 'weft', version: VERSION, semanticVersion: VERSION, informationUri: 'https://weft.dev/docs/diagnostics', rules: rules() } },
            columnKind: 'utf16CodeUnits',
            results: diagnostics.map(result),
          },
        ],
      },
    ) + '\n',
};
