import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { DateTime } from 'luxon';
import type { AwsClients } from '../aws/context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { shown as quote } from '../util/sanitize.js';
import { DelimitedError, DelimitedReader, field, type RawRecord } from './delimited.js';
import { checkUnchanged, findFiles, openInput, readFailure, type InputFile } from './files.js';
import type { FileStats, SourceLimits, SourceStats } from './freshness.js';
import type { InventoryStore, SourceData } from './reconcile.js';
import { ROLE_COLUMNS, type Role, type RowError } from './model.js';
import { describeValue, keyText, parsePrice, parseQuantityBytes, parseQuantityText, parseQuantityValue, trimEnd, trimStart } from './values.js';

/** The logical columns each role needs (config `columns` maps them to the file's own names). */
export { ROLE_COLUMNS, type Role, type RowError, type SourceRow } from './model.js';

/** How to read one source. */
export interface SourceSpec {
  name: string;
  role: Role;
  /** Local paths, globs, or s3://bucket/key (resolved against the config's directory). */
  paths: string[];
  /** Logical column → the file's column name: sku, location, onHand | reserved | available, price, asOf. */
  columns: Record<string, string>;
  format?: 'csv' | 'tsv' | 'jsonl' | 'json';
  /** Location renames for this source (applied after the global ones). */
  locationMap: Record<string, string>;
  /** allowEmpty, maxAge, maxShrink (defaults: refuse empty exports, no age limit, 50%). */
  limits?: SourceLimits;
}

export interface ReadOptions {
  /** Resolve a relative path written in the config. */
  resolve: (p: string) => string;
  /** Needed for s3:// sources. */
  aws?: () => Promise<AwsClients>;
  /** The user's working directory: file names in messages are shown relative to it. */
  cwd: string;
  signal?: AbortSignal;
  /** The run's clock (default: the system's): an `asOf` value well after it is a bad row. */
  now?: Date;
}

export function formatOf(file: string, declared?: SourceSpec['format']): NonNullable<SourceSpec['format']> {
  if (declared) return declared;
  const base = file.toLowerCase().replace(/\.gz$/, '');
  if (base.endsWith('.tsv') || base.endsWith('.tab')) return 'tsv';
  if (base.endsWith('.jsonl') || base.endsWith('.ndjson')) return 'jsonl';
  if (base.endsWith('.json')) return 'json';
  return 'csv';
}

/** A user's mistake in one source's file (exit 2), named `source <name> (<file>): …`. */
function inputError(spec: SourceSpec, file: string, message: string, hint: string, code = 'INVENTORY_READ'): RetailctlError {
  return new RetailctlError(code, `source ${spec.name} (${quote(file)}): ${message}`, { exitCode: ExitCode.Usage, hint });
}

/** The same, said of the file: `source <name>: <file> <predicate>`. */
function fileError(spec: SourceSpec, file: string, predicate: string, hint: string, code = 'INVENTORY_READ'): RetailctlError {
  return new RetailctlError(code, `source ${spec.name}: ${quote(file)} ${predicate}`, { exitCode: ExitCode.Usage, hint });
}

/** What a header that is one field holding another delimiter looks like, for the missing-columns message. */
function delimiterGuess(spec: SourceSpec, format: string, header: string[]): { note: string; hint: string } | undefined {
  if (header.length !== 1) return undefined;
  const only = header[0]!;
  if (format !== 'tsv' && only.includes('\t')) return { note: 'the header looks tab-separated', hint: `set format: tsv under inventory.sources.${spec.name} in the config (or name the file .tsv)` };
  if (format === 'tsv' && only.includes(',')) return { note: 'the header looks comma-separated', hint: `set format: csv under inventory.sources.${spec.name} in the config (or name the file .csv)` };
  if (only.includes(';')) return { note: 'the header looks semicolon-separated', hint: 'export it with commas (CSV) or tabs (TSV): those are the delimiters retailctl reads' };
  return undefined;
}

