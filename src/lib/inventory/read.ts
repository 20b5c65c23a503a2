import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { AwsClients } from '../aws/context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { DelimitedError, DelimitedReader } from './delimited.js';

/** The logical columns each role needs (config `columns` maps them to the file's own names). */
export const ROLE_COLUMNS = {
  warehouse: { quantity: 'onHand' },
  orders: { quantity: 'reserved' },
  channel: { quantity: 'available' },
} as const;

export type Role = keyof typeof ROLE_COLUMNS;

/** One row problem: where it is and what is wrong, for the user and for `--errors`. */
export interface RowError {
  source: string;
  file: string;
  line: number;
  reason: string;
}

/** How to read one source. */
export interface SourceSpec {
  name: string;
  role: Role;
  /** Local paths, globs, or s3://bucket/key (resolved against the config's directory). */
  paths: string[];
  /** Logical column → the file's column name: sku, location, onHand | reserved | available, price. */
  columns: Record<string, string>;
  format?: 'csv' | 'tsv' | 'jsonl' | 'json';
  /** Location renames for this source (applied after the global ones). */
  locationMap: Record<string, string>;
}

/** One parsed row. */
export interface SourceRow {
  sku: string;
  location: string;
  quantity: number;
  price?: number;
  file: string;
  line: number;
}

export interface ReadOptions {
  /** Resolve a relative path written in the config. */
  resolve: (p: string) => string;
  /** Needed for s3:// sources. */
  aws?: () => Promise<AwsClients>;
  /** The user's working directory: file names in messages are shown relative to it. */
  cwd: string;
  signal?: AbortSignal;
}

function formatOf(file: string, declared?: SourceSpec['format']): NonNullable<SourceSpec['format']> {
  if (declared) return declared;
  const base = file.toLowerCase().replace(/\.gz$/, '');
  if (base.endsWith('.tsv') || base.endsWith('.tab')) return 'tsv';
  if (base.endsWith('.jsonl') || base.endsWith('.ndjson')) return 'jsonl';
  if (base.endsWith('.json')) return 'json';
  return 'csv';
}

/** Expand globs and resolve paths; s3:// paths pass through. */
export async function expandPaths(spec: SourceSpec, resolve: ReadOptions['resolve']): Promise<string[]> {
  const out: string[] = [];
  for (const p of spec.paths) {
    if (p.startsWith('s3://')) {
      out.push(p);
      continue;
    }
    const absolute = resolve(p);
    if (/[*?[\]{}]/.test(p)) {
      const { glob } = await import('tinyglobby');
      const matches = (await glob(absolute.split(path.sep).join('/'), { absolute: true })).sort();
      if (matches.length === 0) throw new RetailctlError('INVENTORY_NO_FILES', `source ${spec.name}: no file matches ${p}`, { exitCode: ExitCode.Usage });
      out.push(...matches);
    } else {
      out.push(absolute);
    }
  }
  return out;
}

async function openStream(file: string, opts: ReadOptions): Promise<Readable> {
  let stream: Readable;
  if (file.startsWith('s3://')) {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(file);
    if (!m) throw new RetailctlError('INVENTORY_PATH', `not an s3://bucket/key path: ${file}`, { exitCode: ExitCode.Usage });
    if (!opts.aws) throw new RetailctlError('INTERNAL', 's3 source without an AWS context');
    const s3 = await (await opts.aws()).client('s3');
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const res = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }), { abortSignal: opts.signal });
    stream = res.Body as Readable;
  } else {
    stream = createReadStream(file, { highWaterMark: 1 << 20 });
  }
  return file.toLowerCase().endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
}

function missingColumns(spec: SourceSpec, file: string, available: string[]): RetailctlError {
  const needed = requiredColumns(spec).filter(([, physical]) => !available.includes(physical));
  return new RetailctlError(
    'INVENTORY_COLUMN',
    `source ${spec.name} (${file}): missing column${needed.length > 1 ? 's' : ''} ${needed.map(([logical, physical]) => `"${physical}" (${logical})`).join(', ')}; the file has: ${available.map((c) => `"${c}"`).join(', ')}`,
    { exitCode: ExitCode.Usage, hint: `fix inventory.sources.${spec.name}.columns in the config` },
  );
}

/** [logical, physical] pairs a source must have. */
function requiredColumns(spec: SourceSpec): [string, string][] {
  const quantity = ROLE_COLUMNS[spec.role].quantity;
  return ['sku', 'location', quantity].map((logical) => {
    const physical = spec.columns[logical];
    if (!physical) throw new RetailctlError('INVENTORY_COLUMN', `source ${spec.name}: columns.${logical} is not mapped`, { exitCode: ExitCode.Usage, hint: `add it under inventory.sources.${spec.name}.columns` });
    return [logical, physical];
  });
}

/**
 * Stream every row of a source to `onRow`; bad rows go to `onError` and reading continues.
 * A missing column or an unreadable file is fatal (exit 2).
 */
