import { ByteWriter } from '../io/bytes.js';
import { csvCell } from '../io/csv.js';
import { KeyTable, NameTable } from './keytable.js';
import type { Pace } from './pace.js';
import type { Role, RowError, SourceRow } from './model.js';

/** Drift classes, most severe first. */
export const CLASSES = ['oversell', 'negative', 'unknown-sku', 'undersell', 'missing-in-channel', 'ok'] as const;
export type DriftClass = (typeof CLASSES)[number];

/** One (sku, location, channel) comparison. */
export interface ResultRow {
  sku: string;
  location: string;
  /** The channel source, or for `negative` the source holding the negative quantity. */
  channel: string;
  onHand: number | null;
  reserved: number | null;
  safetyStock: number;
  /** max(onHand − reserved − safetyStock, 0); null when the warehouse does not know the sku/location. */
  expected: number | null;
  /** What the channel offers (null: no row in the channel). */
  actual: number | null;
  /** actual − expected (null when either is unknown). */
  delta: number | null;
  class: DriftClass;
  price?: number;
  /** |delta| × price, when a price is known. */
  valueAtRisk?: number;
}

/** One source's quantities, by key id of the shared KeyTable. */
export class SourceData {
  qty: Float64Array;
  present: Uint8Array;
  price: Float64Array | undefined;
  /** Rows with a negative quantity, kept to report them. */
  readonly negatives: SourceRow[] = [];
  /** Number of distinct keys. */
  size = 0;

  constructor(
    readonly name: string,
    readonly role: Role,
    capacity: number,
  ) {
    this.qty = new Float64Array(capacity);
    this.present = new Uint8Array(capacity);
  }

  ensure(capacity: number): void {
    if (capacity <= this.qty.length) return;
    const n = Math.max(capacity, Math.ceil(this.qty.length * 1.5));
    const q = new Float64Array(n);
    q.set(this.qty);
    this.qty = q;
    const p = new Uint8Array(n);
    p.set(this.present);
    this.present = p;
    if (this.price) {
      // keys added from here on have no price until a row gives one (NaN), not a price of 0
      const pr = new Float64Array(n).fill(Number.NaN);
      pr.set(this.price);
      this.price = pr;
    }
  }
}

/**
 * All sources of one run over one key table: (sku, location) → id once, quantities per source in
 * typed arrays. Locations are few and interned to small ids after the location map is applied.
 */
export class InventoryStore {
  readonly keys: KeyTable;
  readonly #locations = new NameTable();
  /** Location names by id. */
  readonly locations: string[] = this.#locations.names;
  readonly sources: SourceData[] = [];

  /** `expectedKeys`: a guess at the number of keys, to size the tables (they grow as needed). */
  constructor(expectedKeys?: number) {
    this.keys = new KeyTable(expectedKeys);
  }

  /** The id of a (mapped) location name. */
  locationId(name: string): number {
    return this.#locations.id(name);
  }

  addSource(name: string, role: Role): SourceData {
    const source = new SourceData(name, role, this.keys.capacity);
    this.sources.push(source);
    return source;
  }

  /**
   * Record a quantity for key `id` in `source`. A repeat of a key is reported (or summed with
   * `duplicates: 'sum'`); a negative quantity is kept for the `negative` class.
   */
  set(source: SourceData, id: number, quantity: number, price: number | undefined, at: { file: string; line: number }, duplicates: 'error' | 'sum', onError: (e: RowError) => void): void {
    source.ensure(this.keys.capacity);
    if (quantity < 0) source.negatives.push({ sku: this.keys.sku(id), location: this.locations[this.keys.location(id)]!, quantity, file: at.file, line: at.line });
    if (source.present[id]) {
      if (duplicates === 'sum') source.qty[id] = source.qty[id]! + quantity;
      else onError({ source: source.name, file: at.file, line: at.line, reason: `duplicate sku/location ${this.keys.sku(id)} @ ${this.locations[this.keys.location(id)]} (already listed earlier in this source); use --duplicates sum to add them up` });
      return;
    }
    source.present[id] = 1;
    source.qty[id] = quantity;
    source.size += 1;
    if (price !== undefined) {
      source.price ??= new Float64Array(source.qty.length).fill(Number.NaN);
      source.price[id] = price;
    }
  }