function missingColumns(spec: SourceSpec, file: string, available: string[], format = 'json'): RetailctlError {
  const needed = requiredColumns(spec).filter(([, physical]) => !available.includes(physical));
  const guess = format === 'csv' || format === 'tsv' ? delimiterGuess(spec, format, available) : undefined;
  return inputError(
    spec,
    file,
    `missing column${needed.length > 1 ? 's' : ''} ${needed.map(([logical, physical]) => `"${physical}" (${logical})`).join(', ')}; the file has: ${available.map((c) => `"${quote(c, 60)}"`).join(', ')}${guess ? `; ${guess.note}` : ''}`,
    guess?.hint ?? `fix inventory.sources.${spec.name}.columns in the config`,
    'INVENTORY_COLUMN',
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

/** The header of a CSV/TSV export: logical column → field index; a duplicated or missing column is exit 2. */
export function headerIndex(spec: SourceSpec, shown: string, header: string[], format: string): Record<string, number> {
  const index: Record<string, number> = {};
  for (const [logical, physical] of Object.entries(spec.columns)) {
    const at = header.flatMap((name, k) => (name === physical ? [k] : []));
    if (at.length > 1) {
      throw inputError(
        spec,
        shown,
        `column "${quote(physical, 60)}" (${logical}) appears ${at.length} times in the header (columns ${at.map((k) => k + 1).join(', ')}): which one to use is unclear`,
        'fix the export so each column name appears once',
        'INVENTORY_COLUMN',
      );
    }
    if (at.length === 1) index[logical] = at[0]!;
  }
  if (requiredColumns(spec).some(([logical]) => index[logical] === undefined)) throw missingColumns(spec, shown, header, format);
  return index;
}

/** What an export with no rows would make of the reconciliation, for the message. */
const EMPTY_EFFECT: Record<Role, string> = {
  warehouse: 'every channel row would look like an unknown sku',
  orders: 'nothing would count as reserved',
  channel: 'every sku would look missing in the channel',
};

function emptyHint(spec: SourceSpec): string {
  return `check the export (did it fail?); if an empty export is normal for this source, set allowEmpty: true under inventory.sources.${spec.name}`;
}

/**
 * Where a source's good rows go: straight into a store (storeSink), or, for the parallel engine,
 * into per-partition batches.
 */
export interface RowSink {
  /** The id of a location (its name after the location map). */
  locationId(name: string): number;
  /**
   * A good row. The sku is bytes [start, end) of `buf` (already trimmed), or `text` when it had to
   * be decoded (a quoted field, a JSON value).
   */
  row(buf: Uint8Array, start: number, end: number, text: string | undefined, location: number, quantity: number, price: number | undefined, file: string, line: number): void;
  onError(e: RowError): void;
}

/** A sink that interns each row's key and records its quantity in `source` of `store`. */
export function storeSink(store: InventoryStore, source: SourceData, duplicates: 'error' | 'sum', onError: (e: RowError) => void): RowSink {
  const keys = store.keys;
  const at = { file: '', line: 0 };
  /** The key after the previous row's: right whenever this export is sorted like the first one read. */
  let predicted = -1;
  return {
    locationId: (name) => store.locationId(name),
    row(buf, start, end, text, location, quantity, price, file, line) {
      let id: number;
      if (text !== undefined) id = keys.internString(text, location);
      else if (keys.matches(predicted, buf, start, end, location)) id = predicted;
      else id = keys.intern(buf, start, end, location);
      predicted = id + 1;
      at.file = file;
      at.line = line;
      store.set(source, id, quantity, price, at, duplicates, onError);
    },
    onError,
  };
}

const NO_BYTES = new Uint8Array(0);

const LF = 0x0a;
const CR = 0x0d;

/**
 * Watches the bytes before the first line feed: a carriage return there that is not part of a CRLF
 * means the file uses CR-only line endings, which would read as one huge line.
 */
export class LineEndingCheck {
  #done = false;
  #crAtEnd = false;
  /** True when the file uses CR-only line endings. */
  crOnly(chunk: Buffer): boolean {
    if (this.#done || chunk.length === 0) return false;
    if (this.#crAtEnd) {
      this.#done = true;
      return chunk[0] !== LF;
    }
    const lf = chunk.indexOf(LF);
    const cr = chunk.indexOf(CR);
    if (lf >= 0) this.#done = true;
    if (cr < 0 || (lf >= 0 && cr > lf)) return false;
    if (lf >= 0) return cr !== lf - 1;
    if (cr < chunk.length - 1) return true;
    this.#crAtEnd = true;
    return false;
  }
}

/** `2026-11-27T02:00:00Z`, `2026-11-27T02:00:00+01:00`, `2026-11-27 02:00:00` (UTC without an offset), `2026-11-27`. */
export function parseAsOf(text: string): number {
  const t = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return Number.NaN;
  const d = DateTime.fromISO(t.length > 10 && t[10] === ' ' ? `${t.slice(0, 10)}T${t.slice(11)}` : t, { zone: 'utc' });
  return d.isValid ? d.toMillis() : Number.NaN;
}

/** How far an `asOf` value may be ahead of the run's clock (clock skew) before it is a bad row. */
export const ASOF_FUTURE_MS = 5 * 60_000;

/** What AsOfTracker.see says of a value. */
export const AsOf = { Ok: 0, NotADate: 1, Future: 2 } as const;
export type AsOf = (typeof AsOf)[keyof typeof AsOf];

/**
 * The newest `asOf` of a file, kept cheaply: a value repeated row after row is parsed once. A value
 * more than ASOF_FUTURE_MS after `now` is refused (one such row must not make a stale export look fresh).
 */
export class AsOfTracker {
  #last: string | undefined;
  #lastMs = Number.NaN;
  #latest: number;
  newest = Number.NaN;
  constructor(now: number) {
    this.#latest = now + ASOF_FUTURE_MS;
  }
  see(text: string): AsOf {
    if (text !== this.#last) {
      this.#last = text;
      this.#lastMs = parseAsOf(text);
    }
    if (Number.isNaN(this.#lastMs)) return AsOf.NotADate;
    if (this.#lastMs > this.#latest) return AsOf.Future;
    if (!(this.#lastMs <= this.newest)) this.newest = this.#lastMs;
    return AsOf.Ok;
  }
}

/** The bad-row reason for an `asOf` value AsOfTracker.see did not take. */
function asOfReason(spec: SourceSpec, verdict: AsOf, value: unknown, now: number): string {
  if (verdict === AsOf.Future) return `${spec.columns.asOf} is in the future: ${describeValue(value)} (more than 5 minutes after this run's clock, ${new Date(now).toISOString()})`;
  return `${spec.columns.asOf} is not a date-time like 2026-11-27T02:00:00Z: ${describeValue(value)}`;
}

/**
 * The text of a JSON-array export (read whole): past the longest string JavaScript can hold (about
 * 512 MB) decoding fails with ERR_STRING_TOO_LONG, said here as what to do instead (exit 2).
 */
export function jsonArrayText(spec: SourceSpec, shown: string, decode: () => string): string {
  try {
    return decode();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_STRING_TOO_LONG') throw err;
    throw fileError(spec, shown, 'is a JSON array too large to read (over about 512 MB: a JSON array is read whole)', `export it as JSON Lines instead (one object per line, e.g. ${quote(shown.replace(/\.json(\.gz)?$/i, '.jsonl$1'))}): those are read row by row, at any size`);
  }
}

/**
 * Stream every row of a source into the store; bad rows go to the sink's `onError` and reading
 * continues. A missing or duplicated column, an unreadable file, an empty export (unless the source
 * allows it) and CR-only line endings are fatal (exit 2). CSV and TSV take a fast path on raw bytes:
 * no string is built for the sku or the location of a row. Returns what the freshness checks need.
 */
export async function readSource(spec: SourceSpec, opts: ReadOptions, sink: RowSink): Promise<SourceStats> {
  const inputs = await findFiles(spec.name, spec.paths, opts);
  const stats: SourceStats = { name: spec.name, rows: 0, files: [] };
  for (const input of inputs) {
    const opened = await openInput(spec.name, input, opts);
    const file: FileStats = { shown: input.shown, rows: 0, ...(opened.modified ? { modified: opened.modified } : {}) };
    try {
      await readFile(spec, input, opened.stream, file, sink, formatOf(input.file, spec.format), (opts.now ?? new Date()).getTime(), opts.signal);
    } catch (err) {
      throw readError(spec, input, err, opts.signal);
    }
    if (opened.local) await checkUnchanged(spec.name, input, opened.local);
    stats.files.push(file);
    stats.rows += file.rows;
  }
  checkNotEmpty(spec, stats, inputs);
  return stats;
}

/** What a failure while reading `input` says: a stray quote is exit 2 with file:line, the rest as readFailure says. */
export function readError(spec: SourceSpec, input: InputFile, err: unknown, signal?: AbortSignal): unknown {
  // a stray quote leaves the rest of the file unreadable: never a bad row that --max-errors lets through
  if (err instanceof DelimitedError) {
    return new RetailctlError('INVENTORY_READ', `source ${spec.name}: ${quote(input.shown)}:${err.line}: ${err.reason}: the rest of the file cannot be read`, {
      exitCode: ExitCode.Usage,
      hint: 'fix the quoting on that line of the export (a field that starts with " must end with " right before the delimiter; a " inside it is written "")',
      locations: [{ file: input.shown, line: err.line, message: `source ${spec.name}: ${err.reason}: the rest of the file cannot be read` }],
    });
  }
  return readFailure(spec.name, input, err, signal);
}

/** A source with no rows at all is exit 2, unless it allows it. */
export function checkNotEmpty(spec: SourceSpec, stats: SourceStats, inputs: readonly InputFile[]): void {
  if (stats.rows > 0 || spec.limits?.allowEmpty) return;
  const which = stats.files.length === 1 ? `${quote(stats.files[0]!.shown)} has` : `its ${stats.files.length} files have`;
  const delimited = inputs.every((f) => ['csv', 'tsv'].includes(formatOf(f.file, spec.format)));
  throw new RetailctlError('INVENTORY_EMPTY', `source ${spec.name}: ${which} ${delimited ? 'a header but no rows' : 'no rows'}: ${EMPTY_EFFECT[spec.role]}`, { exitCode: ExitCode.Usage, hint: emptyHint(spec) });
}

/**
 * One byte range of a CSV/TSV file for the parallel engine: its header already read (the logical
 * column → field index), starting on a line boundary (which the caller checks was not inside a
 * quoted field: the range before it then fails).
 */
export interface FileRange {
  index: Record<string, number>;
  firstLine: number;
  /** Set by the reader: the line number after the range's last line. */
  nextLine: number;
}

export async function readFile(spec: SourceSpec, input: InputFile, stream: Readable, stats: FileStats, sink: RowSink, format: NonNullable<SourceSpec['format']>, now: number, signal?: AbortSignal, range?: FileRange): Promise<void> {
  const shown = input.shown;
  const onError = sink.onError;
  const quantityColumn = ROLE_COLUMNS[spec.role].quantity;
  const asOf = spec.columns.asOf ? new AsOfTracker(now) : undefined;
  let bytes = 0;
  const empty = (what: string) => fileError(spec, shown, `${what}: ${EMPTY_EFFECT[spec.role]}`, emptyHint(spec), 'INVENTORY_EMPTY');
  const crOnly = () =>
    fileError(spec, shown, 'has CR-only line endings (classic Mac OS style), so it would read as one line', "save it with LF or CRLF line endings (e.g. tr '\\r' '\\n' < in.csv > out.csv)", 'INVENTORY_LINE_ENDINGS');
  const lineEndings = new LineEndingCheck();
  /** A compressed file read as text gives a garbled header: say what it is instead. */
  const sniff = (first: Buffer) => {
    if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b && !input.file.toLowerCase().endsWith('.gz')) {
      throw fileError(spec, shown, 'is gzip-compressed, but its name does not end in .gz', `name it ${quote(shown)}.gz (or decompress it)`);
    }
  };
  const done = () => {
    if (asOf && !Number.isNaN(asOf.newest)) stats.asOf = new Date(asOf.newest);
  };

  const emit = (get: (logical: string) => unknown, line: number) => {
    stats.rows++;
    const rawSku = get('sku');
    const sku = keyText(rawSku);
    if (sku === undefined && rawSku !== undefined && rawSku !== null) return onError({ source: spec.name, file: shown, line, reason: `${spec.columns.sku} is not text: ${describeValue(rawSku)}` });
    if (!sku) return onError({ source: spec.name, file: shown, line, reason: `empty ${spec.columns.sku}` });
    const rawLocation = get('location');
    const location = keyText(rawLocation);
    if (location === undefined && rawLocation !== undefined && rawLocation !== null) return onError({ source: spec.name, file: shown, line, reason: `${spec.columns.location} is not text: ${describeValue(rawLocation)}` });
    if (!location) return onError({ source: spec.name, file: shown, line, reason: `empty ${spec.columns.location}` });
    const rawQty = get(quantityColumn);
    const quantity = parseQuantityValue(rawQty);
    if (Number.isNaN(quantity)) return onError({ source: spec.name, file: shown, line, reason: `${spec.columns[quantityColumn]} is not a whole number: ${describeValue(rawQty)}` });
    if (asOf) {
      const raw = get('asOf');
      const verdict: AsOf = typeof raw === 'string' ? asOf.see(raw) : AsOf.NotADate;
      if (verdict !== AsOf.Ok) return onError({ source: spec.name, file: shown, line, reason: asOfReason(spec, verdict, raw, now) });
    }
    const price = spec.columns.price ? parsePrice(get('price')) : undefined;
    sink.row(NO_BYTES, 0, 0, sku, sink.locationId(spec.locationMap[location] ?? location), quantity, price, shown, line);
  };

  if (format === 'csv' || format === 'tsv') {
    let index: Record<string, number> | undefined = range?.index;
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
      const id = raw ? sink.locationId(spec.locationMap[raw] ?? raw) : -1;
      if (!r.escaped[i] && locationCache.length < 256) locationCache.push({ bytes: Buffer.from(r.buf.subarray(start, end)), id });
      return id;
    };
    let rows = 0;
    const reader = new DelimitedReader(format === 'tsv' ? '\t' : ',', {
      raw: (r) => {
        if (!index) {
          index = headerIndex(spec, shown, Array.from({ length: r.count }, (_, i) => field(r, i).trim()), format);
          return;
        }
        rows++;
        const skuAt = index.sku!;
        const locAt = index.location!;
        const qtyAt = index[quantityColumn]!;
        if (r.count <= Math.max(skuAt, locAt, qtyAt)) {
          return onError({ source: spec.name, file: shown, line: r.line, reason: `${r.count} field${r.count === 1 ? '' : 's'} where the header has more (wrong delimiter?)` });
        }
        // trimmed only when an end byte could start or end whitespace (a blank, a control, non-ASCII)
        let skuStart = r.starts[skuAt]!;
        let skuEnd = r.ends[skuAt]!;
        if (skuStart < skuEnd && (r.buf[skuStart]! <= 0x20 || r.buf[skuStart]! >= 0x80)) skuStart = trimStart(r.buf, skuStart, skuEnd);
        if (skuEnd > skuStart && (r.buf[skuEnd - 1]! <= 0x20 || r.buf[skuEnd - 1]! >= 0x80)) skuEnd = trimEnd(r.buf, skuStart, skuEnd);
        if (skuStart === skuEnd) return onError({ source: spec.name, file: shown, line: r.line, reason: `empty ${spec.columns.sku}` });
        const location = locationOf(r, locAt);
        if (location < 0) return onError({ source: spec.name, file: shown, line: r.line, reason: `empty ${spec.columns.location}` });
        const quantity = r.escaped[qtyAt] ? parseQuantityText(field(r, qtyAt)) : parseQuantityBytes(r.buf, r.starts[qtyAt]!, r.ends[qtyAt]!);
        if (Number.isNaN(quantity)) {
          return onError({ source: spec.name, file: shown, line: r.line, reason: `${spec.columns[quantityColumn]} is not a whole number: ${describeValue(field(r, qtyAt))}` });
        }
        if (asOf && index.asOf !== undefined) {
          const text = index.asOf < r.count ? field(r, index.asOf) : '';
          const verdict = asOf.see(text);
          if (verdict !== AsOf.Ok) return onError({ source: spec.name, file: shown, line: r.line, reason: asOfReason(spec, verdict, text, now) });
        }
        let price: number | undefined;
        if (index.price !== undefined && index.price < r.count) price = parsePrice(field(r, index.price));
        sink.row(r.buf, skuStart, skuEnd, r.escaped[skuAt] ? field(r, skuAt).trim() : undefined, location, quantity, price, shown, r.line);
      },
    }, range ? { firstLine: range.firstLine, bom: false } : {});
    try {
      for await (const chunk of stream) {
        signal?.throwIfAborted(); // Ctrl-C / SIGTERM: stop between chunks (each is ~1 MB of work)
        const buf = chunk as Buffer;
        if (!range) {
          if (bytes === 0) sniff(buf);
          if (lineEndings.crOnly(buf)) throw crOnly();
        }
        bytes += buf.length;
        reader.push(buf);
      }
      reader.end();
    } finally {
      stats.rows += rows; // also the rows before a malformed line
      if (range) range.nextLine = reader.nextLine;
    }
    if (range) return done();
    if (!index && !spec.limits?.allowEmpty) throw empty(bytes === 0 ? 'is empty (0 bytes)' : 'has no header row, only blank lines');
    return done();
  }

  if (format === 'jsonl') {
    let pending = '';
    let line = 0;
    let seenColumns = false;
    const handle = (text: string) => {
      line++;
      if (!text.trim()) return;
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (err) {
        stats.rows++;
        return onError({ source: spec.name, file: shown, line, reason: `not valid JSON: ${(err as Error).message}` });
      }
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
        stats.rows++;
        return onError({ source: spec.name, file: shown, line, reason: 'not a JSON object' });
      }
      const record = doc as Record<string, unknown>;
      if (!seenColumns) {
        seenColumns = true;
        const missing = requiredColumns(spec).filter(([, physical]) => !(physical in record));
        if (missing.length) throw missingColumns(spec, shown, Object.keys(record));
        // JSON.parse keeps the last of two equal keys without a word: the first object stands for the header
        for (const [logical, physical] of Object.entries(spec.columns)) {
          const key = new RegExp(`${JSON.stringify(physical).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`, 'g');
          const times = text.match(key)?.length ?? 0;
          if (times > 1) throw inputError(spec, shown, `key "${quote(physical, 60)}" (${logical}) appears ${times} times in the object on line ${line}: which one to use is unclear`, 'fix the export so each key appears once per object', 'INVENTORY_COLUMN');
        }
      }
      emit((logical) => (spec.columns[logical] ? record[spec.columns[logical]!] : undefined), line);
    };
    const decoder = new StringDecoder('utf8');
    for await (const chunk of stream) {
      signal?.throwIfAborted();
      if (bytes === 0) sniff(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (lineEndings.crOnly(chunk as Buffer)) throw crOnly();
      pending += decoder.write(chunk as Buffer);
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        handle(pending.slice(0, nl).replace(/\r$/, ''));
        pending = pending.slice(nl + 1);
      }
    }
    pending += decoder.end();
    if (pending) handle(pending.replace(/\r$/, ''));
    if (stats.rows === 0 && !spec.limits?.allowEmpty) throw empty(bytes === 0 ? 'is empty (0 bytes)' : 'has no rows, only blank lines');
    return done();
  }

  // a JSON array is read whole (use JSON Lines for large exports)
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    signal?.throwIfAborted();
    if (chunks.length === 0) sniff(chunk as Buffer);
    chunks.push(chunk as Buffer);
  }
  const text = jsonArrayText(spec, shown, () => Buffer.concat(chunks).toString('utf8')).replace(/^\uFEFF/, '');
  if (!text.trim()) {
    if (spec.limits?.allowEmpty) return done();
    throw empty(text.length === 0 ? 'is empty (0 bytes)' : 'holds only whitespace');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fileError(spec, shown, `is not valid JSON: ${(err as Error).message}`, 'fix the export (or use JSON Lines: one object per line)');
  }
  if (!Array.isArray(doc)) throw fileError(spec, shown, 'is not a JSON array of objects', 'export the rows as a JSON array of objects, or as JSON Lines');
  doc.forEach((record: unknown, i) => {
    if (!record || typeof record !== 'object' || Array.isArray(record)) {
      stats.rows++;
      return onError({ source: spec.name, file: shown, line: i + 1, reason: 'not a JSON object' });
    }
    const r = record as Record<string, unknown>;
    if (i === 0) {
      const missing = requiredColumns(spec).filter(([, physical]) => !(physical in r));
      if (missing.length) throw missingColumns(spec, shown, Object.keys(r));
    }
    emit((logical) => (spec.columns[logical] ? r[spec.columns[logical]!] : undefined), i + 1);
  });
  done();
}