export async function readSource(spec: SourceSpec, opts: ReadOptions, onRow: (row: SourceRow) => void, onError: (e: RowError) => void): Promise<void> {
  const quantityColumn = ROLE_COLUMNS[spec.role].quantity;
  const files = await expandPaths(spec, opts.resolve);
  for (const file of files) {
    const shown = file.startsWith('s3://') ? file : path.relative(opts.cwd, file) || file;
    const format = formatOf(file, spec.format);
    let stream: Readable;
    try {
      stream = await openStream(file, opts);
    } catch (err) {
      if (err instanceof RetailctlError) throw err;
      throw new RetailctlError('INVENTORY_READ', `source ${spec.name}: cannot read ${shown}: ${(err as Error).message}`, { exitCode: ExitCode.Usage, cause: err });
    }

    const emit = (get: (logical: string) => unknown, line: number) => {
      const sku = String(get('sku') ?? '').trim();
      const rawLocation = String(get('location') ?? '').trim();
      const rawQty = get(quantityColumn);
      if (!sku) return onError({ source: spec.name, file: shown, line, reason: `empty ${spec.columns.sku}` });
      if (!rawLocation) return onError({ source: spec.name, file: shown, line, reason: `empty ${spec.columns.location}` });
      const quantity = typeof rawQty === 'number' ? rawQty : Number(String(rawQty ?? '').trim());
      if (rawQty === undefined || rawQty === null || String(rawQty).trim() === '' || !Number.isInteger(quantity)) {
        return onError({ source: spec.name, file: shown, line, reason: `${spec.columns[quantityColumn]} is not a whole number: ${JSON.stringify(rawQty ?? '')}` });
      }
      const row: SourceRow = { sku, location: spec.locationMap[rawLocation] ?? rawLocation, quantity, file: shown, line };
      if (spec.columns.price) {
        const price = Number(get('price'));
        if (Number.isFinite(price)) row.price = price;
      }
      onRow(row);
    };

    try {
      if (format === 'csv' || format === 'tsv') {
        let index: Record<string, number> | undefined;
        const reader = new DelimitedReader(format === 'tsv' ? '\t' : ',', (fields, line) => {
          if (!index) {
            const header = fields.map((f) => f.trim());
            index = {};
            for (const [logical, physical] of Object.entries(spec.columns)) {
              const at = header.indexOf(physical);
              if (at >= 0) index[logical] = at;
            }
            if (requiredColumns(spec).some(([logical]) => index![logical] === undefined)) throw missingColumns(spec, shown, header);
            return;
          }
          if (fields.length === 1 && Object.keys(index).length > 1) return onError({ source: spec.name, file: shown, line, reason: `1 field where the header has more (wrong delimiter?)` });
          emit((logical) => (index![logical] === undefined ? undefined : fields[index![logical]!]), line);
        });
        for await (const chunk of stream) reader.push(chunk as Buffer);
        reader.end();
      } else if (format === 'jsonl') {
        let pending = '';
        let line = 0;
        const handle = (text: string) => {
          line++;
          if (!text.trim()) return;
          let doc: unknown;
          try {
            doc = JSON.parse(text);
          } catch (err) {
            return onError({ source: spec.name, file: shown, line, reason: `not valid JSON: ${(err as Error).message}` });
          }
          if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return onError({ source: spec.name, file: shown, line, reason: 'not a JSON object' });
          const record = doc as Record<string, unknown>;
          if (line === 1 || !seenColumns) {
            seenColumns = true;
            const missing = requiredColumns(spec).filter(([, physical]) => !(physical in record));
            if (missing.length) throw missingColumns(spec, shown, Object.keys(record));
          }
          emit((logical) => (spec.columns[logical] ? record[spec.columns[logical]!] : undefined), line);
        };
        let seenColumns = false;
        stream.setEncoding('utf8');
        for await (const chunk of stream) {
          pending += chunk as string;
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            handle(pending.slice(0, nl).replace(/\r$/, ''));
            pending = pending.slice(nl + 1);
          }
        }
        if (pending) handle(pending.replace(/\r$/, ''));
      } else {
        // a JSON array is read whole (use JSON Lines for large exports)
        let text = '';
        stream.setEncoding('utf8');
        for await (const chunk of stream) text += chunk as string;
        let doc: unknown;
        try {
          doc = JSON.parse(text.replace(/^\uFEFF/, ''));
        } catch (err) {
          throw new RetailctlError('INVENTORY_READ', `source ${spec.name}: ${shown} is not valid JSON: ${(err as Error).message}`, { exitCode: ExitCode.Usage });
        }
        if (!Array.isArray(doc)) throw new RetailctlError('INVENTORY_READ', `source ${spec.name}: ${shown} is not a JSON array of objects`, { exitCode: ExitCode.Usage });
        doc.forEach((record, i) => {
          if (i === 0 && record && typeof record === 'object') {
            const missing = requiredColumns(spec).filter(([, physical]) => !(physical in (record as object)));
            if (missing.length) throw missingColumns(spec, shown, Object.keys(record as object));
          }
          const r = (record ?? {}) as Record<string, unknown>;
          emit((logical) => (spec.columns[logical] ? r[spec.columns[logical]!] : undefined), i + 1);
        });
      }
    } catch (err) {
      if (err instanceof DelimitedError) {
        onError({ source: spec.name, file: shown, line: err.line, reason: `${err.reason}: the rest of the file cannot be read` });
        continue;
      }
      throw err;
    }
  }
}