  /** Convenience for rows already decoded (JSON sources, tests). */
  add(source: SourceData, row: SourceRow, duplicates: 'error' | 'sum', onError: (e: RowError) => void): void {
    const id = this.keys.internString(row.sku, this.locationId(row.location));
    this.set(source, id, row.quantity, row.price, row, duplicates, onError);
  }
}

export interface ReconcileOptions {
  /** Safety stock: one number for every sku, or per sku. */
  safetyStock: number | ((sku: string) => number);
  tolerance: number;
  /** Keep ok rows too (for --all); otherwise they are only counted. */
  keepOk?: boolean;
}

/** What the command reads of a reconciliation, made in this thread or merged from several. */
export interface ReconcileResult {
  summary: Summary;
  count: number;
  topPaced(n: number, pace: Pace): Promise<ResultRow[]>;
  rowsPaced(pace: Pace): Promise<ResultRow[]>;
  chunks(format: RowFormat, pace?: Pace): Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

export interface Reconciliation {
  /** Counts per class × channel, units and value at risk (ok comparisons are counted, not kept). */
  summary: Summary;
  /** Number of result rows (drift, plus ok ones with keepOk). */
  count: number;
  /** The `n` most severe rows, built without building the others. */
  top(n: number): ResultRow[];
  /** `top`, giving the event loop a turn every `pace` interval (a stopped run throws its abort reason). */
  topPaced(n: number, pace: Pace): Promise<ResultRow[]>;
  /** Every result row, most severe first (built on first use: --since, --publish). */
  readonly rows: ResultRow[];
  /** `rows`, built giving the event loop a turn every `pace` interval. */
  rowsPaced(pace: Pace): Promise<ResultRow[]>;
  /**
   * Every result row as an object, class by class in order of severity, each built as it is read
   * (the rows `chunks` writes as bytes; the test of the byte writer compares the two).
   * With `pace`, a stopped run throws its abort reason between rows (the consumer must give the
   * event loop turns, as the file writers do).
   */
  stream(pace?: Pace): Iterable<ResultRow>;
  /**
   * What `stream` yields, already written as `format` (CSV with RESULT_COLUMNS and its header, or a
   * JSON array, byte for byte what csvChunks / JSON.stringify make of those rows), straight from the
   * compact arrays: no row object is built. Chunks of about 64 KB.
   */
  chunks(format: RowFormat, pace?: Pace): Iterable<Uint8Array>;
  /** The compact results themselves, for an engine that merges the results of several partitions. */
  readonly parts: ResultParts;
}

/** The columns of a drift file (`--out`), in order. */
export const RESULT_COLUMNS = ['class', 'sku', 'location', 'channel', 'onHand', 'reserved', 'safetyStock', 'expected', 'actual', 'delta', 'price', 'valueAtRisk'] as const;

export type RowFormat = 'csv' | 'json';

/** Result `i` is (key ids[i], channel chans[i], class CLASSES[ranks[i]]); negatives are kept as rows. */
export interface ResultParts {
  readonly ids: Int32Array;
  readonly chans: Uint32Array;
  readonly ranks: Uint8Array;
  readonly negatives: readonly ResultRow[];
  build(i: number): ResultRow;
  /** `top(k)` with where each row is: its result index, or -1 - j for negatives[j]. */
  topIndexed(k: number): { row: ResultRow; index: number }[];
  /** Value at risk per class before rounding (summed over partitions, then rounded once). */
  readonly rawValue: Partial<Record<DriftClass, number>>;
  /** Result `i` as one line of `format` (no line break; JSON: the object alone), appended to `out`. */
  writeLine(i: number, format: RowFormat, out: ByteWriter): void;
}

/** A row object as one line of `format`: the same bytes as the fast path gives. */
export function rowLine(row: ResultRow, format: RowFormat): string {
  if (format === 'json') return JSON.stringify(row);
  const record = row as unknown as Record<string, unknown>;
  let line = csvCell(record[RESULT_COLUMNS[0]]);
  for (let c = 1; c < RESULT_COLUMNS.length; c++) line += `,${csvCell(record[RESULT_COLUMNS[c]!])}`;
  return line;
}

/**
 * The frame of a rows file around its lines: CSV's header and a line break after each line, or a
 * JSON array with one object per line (what csvChunks and writeRowsFile's JSON writer give).
 */
export class LineJoiner {
  #first = true;
  constructor(
    readonly format: RowFormat,
    readonly out: ByteWriter,
  ) {
    out.text(format === 'csv' ? `${RESULT_COLUMNS.join(',')}\n` : '[');
  }

