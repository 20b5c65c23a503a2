/**
 * The product catalogue that maps each source image to catalogue fields: CSV (header row, quotes,
 * BOM) through csv-parse, or a JSON array of objects. Column names come from `images.columns`.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { ExitCode, RetailctlError } from '../errors.js';

/** Logical catalogue fields → default column names. */
export const DEFAULT_COLUMNS = { source: 'image', sku: 'sku', category: 'category', variant: 'variant', position: 'position' } as const;
export type CatalogField = keyof typeof DEFAULT_COLUMNS;

export interface CatalogRow {
  /** Where the row is, for messages: `catalog.csv:12` or `catalog.json item 3`. */
  at: string;
  /** The image: a path relative to the source, or a URL path on an http(s) origin. */
  source: string;
  sku: string;
  category: string;
  variant?: string;
  position?: string;
}

export interface CatalogProblem {
  at: string;
  reason: string;
}

export function catalogColumns(config: Record<string, string> | undefined, overrides: string[]): Record<CatalogField, string> {
  const out: Record<CatalogField, string> = { ...DEFAULT_COLUMNS };
  for (const [k, v] of Object.entries(config ?? {})) {
    if (!(k in DEFAULT_COLUMNS)) throw new RetailctlError('IMAGES_CONFIG', `images.columns.${k}: unknown field (use ${Object.keys(DEFAULT_COLUMNS).join(', ')})`, { exitCode: ExitCode.Usage });
    out[k as CatalogField] = v;
  }
  for (const o of overrides) {
    const m = /^([a-z]+)=(.+)$/.exec(o);
    if (!m || !(m[1]! in DEFAULT_COLUMNS)) throw new RetailctlError('USAGE', `--column: "${o}" is not field=column with field one of ${Object.keys(DEFAULT_COLUMNS).join(', ')}`, { exitCode: ExitCode.Usage });
    out[m[1] as CatalogField] = m[2]!;
  }
  return out;
}

/** Read the whole catalogue (rows are small; a million rows is ~100 MB of objects at most). */
export async function readCatalog(file: string, shown: string, columns: Record<CatalogField, string>): Promise<{ rows: CatalogRow[]; problems: CatalogProblem[] }> {
  const rows: CatalogRow[] = [];
  const problems: CatalogProblem[] = [];
  let checked = false;
  const take = (record: Record<string, unknown>, at: string) => {
    if (!checked) {
      checked = true;
      const missing = (['source', 'sku', 'category'] as const).filter((f) => !(columns[f] in record));
      if (missing.length) {
        throw new RetailctlError(
          'IMAGES_CATALOG',
          `${shown}: missing column${missing.length > 1 ? 's' : ''} ${missing.map((f) => `"${columns[f]}" (${f})`).join(', ')}; it has ${Object.keys(record).map((c) => `"${c}"`).join(', ')}`,
          { exitCode: ExitCode.Usage, hint: 'map them with images.columns in the config or --column field=column' },
        );
      }
    }
    const get = (f: CatalogField) => {
      const v = record[columns[f]];
      return v === undefined || v === null ? '' : String(v).trim();
    };
    const source = get('source');
    if (!source) return problems.push({ at, reason: `empty ${columns.source}` });
    if (!get('sku')) return problems.push({ at, reason: `empty ${columns.sku}` });
    const row: CatalogRow = { at, source, sku: get('sku'), category: get('category') };
    if (get('variant')) row.variant = get('variant');
    if (get('position')) row.position = get('position');
    rows.push(row);
  };
  let stream;
  try {
    // a FIFO with no writer blocks open() for ever, in a thread no signal can stop
    const st = await stat(file);
    if (!st.isFile()) throw new RetailctlError('IMAGES_CATALOG', `cannot read the catalogue ${shown}: ${st.isDirectory() ? 'is a directory' : 'is not a regular file (a FIFO, device or socket)'}`, { exitCode: ExitCode.Usage, hint: 'point --catalog at the catalogue export file' });
    if (file.toLowerCase().endsWith('.json')) {
      let doc: unknown;
      try {
        doc = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code) throw err;
        throw new RetailctlError('IMAGES_CATALOG', `${shown} is not valid JSON: ${(err as Error).message}`, { exitCode: ExitCode.Usage });
      }
      if (!Array.isArray(doc)) throw new RetailctlError('IMAGES_CATALOG', `${shown}: expected a JSON array of objects`, { exitCode: ExitCode.Usage });
      doc.forEach((r, i) => (r && typeof r === 'object' && !Array.isArray(r) ? take(r as Record<string, unknown>, `${shown} item ${i + 1}`) : problems.push({ at: `${shown} item ${i + 1}`, reason: 'not an object' })));
      return { rows, problems };
    }
    const { parse } = await import('csv-parse');
    const input = createReadStream(file);
    stream = parse({ columns: (header: string[]) => header.map((h) => h.trim()), bom: true, info: true, skip_empty_lines: true, relax_column_count: true, delimiter: file.toLowerCase().endsWith('.tsv') ? '\t' : ',' });
    // pipe() does not carry the file's errors (ENOENT, EISDIR, EACCES) on: the loop below gets them
    const parser = stream;
    input.on('error', (err) => parser.destroy(err));
    input.pipe(parser);
    for await (const { record, info } of stream as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) take(record, `${shown}:${info.lines}`);
  } catch (err) {
    if (err instanceof RetailctlError) throw err;
    const e = err as NodeJS.ErrnoException & { lines?: number };
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') {
      throw new RetailctlError('IMAGES_CATALOG', `cannot read the catalogue ${shown}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { exitCode: ExitCode.Usage });
    }
    throw new RetailctlError('IMAGES_CATALOG', `${shown}${e.lines ? `:${e.lines}` : ''}: ${e.message}`, { exitCode: ExitCode.Usage, hint: 'fix the catalogue file', locations: [{ file: shown, line: e.lines || undefined, message: e.message }] });
  }
  return { rows, problems };
}
