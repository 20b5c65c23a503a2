/**
 * The value rules every inventory format shares (CSV, TSV, JSON Lines, JSON), so the same export
 * saved in another format gives the same rows:
 *
 * - Trimming: a sku, a location, a header name or a quantity loses leading and trailing whitespace
 *   as JavaScript's `String.prototype.trim` defines it (space, tab, CR, LF, VT, FF, no-break space,
 *   the Unicode spaces, line/paragraph separators and the BOM), quoted or not.
 * - Quantities are whole numbers within ±(2^53 − 1): text is an optional sign and decimal digits
 *   (`"12"`, ` 12 `, `+3`, `-2`, `007`); `12.0`, `1e3`, `0x1F`, `0b11`, `1_000`, `1,000` are refused.
 *   A JSON number is taken when its value is such an integer: JSON has one number type, so `12.0`
 *   and `1e3` written as numbers are the integers 12 and 1000; `1e300`, `1.5`, `[5]`, `true` and
 *   `null` are not quantities.
 *
 * The byte functions are the CSV/TSV fast path's; they cost a comparison or two per field end.
 */

const SPACE = 0x20;
const MINUS = 0x2d;
const PLUS = 0x2b;
/** 16 digits can exceed 2^53 − 1; more always do. */
const MAX_DIGITS = 16;

/** Length of the whitespace sequence (as `trim` sees it) that starts at `i`, or 0. */
function spaceAt(buf: Uint8Array, i: number, end: number): number {
  const c = buf[i]!;
  if (c === SPACE || (c >= 0x09 && c <= 0x0d)) return 1;
  if (c < 0xc2) return 0;
  const c1 = i + 1 < end ? buf[i + 1]! : -1;
  if (c === 0xc2) return c1 === 0xa0 ? 2 : 0; // U+00A0
  if (i + 2 >= end) return 0;
  const c2 = buf[i + 2]!;
  if (c === 0xe1) return c1 === 0x9a && c2 === 0x80 ? 3 : 0; // U+1680
  if (c === 0xe2) {
    if (c1 === 0x80) return (c2 >= 0x80 && c2 <= 0x8a) || c2 === 0xa8 || c2 === 0xa9 || c2 === 0xaf ? 3 : 0; // U+2000–200A, 2028, 2029, 202F
    return c1 === 0x81 && c2 === 0x9f ? 3 : 0; // U+205F
  }
  if (c === 0xe3) return c1 === 0x80 && c2 === 0x80 ? 3 : 0; // U+3000
  if (c === 0xef) return c1 === 0xbb && c2 === 0xbf ? 3 : 0; // U+FEFF
  return 0;
}

/** Length of the whitespace sequence that ends just before `end` (not before `start`), or 0. */
function spaceBefore(buf: Uint8Array, start: number, end: number): number {
  const c = buf[end - 1]!;
  if (c < 0x80) return c === SPACE || (c >= 0x09 && c <= 0x0d) ? 1 : 0;
  if (end - 2 >= start && buf[end - 2] === 0xc2) return c === 0xa0 ? 2 : 0;
  if (end - 3 < start) return 0;
  return spaceAt(buf, end - 3, end) === 3 ? 3 : 0;
}

/** First byte of `buf[start, end)` that is not leading whitespace. */
export function trimStart(buf: Uint8Array, start: number, end: number): number {
  while (start < end) {
    const n = spaceAt(buf, start, end);
    if (n === 0) break;
    start += n;
  }
  return start;
}

/** End of `buf[start, end)` without its trailing whitespace. */
export function trimEnd(buf: Uint8Array, start: number, end: number): number {
  while (end > start) {
    const n = spaceBefore(buf, start, end);
    if (n === 0) break;
    end -= n;
  }
  return end;
}

/** A whole number from bytes (optional sign, surrounding whitespace), or NaN. */
export function parseQuantityBytes(buf: Uint8Array, start: number, end: number): number {
  // the usual field is bare digits: trim only when an end is not a digit
  if (start < end && (buf[start]! - 0x30 > 9 || buf[start]! < 0x30)) start = trimStart(buf, start, end);
  if (end > start && (buf[end - 1]! - 0x30 > 9 || buf[end - 1]! < 0x30)) end = trimEnd(buf, start, end);
  if (start >= end) return Number.NaN;
  let sign = 1;
  if (buf[start] === MINUS || buf[start] === PLUS) {
    if (buf[start] === MINUS) sign = -1;
    start++;
    if (start >= end) return Number.NaN;
  }
  if (end - start > MAX_DIGITS) return Number.NaN;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return n > Number.MAX_SAFE_INTEGER ? Number.NaN : sign * n;
}

const INTEGER_TEXT = /^[+-]?\d{1,16}$/;

/** A whole number from text (the same rule as `parseQuantityBytes`), or NaN. */
export function parseQuantityText(text: string): number {
  const t = text.trim();
  if (!INTEGER_TEXT.test(t)) return Number.NaN;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

/** A quantity from a JSON value: a safe integer number, or text by `parseQuantityText`; else NaN. */
export function parseQuantityValue(value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : Number.NaN;
  if (typeof value === 'string') return parseQuantityText(value);
  return Number.NaN;
}

const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** A price: a finite JSON number, or decimal text (`12`, `12.50`, `-0.5`); else undefined. */
export function parsePrice(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const t = value.trim();
  if (!DECIMAL_TEXT.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** A sku or location from a JSON value: text, or a number written as text (`12345`); else undefined. */
export function keyText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** How a JSON value is shown in a row error (short, one line). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