  /** Before each line. */
  next(): void {
    if (this.format === 'csv') {
      if (!this.#first) this.out.byte(LF);
    } else if (this.#first) this.out.bytes(JSON_NEXT, 1, 4);
    else this.out.bytes(JSON_NEXT, 0, 4);
    this.#first = false;
  }

  end(): void {
    if (this.format === 'csv') {
      if (!this.#first) this.out.byte(LF);
    } else this.out.text(this.#first ? ']\n' : '\n]\n');
  }
}

const [COMMA, QUOTE, BRACE, LF] = [0x2c, 0x22, 0x7d, 0x0a];
const JSON_NEXT = Buffer.from(',\n  ');
const JSON_FIELDS = ['sku', 'location', 'channel', 'onHand', 'reserved', 'safetyStock', 'expected', 'actual', 'delta', 'class', 'price', 'valueAtRisk'] as const;
/** `{"sku":`, `,"location":`, …, `,"class":"`: what JSON.stringify writes before each value of a row. */
const JSON_KEYS = Object.fromEntries(JSON_FIELDS.map((k, i) => [k, Buffer.from(`${i === 0 ? '{' : ','}"${k}":${k === 'class' ? '"' : ''}`)])) as Record<(typeof JSON_FIELDS)[number], Buffer>;

/** ASCII that csvCell writes as it is: no formula start, nothing that needs quotes. */
function plainCsv(b: Uint8Array, from: number, to: number): boolean {
  const first = b[from]!;
  if (first === 0x3d || first === 0x2b || first === 0x2d || first === 0x40 || first === 0x09 || first === 0x0d) return false;
  for (let k = from; k < to; k++) {
    const c = b[k]!;
    if (c >= 0x80 || c === 0x22 || c === 0x2c || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}

/** ASCII that JSON.stringify writes as it is between quotes. */
function plainJson(b: Uint8Array, from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const c = b[k]!;
    if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** Output chunks of about this many bytes. */
const CHUNK = 1 << 18;

/** Sum the quantities of every source of a role (two warehouse systems add up). */
function merged(store: InventoryStore, role: Role): { qty: Float64Array; present: Uint8Array; price: Float64Array | undefined } {
  const of = store.sources.filter((s) => s.role === role);
  const n = store.keys.size;
  if (of.length === 1) {
    of[0]!.ensure(n);
    return of[0]!;
  }
  const qty = new Float64Array(n);
  const present = new Uint8Array(n);
  let price: Float64Array | undefined;
  for (const s of of) {
    s.ensure(n);
    for (let id = 0; id < n; id++) {
      if (!s.present[id]) continue;
      present[id] = 1;
      qty[id] = qty[id]! + s.qty[id]!;
      if (s.price && !Number.isNaN(s.price[id]!)) (price ??= new Float64Array(n).fill(Number.NaN))[id] = s.price[id]!;
    }
  }
  return { qty, present, price };
}

const NO_PRICE = Number.NaN;

/** The compact results as they are found: key id, channel index and class rank per result. */
class ResultColumns {
  ids = new Int32Array(1024);
  chans = new Uint32Array(1024);
  ranks = new Uint8Array(1024);
  length = 0;

  push(id: number, c: number, r: number): void {
    const n = this.length;
    if (n === this.ids.length) {
      const size = Math.ceil(n * 1.5);
      const grow = <T extends Int32Array | Uint32Array | Uint8Array>(a: T, b: T): T => (b.set(a), b);
      this.ids = grow(this.ids, new Int32Array(size));
      this.chans = grow(this.chans, new Uint32Array(size));
      this.ranks = grow(this.ranks, new Uint8Array(size));
    }
    this.ids[n] = id;
    this.chans[n] = c;
    this.ranks[n] = r;
    this.length = n + 1;
  }

  /** The columns, cut to the results found. */
  done(): { ids: Int32Array; chans: Uint32Array; ranks: Uint8Array } {
    return { ids: this.ids.subarray(0, this.length), chans: this.chans.subarray(0, this.length), ranks: this.ranks.subarray(0, this.length) };
  }
}

/** Keys compared between two checks for cancellation (a few milliseconds of work). */
const SLICE = 1 << 16;

/**
 * Pure: compare every channel with the warehouse and orders.
 * expected(sku, location) = max(onHand − reserved − safetyStock, 0); delta = channel − expected.
 * Results are kept compactly (key id, channel, class) and turned into row objects only when asked:
 * a run with millions of comparisons and few readers of the detail stays fast and small.
 */
export function reconcile(store: InventoryStore, options: ReconcileOptions): Reconciliation {
  const job = prepare(store, options);
  for (let c = 0; c < job.channels; c++) job.scan(c, 0, job.keys);
  return job.done();
}

/**
 * `reconcile`, giving the event loop a turn every `pace` interval: a Ctrl-C or SIGTERM stops it
 * (the run's abort reason is thrown) instead of waiting for the whole comparison.
 */
export async function reconcilePaced(store: InventoryStore, options: ReconcileOptions, pace: Pace): Promise<Reconciliation> {
  const job = prepare(store, options);
  for (let c = 0; c < job.channels; c++) {
    for (let from = 0; from < job.keys; from += SLICE) {
      job.scan(c, from, Math.min(job.keys, from + SLICE));
      if (pace.due()) await pace.turn();
    }
  }
  return job.done();
}

/** The comparison in steps: `scan` keys [from, to) of one channel (channels in order, keys ascending), then `done`. */
function prepare(store: InventoryStore, options: ReconcileOptions): { channels: number; keys: number; scan(c: number, from: number, to: number): void; done(): Reconciliation } {
  const n = store.keys.size;
  const warehouse = merged(store, 'warehouse');
  const orders = merged(store, 'orders');
  const channels = store.sources.filter((s) => s.role === 'channel');
  const uniform = typeof options.safetyStock === 'number' ? options.safetyStock : undefined;
  const safetyOf = typeof options.safetyStock === 'function' ? options.safetyStock : () => uniform!;
  const tolerance = options.tolerance;
  const keys = store.keys;
  const priceAt = (p: Float64Array | undefined, id: number) => (p && !Number.isNaN(p[id]!) ? p[id]! : NO_PRICE);

  const summary: Summary = { byClass: Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<DriftClass, number>, byChannel: {}, units: {}, valueAtRisk: {} };
  /** Value at risk per class, summed unrounded (rounded to cents once, in the summary). */
  const rawValue: Partial<Record<DriftClass, number>> = {};
  const count = (channel: string, cls: DriftClass, units: number, value: number) => {
    summary.byClass[cls] += 1;
    const ch = (summary.byChannel[channel] ??= {});
    ch[cls] = (ch[cls] ?? 0) + 1;
    if (cls === 'ok') return;
    summary.units[cls] = (summary.units[cls] ?? 0) + units;
    if (!Number.isNaN(value)) rawValue[cls] = (rawValue[cls] ?? 0) + value;
  };

  // compact results: key id, channel index, class rank
  // typed columns, not arrays of numbers: tens of millions of results in a third of the memory
  const found = new ResultColumns();
  let ids: Int32Array = found.ids;
  let chans: Uint32Array = found.chans;
  let ranks: Uint8Array = found.ranks;
  const negatives: ResultRow[] = [];
  for (const s of store.sources) {
    for (const neg of s.negatives) {
      const r: ResultRow = { sku: neg.sku, location: neg.location, channel: s.name, onHand: s.role === 'warehouse' ? neg.quantity : null, reserved: s.role === 'orders' ? neg.quantity : null, safetyStock: safetyOf(neg.sku), expected: null, actual: s.role === 'channel' ? neg.quantity : null, delta: null, class: 'negative' };
      negatives.push(r);
      count(s.name, 'negative', Math.abs(neg.quantity), NO_PRICE);
    }
  }
  const OK = rank.ok;
  /** ok comparisons per channel (counted, not kept). */
  const oks = channels.map(() => 0);
  channels.forEach((channel) => {
    channel.ensure(n);
    (summary.byChannel[channel.name] ??= {}).ok = 0;
  });

  const scan = (c: number, from: number, to: number): void => {
    const channel = channels[c]!;
    const cPresent = channel.present;
    const cQty = channel.qty;
    let ok = 0;
    for (let id = from; id < to; id++) {
      const listed = cPresent[id] === 1;
      if (warehouse.present[id] !== 1) {
        if (!listed) continue;
        found.push(id, c, rank['unknown-sku']);
        const price = priceAt(channel.price, id);
        count(channel.name, 'unknown-sku', cQty[id]!, Math.max(cQty[id]!, 0) * price);
        continue;
      }
      const expected = Math.max(warehouse.qty[id]! - (orders.present[id] ? orders.qty[id]! : 0) - (uniform ?? safetyOf(keys.sku(id))), 0);
      if (!listed) {
        if (expected <= 0) continue; // nothing sellable, nothing listed: nothing to compare
        found.push(id, c, rank['missing-in-channel']);
        count(channel.name, 'missing-in-channel', expected, expected * priceAt(warehouse.price, id));
        continue;
      }
      const delta = cQty[id]! - expected;
      if (delta <= tolerance && delta >= -tolerance) {
        ok++;
        if (options.keepOk) found.push(id, c, OK);
        continue;
      }
      const cls: DriftClass = delta > 0 ? 'oversell' : 'undersell';
      found.push(id, c, rank[cls]);
      const price = priceAt(channel.price, id);
      count(channel.name, cls, Math.abs(delta), Math.abs(delta) * (Number.isNaN(price) ? priceAt(warehouse.price, id) : price));
    }
    oks[c] = oks[c]! + ok;
  };

  const done = (): Reconciliation => {
    channels.forEach((channel, c) => {
      summary.byChannel[channel.name]!.ok = oks[c]!;
      summary.byClass.ok += oks[c]!;
    });
    Object.assign(summary, canonicalSummary(summary, rawValue, store.sources.map((s) => s.name)));
    ({ ids, chans, ranks } = found.done());
    return results();
  };

  /** Result `i`'s values, computed into one reused record (no allocation per row). */
  const v = { id: 0, c: 0, rank: 0, onHand: 0, reserved: 0, safety: 0, expected: 0, actual: 0, known: false, listed: false, price: NO_PRICE, value: 0 };
  const fill = (i: number): void => {
    const id = ids[i]!;
    const c = chans[i]!;
    const channel = channels[c]!;
    const r = ranks[i]!;
    v.id = id;
    v.c = c;
    v.rank = r;
    v.known = warehouse.present[id] === 1;
    v.listed = channel.present[id] === 1;
    v.safety = uniform ?? safetyOf(keys.sku(id));
    if (v.known) {
      v.onHand = warehouse.qty[id]!;
      v.reserved = orders.present[id] ? orders.qty[id]! : 0;
      v.expected = Math.max(v.onHand - v.reserved - v.safety, 0);
    }
    if (v.listed) v.actual = channel.qty[id]!;
    v.price = NO_PRICE;
    if (r !== OK) {
      const channelPrice = priceAt(channel.price, id);
      const missing = r === rank['missing-in-channel'];
      const unknown = r === rank['unknown-sku'];
      const price = missing ? priceAt(warehouse.price, id) : Number.isNaN(channelPrice) && !unknown ? priceAt(warehouse.price, id) : channelPrice;
      if (!Number.isNaN(price)) {
        v.price = price;
        v.value = (missing ? v.expected : unknown ? Math.max(v.actual, 0) : Math.abs(v.actual - v.expected)) * price;
      }
    }
  };

  /** Result row `i` of the compact arrays, as an object. */
  const build = (i: number): ResultRow => {
    fill(i);
    const expected = v.known ? v.expected : null;
    const actual = v.listed ? v.actual : null;
    const row: ResultRow = {
      sku: keys.sku(v.id),
      location: store.locations[keys.location(v.id)]!,
      channel: channels[v.c]!.name,
      onHand: v.known ? v.onHand : null,
      reserved: v.known ? v.reserved : null,
      safetyStock: v.safety,
      expected,
      actual,
      delta: expected !== null && actual !== null ? actual - expected : null,
      class: CLASSES[v.rank]!,
    };
    if (!Number.isNaN(v.price)) Object.assign(row, { price: v.price, valueAtRisk: v.value });
    return row;
  };

  // names are few: each encoded once per format
  const names = { csv: new Map<string, Uint8Array>(), json: new Map<string, Uint8Array>() };
  const nameBytes = (format: RowFormat, name: string): Uint8Array => {
    let bytes = names[format].get(name);
    if (!bytes) names[format].set(name, (bytes = Buffer.from(format === 'csv' ? csvCell(name) : JSON.stringify(name))));
    return bytes;
  };
  const classBytes = CLASSES.map((c) => Buffer.from(c));

  /** Result `i` as one line of `format` (no line break): the bytes rowLine(build(i)) gives, without the object. */
  const writeLine = (i: number, format: RowFormat, out: ByteWriter): void => {
    fill(i);
    const arena = keys.arena;
    const from = keys.skuStart(v.id);
    const to = keys.skuEnd(v.id);
    const location = nameBytes(format, store.locations[keys.location(v.id)]!);
    const channel = nameBytes(format, channels[v.c]!.name);
    const both = v.known && v.listed;
    const priced = !Number.isNaN(v.price);
    const cls = classBytes[v.rank]!;
    if (format === 'csv') {
      out.bytes(cls, 0, cls.length);
      out.byte(COMMA);
      if (plainCsv(arena, from, to)) out.bytes(arena, from, to);
      else out.text(csvCell(keys.sku(v.id)));
      out.byte(COMMA);
      out.bytes(location, 0, location.length);
      out.byte(COMMA);
      out.bytes(channel, 0, channel.length);
      out.byte(COMMA);
      if (v.known) out.number(v.onHand);
      out.byte(COMMA);
      if (v.known) out.number(v.reserved);
      out.byte(COMMA);
      out.number(v.safety);
      out.byte(COMMA);
      if (v.known) out.number(v.expected);
      out.byte(COMMA);
      if (v.listed) out.number(v.actual);
      out.byte(COMMA);
      if (both) out.number(v.actual - v.expected);
      out.byte(COMMA);
      if (priced) out.number(v.price);
      out.byte(COMMA);
      if (priced) out.number(v.value);
      return;
    }
    out.bytes(JSON_KEYS.sku, 0, JSON_KEYS.sku.length);
    if (plainJson(arena, from, to)) {
      out.byte(QUOTE);
      out.bytes(arena, from, to);
      out.byte(QUOTE);
    } else out.text(JSON.stringify(keys.sku(v.id)));
    out.bytes(JSON_KEYS.location, 0, JSON_KEYS.location.length);
    out.bytes(location, 0, location.length);
    out.bytes(JSON_KEYS.channel, 0, JSON_KEYS.channel.length);
    out.bytes(channel, 0, channel.length);
    out.bytes(JSON_KEYS.onHand, 0, JSON_KEYS.onHand.length);
    out.numberOrNull(v.known, v.onHand);
    out.bytes(JSON_KEYS.reserved, 0, JSON_KEYS.reserved.length);
    out.numberOrNull(v.known, v.reserved);
    out.bytes(JSON_KEYS.safetyStock, 0, JSON_KEYS.safetyStock.length);
    out.number(v.safety);
    out.bytes(JSON_KEYS.expected, 0, JSON_KEYS.expected.length);
    out.numberOrNull(v.known, v.expected);
    out.bytes(JSON_KEYS.actual, 0, JSON_KEYS.actual.length);
    out.numberOrNull(v.listed, v.actual);
    out.bytes(JSON_KEYS.delta, 0, JSON_KEYS.delta.length);
    out.numberOrNull(both, v.actual - v.expected);
    out.bytes(JSON_KEYS.class, 0, JSON_KEYS.class.length);
    out.bytes(cls, 0, cls.length);
    out.byte(QUOTE);
    if (priced) {
      out.bytes(JSON_KEYS.price, 0, JSON_KEYS.price.length);
      out.number(v.price);
      out.bytes(JSON_KEYS.valueAtRisk, 0, JSON_KEYS.valueAtRisk.length);
      out.number(v.value);
    }
    out.byte(BRACE);
  };

  /** Result indexes class by class, most severe first, each class in reading order (negatives aside). */
  function* inClassOrder(pace?: Pace): Generator<number> {
    for (let r = 0; r < CLASSES.length; r++) {
      if (r === rank.negative) continue;
      for (let i = 0; i < ids.length; i++) {
        // the consumer (a file or stdout writer) gives the event loop its turns; a stopped run ends here
        if ((i & 0xfff) === 0) pace?.check();
        if (ranks[i] === r) yield i;
      }
    }
  }

  const results = (): Reconciliation => {
    let all: ResultRow[] | undefined;
    /** The bounded selection behind `top`, fed entries [from, to). */
    const selector = (k: number, indexes?: Map<ResultRow, number>) => {
      const best: ResultRow[] = [...negatives];
      negatives.forEach((row, j) => indexes?.set(row, -1 - j));
      return {
        feed(from: number, to: number) {
          for (let i = from; i < to; i++) {
            if (ranks[i] === OK) continue;
            if (best.length >= k * 4 && ranks[i]! > rank[best[best.length - 1]!.class]) continue;
            const row = build(i);
            indexes?.set(row, i);
            best.push(row);
            if (best.length >= k * 8) {
              best.sort(bySeverityFast);
              best.length = k * 4;
            }
          }
        },
        result: () => best.sort(bySeverityFast).slice(0, k),
      };
    };
    const sortAll = (built: ResultRow[]) => {
      all = built.sort(bySeverityFast);
      return all;
    };
    return {
      summary,
      count: ids.length + negatives.length,
      top(k) {
        // severity ranks first; within a rank the biggest value at risk / units: a bounded selection
        const s = selector(k);
        s.feed(0, ids.length);
        return s.result();
      },
      async topPaced(k, pace) {
        const s = selector(k);
        for (let from = 0; from < ids.length; from += SLICE) {
          s.feed(from, Math.min(ids.length, from + SLICE));
          if (pace.due()) await pace.turn();
        }
        return s.result();
      },
      *stream(pace) {
        yield* negatives;
        for (const i of inClassOrder(pace)) yield build(i);
      },
      *chunks(format, pace) {
        const out = new ByteWriter();
        const lines = new LineJoiner(format, out);
        for (const row of negatives) {
          lines.next();
          out.text(rowLine(row, format));
        }
        for (const i of inClassOrder(pace)) {
          lines.next();
          writeLine(i, format, out);
          if (out.n >= CHUNK) yield out.take();
        }
        lines.end();
        yield out.take();
      },
      parts: {
        ids,
        chans,
        ranks,
        negatives,
        build,
        writeLine,
        rawValue,
        topIndexed(k) {
          const indexes = new Map<ResultRow, number>();
          const s = selector(k, indexes);
          s.feed(0, ids.length);
          return s.result().map((row) => ({ row, index: indexes.get(row)! }));
        },
      },
      get rows() {
        if (all) return all;
        const built = [...negatives];
        for (let i = 0; i < ids.length; i++) built.push(build(i));
        return sortAll(built);
      },
      async rowsPaced(pace) {
        if (all) return all;
        const built = [...negatives];
        for (let from = 0; from < ids.length; from += SLICE) {
          for (let i = from, to = Math.min(ids.length, from + SLICE); i < to; i++) built.push(build(i));
          if (pace.due()) await pace.turn();
        }
        all = await sortPaced(built, bySeverityFast, pace);
        return all;
      },
    };
  };

  return { channels: channels.length, keys: n, scan, done };
}

/** Items sorted natively per run before the runs are merged. */
const RUN = 1 << 13;

/**
 * A stable sort (the same order as `Array.prototype.sort`) that gives the event loop a turn between
 * steps: runs of 8,192 sorted natively, then merged pairwise, pass by pass. Millions of rows (--since,
 * --publish) take seconds to sort; one native call would hold off Ctrl-C for all of them.
 */
export async function sortPaced<T>(items: T[], cmp: (a: T, b: T) => number, pace: Pace): Promise<T[]> {
  const n = items.length;
  if (n <= RUN) return items.sort(cmp);
  let src = items;
  for (let lo = 0; lo < n; lo += RUN) {
    const run = src.slice(lo, Math.min(n, lo + RUN)).sort(cmp);
    for (let k = 0; k < run.length; k++) src[lo + k] = run[k]!;
    if (pace.due()) await pace.turn();
  }
  let dst: T[] = new Array<T>(n);
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      let k = lo;
      // the left item first on ties: stable; a turn every RUN items, so the last merges (all of
      // the items in one) do not hold the event loop either
      while (i < mid && j < hi) {
        dst[k++] = cmp(src[j]!, src[i]!) < 0 ? src[j++]! : src[i++]!;
        if ((k & (RUN - 1)) === 0 && pace.due()) await pace.turn();
      }
      while (i < mid) dst[k++] = src[i++]!;
      while (j < hi) dst[k++] = src[j++]!;
      if (pace.due()) await pace.turn();
    }
    [src, dst] = [dst, src];
  }
  return src;
}

/** Most severe first by class, value at risk and units; ties keep reading order (stable sort). */
export function bySeverityFast(a: ResultRow, b: ResultRow): number {
  return (
    rank[a.class] - rank[b.class] ||
    (b.valueAtRisk ?? 0) - (a.valueAtRisk ?? 0) ||
    Math.abs(b.delta ?? b.actual ?? b.expected ?? 0) - Math.abs(a.delta ?? a.actual ?? a.expected ?? 0)
  );
}

const rank = Object.fromEntries(CLASSES.map((c, i) => [c, i])) as Record<DriftClass, number>;
/**
 * The summary in one order whatever the order rows came in: sources in reading order, classes in
 * order of severity; value at risk rounded to cents once. Both engines give the same document.
 */
export function canonicalSummary(summary: Summary, rawValue: Partial<Record<DriftClass, number>>, sources: readonly string[]): Summary {
  const byClasses = <T>(from: Partial<Record<DriftClass, T>>) => Object.fromEntries(CLASSES.filter((c) => from[c] !== undefined).map((c) => [c, from[c]])) as Partial<Record<DriftClass, T>>;
  const byChannel: Summary['byChannel'] = {};
  for (const name of sources) if (summary.byChannel[name]) byChannel[name] = byClasses(summary.byChannel[name]!);
  const valueAtRisk = byClasses(rawValue);
  for (const c of CLASSES) if (valueAtRisk[c] !== undefined) valueAtRisk[c] = Number(valueAtRisk[c]!.toFixed(2));
  return { byClass: byClasses(summary.byClass) as Record<DriftClass, number>, byChannel, units: byClasses(summary.units), valueAtRisk };
}

/** Add up the summaries of partitions (each with its unrounded value at risk). */
export function mergeSummaries(parts: readonly { summary: Summary; rawValue: Partial<Record<DriftClass, number>> }[], sources: readonly string[]): Summary {
  const total: Summary = { byClass: Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<DriftClass, number>, byChannel: {}, units: {}, valueAtRisk: {} };
  const rawValue: Partial<Record<DriftClass, number>> = {};
  const add = <K extends string>(into: Partial<Record<K, number>>, from: Partial<Record<K, number>>) => {
    for (const [k, n] of Object.entries(from) as [K, number][]) into[k] = (into[k] ?? 0) + n;
  };
  for (const p of parts) {
    add(total.byClass, p.summary.byClass);
    add(total.units, p.summary.units);
    add(rawValue, p.rawValue);
    for (const [name, counts] of Object.entries(p.summary.byChannel)) add((total.byChannel[name] ??= {}), counts);
  }
  return canonicalSummary(total, rawValue, sources);
}

/** Counts and units per class × channel, and value at risk. */
export interface Summary {
  byClass: Record<DriftClass, number>;
  byChannel: Record<string, Partial<Record<DriftClass, number>>>;
  units: Partial<Record<DriftClass, number>>;
  valueAtRisk: Partial<Record<DriftClass, number>>;
}
