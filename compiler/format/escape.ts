/**
 * Escaping user-controlled text for the sinks Weft prints to. File names, resource names,
 * messages that quote policy values, and anything read from the network can hold control
 * characters: an ESC starts a terminal escape sequence (clear the screen, set the window title,
 * paint a forged green line), a newline in a CI log starts a forged line (a `::warning` workflow
 * command in GitHub Actions), and Unicode bidirectional overrides reorder what a reviewer reads
 * (CVE-2021-42574, "Trojan Source"). Each is shown as a visible escape instead.
 */

// C0 controls, DEL, C1 controls, and the bidi embedding/override/isolate characters: matching
// control characters is the point here.
/* eslint-disable no-control-regex */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const CONTROLS_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

function visible(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * forTerminal returns `s` with every control character (newline included) and bidi override
 * shown as a visible escape (`\x1b`, `\n`, `\u202e`): for one field on one line, such as a file
 * name, a resource name or a value a peer sent.
 */
export function forTerminal(s: string): string {
  return s.replace(CONTROLS, visible);
}

/**
 * forTerminalLines is forTerminal for text of several lines: newlines are kept, every other
 * control character (CR, ESC, ...) is shown escaped. For whole reports built from user text.
 */
export function forTerminalLines(s: string): string {
  return s.replace(CONTROLS_BUT_NEWLINE, visible);
}

const JSON_INVISIBLE = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * jsonText is JSON.stringify(value, null, 2) with the characters JSON leaves raw but a terminal
 * or editor acts on (DEL, C1 controls, bidi overrides) written as \u escapes: the same JSON
 * value, safe to print. JSON.stringify already escapes C0 controls.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(JSON_INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
