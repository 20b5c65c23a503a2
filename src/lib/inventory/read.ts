import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { AwsClients } from '../aws/context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { DelimitedError, DelimitedReader, field, type RawRecord } from './delimited.js';
import type { InventoryStore, SourceData } from './reconcile.js';

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

/** Where a source's rows go. */
export interface RowSink {
  store: InventoryStore;
  source: SourceData;
  duplicates: 'error' | 'sum';
  onError: (e: RowError) => void;
}

const SPACE = 0x20;
const TAB = 0x09;
const MINUS = 0x2d;
const PLUS = 0x2b;

/** A whole number from bytes (optional sign, surrounding blanks), or NaN. */
function parseInteger(buf: Uint8Array, start: number, end: number): number {
  while (start < end && (buf[start] === SPACE || buf[start] === TAB)) start++;
  while (end > start && (buf[end - 1] === SPACE || buf[end - 1] === TAB)) end--;
  if (start >= end) return Number.NaN;
  let sign = 1;
  if (buf[start] === MINUS || buf[start] === PLUS) {
    if (buf[start] === MINUS) sign = -1;
    start++;
    if (start >= end) return Number.NaN;
  }
  if (end - start > 15) return Number.NaN;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return sign * n;
}

/**
 * Stream every row of a source into the store; bad rows go to the sink's `onError` and reading
 * continues. A missing column or an unreadable file is fatal (exit 2). CSV and TSV take a fast
 * path on raw bytes: no string is built for the sku or the location of a row.
 */
export async function readSource(spec: SourceSpec, opts: ReadOptions, sink: RowSink): Promise<void> {
  const onError = sink.onError;
  const onRow = (row: SourceRow) => sink.store.add(sink.source, row, sink.duplicates, onError);
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
        // raw location bytes → location id (after the location map); exports have few locations
        const locationCache: { bytes: Buffer; id: number }[] = [];
        const locationOf = (r: RawRecord, i: number): number => {
          const start = r.starts[i]!;
          const end = r.ends[i]!;
          const len = end - start;
          if (!r.escaped[i]) {
            outer: for (const entry of locationCache) {
              if (entry.bytes.length !== len) continue;
              for (let k = 0; k < len; k++) if (entry.bytes[k] !== r.buf[start + k]) continue outer;
              return entry.id;
            }
          }
          const raw = field(r, i).trim();
          const id = raw ? sink.store.locationId(spec.locationMap[raw] ?? raw) : -1;
          if (!r.escaped[i] && locationCache.length < 256) locationCache.push({ bytes: Buffer.from(r.buf.subarray(start, end)), id });
          return id;
        };
        const at = { file: shown, line: 0 };
        /** The key after the previous row's: right whenever this export is sorted like the first one read. */
        let predicted = -1;
        const reader = new DelimitedReader(format === 'tsv' ? '\t' : ',', {
          raw: (r) => {
            if (!index) {
              const header = Array.from({ length: r.count }, (_, i) => field(r, i).trim());
              index = {};
              for (const [logical, physical] of Object.entries(spec.columns)) {
                const k = header.indexOf(physical);
                if (k >= 0) index[logical] = k;
              }
              if (requiredColumns(spec).some(([logical]) => index![logical] === undefined)) throw missingColumns(spec, shown, header);
              return;
            }
            const skuAt = index.sku!;
            const locAt = index.location!;
            const qtyAt = index[quantityColumn]!;
            if (r.count <= Math.max(skuAt, locAt, qtyAt)) {
              return onError({ source: spec.name, file: shown, line: r.line, reason: `${r.count} field${r.count === 1 ? '' : 's'} where the header has more (wrong delimiter?)` });
            }
            let skuStart = r.starts[skuAt]!;
            let skuEnd = r.ends[skuAt]!;
            while (skuStart < skuEnd && r.buf[skuStart] === SPACE) skuStart++;
            while (skuEnd > skuStart && r.buf[skuEnd - 1] === SPACE) skuEnd--;
            if (skuStart === skuEnd) return onError({ source: spec.name, file: shown, line: r.line, reason: `empty ${spec.columns.sku}` });
            const location = locationOf(r, locAt);
            if (location < 0) return onError({ source: spec.name, file: shown, line: r.line, reason: `empty ${spec.columns.location}` });
            const quantity = r.escaped[qtyAt] ? Number(field(r, qtyAt)) : parseInteger(r.buf, r.starts[qtyAt]!, r.ends[qtyAt]!);
            if (!Number.isInteger(quantity)) {
              return onError({ source: spec.name, file: shown, line: r.line, reason: `${spec.columns[quantityColumn]} is not a whole number: ${JSON.stringify(field(r, qtyAt))}` });
            }
            let price: number | undefined;
            if (index.price !== undefined && index.price < r.count) {
              const p = Number(field(r, index.price));
              if (Number.isFinite(p)) price = p;
            }
            const keys = sink.store.keys;
            let id: number;
            if (r.escaped[skuAt]) id = keys.internString(field(r, skuAt).trim(), location);
            else if (keys.matches(predicted, r.buf, skuStart, skuEnd, location)) id = predicted;
            else id = keys.intern(r.buf, skuStart, skuEnd, location);
            predicted = id + 1;
            at.line = r.line;
            sink.store.set(sink.source, id, quantity, price, at, sink.duplicates, onError);
          },
        });
        for await (const chunk of stream) {
          opts.signal?.throwIfAborted(); // Ctrl-C / SIGTERM: stop between chunks (each is ~1 MB of work)
          reader.push(chunk as Buffer);
        }
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
          if (!seenColumns) {
            seenColumns = true;
            const missing = requiredColumns(spec).filter(([, physical]) => !(physical in record));
            if (missing.length) throw missingColumns(spec, shown, Object.keys(record));
          }
          emit((logical) => (spec.columns[logical] ? record[spec.columns[logical]!] : undefined), line);
        };
        let seenColumns = false;
        stream.setEncoding('utf8');
        for await (const chunk of stream) {
          opts.signal?.throwIfAborted();
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
        for await (const chunk of stream) {
          opts.signal?.throwIfAborted();
          text += chunk as string;
        }
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
