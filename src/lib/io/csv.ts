/**
 * CSV formatting for every file retailctl writes (RFC 4180: comma, `"` doubled inside a quoted field,
 * `\n` after each record), straight into large strings: quoting only the fields that need it (a comma,
 * a quote, CR or LF), so a million drift rows cost a few hundred milliseconds, not seconds.
 *
 * The bytes are those csv-stringify writes with `escape_formulas` for the same rows (a differential
 * test holds it to that): a string cell a spreadsheet would run as a formula (leading `=`, `+`, `-`,
 * `@`, tab, CR, or their full-width forms) gets a leading `'`, as OWASP's CSV injection guidance says;
 * numbers (negative ones too) stay numbers.
 */

/** First characters that make a spreadsheet evaluate a cell. */
const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);
const NEEDS_QUOTES = /[",\n\r]/;

/** One cell. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'bigint') return `${value}`;
  if (typeof value === 'boolean') return value ? '1' : '';
  let text = typeof value === 'string' ? value : value instanceof Date ? `${value.getTime()}` : JSON.stringify(value);
  if (text === '') return '';
  if (FORMULA_START.has(text[0]!)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Chunks this size are handed to the writer. */
const CHUNK = 1 << 16;

/** The header row, then one record per row (the columns' values in order), in chunks of about 64 KB. */
export function* csvChunks(rows: Iterable<object>, columns: readonly string[]): Generator<string> {
  yield `${columns.map(csvCell).join(',')}\n`;
  const n = columns.length;
  let buffer = '';
  for (const row of rows) {
    const record = row as Record<string, unknown>;
    let line = csvCell(record[columns[0]!]);
    for (let c = 1; c < n; c++) line += `,${csvCell(record[columns[c]!])}`;
    buffer += `${line}\n`;
    if (buffer.length >= CHUNK) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer) yield buffer;
}
