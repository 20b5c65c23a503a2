/**
 * Reading a manifest `images migrate --manifest` wrote (CSV or JSON, by extension): its records with
 * where each is (`file:line`, `file item N`) and its columns. Shared by `images verify` and
 * `images manifest merge`.
 */
import { readFile } from 'node:fs/promises';
import { ExitCode, RetailctlError } from '../errors.js';
import { shown } from '../util/sanitize.js';

export function manifestError(message: string, hint?: string): RetailctlError {
  return new RetailctlError('IMAGES_MANIFEST', message, { exitCode: ExitCode.Usage, hint: hint ?? 'pass the file images migrate --manifest wrote (CSV or JSON)' });
}

/** A CSV cell written with a leading `'` against spreadsheet formulas (see io/csv.ts), as it was. */
function unescapeFormula(value: string): string {
  return /^'[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]/.test(value) ? value.slice(1) : value;
}

export interface ManifestRecords {
  records: { at: string; r: Record<string, unknown> }[];
  columns: string[];
  /** `--manifest <file>` or the like, for messages. */
  label: string;
  /** CSV cells may carry the formula escape (a leading `'`); JSON values are as written. */
  format: 'csv' | 'json';
  /** A record's value of `column` as text, as the migration wrote it ('' when absent): CSV cells unescaped, JSON values as they are. */
  cell: (r: Record<string, unknown>, column: string) => string;
}

/** The records of a manifest file; `emptyColumns`: the columns a JSON manifest with no rows counts as having. */
export async function readManifestRecords(file: string, given: string, label: string, emptyColumns: readonly string[]): Promise<ManifestRecords> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw manifestError(`${label}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`, code === 'ENOENT' ? 'pass the file images migrate --manifest wrote' : undefined);
  }
  let records: { at: string; r: Record<string, unknown> }[];
  let columns: string[];
  if (file.toLowerCase().endsWith('.json')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (err) {
      throw manifestError(`${label} is not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(doc)) throw manifestError(`${label}: expected the JSON array images migrate --manifest writes`);
    const bad = doc.findIndex((r) => !r || typeof r !== 'object' || Array.isArray(r));
    if (bad >= 0) throw manifestError(`${label} item ${bad + 1}: not an object; not a manifest written by images migrate --manifest`);
    records = doc.map((r, i) => ({ at: `${given} item ${i + 1}`, r: r as Record<string, unknown> }));
    columns = doc.length ? Object.keys(doc[0] as object) : [...emptyColumns];
  } else {
    if (text.replace(/^\uFEFF/, '').trim() === '') throw manifestError(`${label}: the file is empty (not even a header row): not a manifest written by images migrate --manifest`);
    const { parse } = await import('csv-parse/sync');
    let header: string[] = [];
    let parsed: { record: Record<string, string>; info: { lines: number } }[];
    try {
      parsed = parse(text, { columns: (h: string[]) => (header = h.map((c) => c.trim())), bom: true, info: true, skip_empty_lines: true }) as typeof parsed;
    } catch (err) {
      const e = err as Error & { lines?: number };
      throw manifestError(`${label}${e.lines ? `:${e.lines}` : ''}: not a CSV manifest (${e.message})`);
    }
    records = parsed.map(({ record, info }) => ({ at: `${given}:${info.lines}`, r: record }));
    columns = header;
  }
  const format = file.toLowerCase().endsWith('.json') ? 'json' : 'csv';
  const cell = (r: Record<string, unknown>, column: string) => (r[column] === undefined || r[column] === null ? '' : format === 'csv' ? unescapeFormula(String(r[column])) : String(r[column]));
  return { records, columns, label, format, cell };
}
