/**
 * The one sanitiser for text that reaches a terminal or a log. Values come from input files,
 * catalogues, AWS and origins: a sku holding ESC or OSC sequences must not drive the operator's
 * terminal, and a 50 MB cell must not be echoed whole. Every line Output prints goes through
 * `sanitizeLine`; JSON documents need nothing (JSON.stringify escapes control characters).
 */

/** Longest line printed; the rest is replaced by a note of how much was cut. */
export const MAX_LINE = 4000;

/**
 * C0 controls but newline, DEL, C1 controls, bidirectional overrides and isolates (which can make a
 * line read differently from what it holds), line/paragraph separators, and the BOM.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

function escapeChar(c: string): string {
  const code = c.codePointAt(0)!;
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` made safe to print: unsafe characters shown escaped (`\x1b`, `\u202e`, `\t`), newlines
 * kept, and each line cut at `max` characters. Output's own colours do not pass through here as ESC
 * (see Output.style), so every ESC is escaped.
 */
export function sanitizeText(text: string, max = MAX_LINE): string {
  UNSAFE.lastIndex = 0;
  let safe = UNSAFE.test(text) ? text.replace(UNSAFE, escapeChar) : text;
  if (safe.length > max) safe = safe.split('\n').map((line) => cut(line, max)).join('\n');
  return safe;
}

/** `line` cut to about `max` characters, saying how many were left out. */
export function cut(line: string, max = MAX_LINE): string {
  if (line.length <= max) return line;
  return `${line.slice(0, max)}… [${(line.length - max).toLocaleString('en-US')} more characters not shown]`;
}

/**
 * One value quoted in a message: sanitised, newlines shown as `\n` too (a value must not forge a
 * line of its own), and cut at `max` (default 200) characters.
 */
export function shown(value: unknown, max = 200): string {
  return sanitizeText(cut(String(value), max), Number.MAX_SAFE_INTEGER).replace(/\n/g, '\\n');
}
