/**
 * The parallel engine's parts that run in every thread (parallel.ts drives them). Rows are routed to
 * partitions by a hash of their sku, so each partition holds every row of its keys from every source
 * and reconciles on its own. Each partition then gives its results in the one-thread engine's order,
 * keyed by where each key was first read, so the merged output is byte for byte the one-thread
 * engine's whatever the number of threads.
 */
import { Buffer, isAscii } from 'node:buffer';
import type { ByteWriter } from '../io/bytes.js';
import { NameTable } from './keytable.js';
import type { Role, RowError } from './model.js';
import type { RowSink } from './read.js';
import { CLASSES, InventoryStore, reconcile, rowLine, type ReconcileOptions, type Reconciliation, type ResultRow, type RowFormat } from './reconcile.js';

/** FNV-1a over the sku bytes: which partition a key belongs to (the same in every thread). */
export function skuHash(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

/** Where a key or a row was first read: file order (global, in reading order) × 2^32 + line. */
export const orderOf = (fileOrder: number, line: number): number => fileOrder * 4294967296 + line;

/** The rows of one part of a file for one partition, column by column (sent between threads). */
export interface Batch {
  rows: number;
  qty: Float64Array;
  /** NaN: no price; empty when the source has no price column. */
  price: Float64Array;
  /** Line numbers within the part (1 = its first line). */
  line: Int32Array;
  /** Location ids of the sending thread's table. */
  loc: Uint32Array;
  /** End of each row's sku in `sku`. */
  skuEnd: Uint32Array;
  sku: Uint8Array;
}

/** The buffers of a batch, to transfer rather than copy. */
export function batchBuffers(b: Batch): ArrayBuffer[] {
  return [b.qty.buffer, b.price.buffer, b.line.buffer, b.loc.buffer, b.skuEnd.buffer, b.sku.buffer] as ArrayBuffer[];
}

class BatchBuilder {
  rows = 0;
  bytes = 0;
  qty: Float64Array;
  price: Float64Array;
  line: Int32Array;
  loc: Uint32Array;
  skuEnd: Uint32Array;
  sku: Uint8Array;

  /** `rows`: the expected number of rows (a guess from the part's size), so the arrays rarely grow. Without `priced`, no prices are kept. */
  constructor(
    rows: number,
    readonly priced: boolean,
  ) {
    const n = Math.max(64, rows);
    this.qty = new Float64Array(n);
    this.price = new Float64Array(priced ? n : 0);
    this.line = new Int32Array(n);
    this.loc = new Uint32Array(n);
    this.skuEnd = new Uint32Array(n);
    this.sku = new Uint8Array(n * 12);
  }

  push(buf: Uint8Array, start: number, end: number, location: number, quantity: number, price: number, line: number): void {
    const n = this.rows;
    if (n === this.qty.length) this.#grow();
    const len = end - start;
    if (this.bytes + len > this.sku.length) {
      const bigger = new Uint8Array(Math.max(Math.ceil(this.sku.length * 1.5), this.bytes + len));
      bigger.set(this.sku.subarray(0, this.bytes));
      this.sku = bigger;
    }
    const sku = this.sku;
    let at = this.bytes;
    for (let i = start; i < end; i++) sku[at++] = buf[i]!;
    this.bytes = at;
    this.qty[n] = quantity;
    if (this.priced) this.price[n] = price;
    this.line[n] = line;
    this.loc[n] = location;
    this.skuEnd[n] = at;
    this.rows = n + 1;
  }

  #grow(): void {
    const n = Math.ceil(this.qty.length * 1.5);
    const grow = <T extends Float64Array | Int32Array | Uint32Array>(a: T, make: (k: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.qty = grow(this.qty, (k) => new Float64Array(k));
    if (this.priced) this.price = grow(this.price, (k) => new Float64Array(k));
    this.line = grow(this.line, (k) => new Int32Array(k));
    this.loc = grow(this.loc, (k) => new Uint32Array(k));
    this.skuEnd = grow(this.skuEnd, (k) => new Uint32Array(k));
  }

  /** The rows so far (views of the builder's buffers, which are sent: the builder is done). */
  seal(): Batch {
    const n = this.rows;
    return { rows: n, qty: this.qty.subarray(0, n), price: this.price.subarray(0, this.priced ? n : 0), line: this.line.subarray(0, n), loc: this.loc.subarray(0, n), skuEnd: this.skuEnd.subarray(0, n), sku: this.sku.subarray(0, this.bytes) };
  }
}

const encoder = new TextEncoder();

/** A row sink that sorts good rows into one batch per partition (and keeps the bad ones' reasons). */
export class Router implements RowSink {
  readonly #locations = new NameTable();
  /** This thread's location names (a batch's `loc` indexes it). */
  readonly locations: string[] = this.#locations.names;
  #builders: BatchBuilder[] = [];
  errors: RowError[] = [];

  constructor(readonly partitions: number) {}

  /** A new part of a file of about `bytes` bytes (with prices or not): new batches. */
  begin(bytes: number, priced: boolean): void {
    // rows of 20 bytes or more are the common case; more rows than that just grow the arrays
    const rows = Math.ceil(bytes / 20 / this.partitions);
    this.#builders = Array.from({ length: this.partitions }, () => new BatchBuilder(rows, priced));
    this.errors = [];
  }

  /** The part's batches, one per partition. */
  end(): Batch[] {
    return this.#builders.map((b) => b.seal());
  }

  locationId(name: string): number {
    return this.#locations.id(name);
  }

  row(buf: Uint8Array, start: number, end: number, text: string | undefined, location: number, quantity: number, price: number | undefined, _file: string, line: number): void {
    if (text !== undefined) {
      buf = encoder.encode(text);
      start = 0;
      end = buf.length;
    }
    this.#builders[skuHash(buf, start, end) % this.partitions]!.push(buf, start, end, location, quantity, price ?? Number.NaN, line);
  }

  onError = (e: RowError): void => {
    this.errors.push(e);
  };
}

/** Where a batch's rows come from. */
export interface BatchOrigin {
  /** Index of the source in reading order. */
  source: number;
  /** The file as shown in messages. */
  shown: string;
  /** The file's place in reading order (all sources). */
  fileOrder: number;
  /** The file's line number of the part's line 1. */
  lineBase: number;
  /** Which thread's location table `loc` indexes. */
  sender: number;
}

/** A result line or row and where it sorts: group (-1: negatives, else the channel) and order. */
export interface Keyed<T> {
  value: T;
  group: number;
  order: number;
}

/** One partition: the rows of its keys from every source, reconciled on their own. */
export class Partition {
  readonly store: InventoryStore;
  /** Per key id: orderOf(file, line) where the key was first read. */
  #ordinal = new Float64Array(1024);
  /** Per source, the order of each of its negatives (as store.set kept them). */
  readonly #negativeOrder: number[][];
  readonly errors: Keyed<RowError>[] = [];
  readonly #remap = new Map<number, Int32Array>();
  #result: Reconciliation | undefined;
  #negativeKeys: number[] = [];
  /** Start of each channel's results in the compact arrays (the scan is channel by channel). */
  #channelStart: number[] = [];

  constructor(
    sources: readonly { name: string; role: Role }[],
    readonly duplicates: 'error' | 'sum',
    expectedKeys?: number,
  ) {
    this.store = new InventoryStore(expectedKeys);
    for (const s of sources) this.store.addSource(s.name, s.role);
    this.#negativeOrder = sources.map(() => []);
  }

  /** Location names of a sending thread, as this partition's location ids. */
  locations(sender: number, names: readonly string[]): void {
    const known = this.#remap.get(sender);
    if (known && known.length === names.length) return;
    this.#remap.set(sender, Int32Array.from(names, (n) => this.store.locationId(n)));
  }

  /** Take a batch's rows, in order (batches must come in reading order). */
  ingest(batch: Batch, from: BatchOrigin): void {
    const store = this.store;
    const keys = store.keys;
    const source = store.sources[from.source]!;
    const remap = this.#remap.get(from.sender)!;
    const negatives = this.#negativeOrder[from.source]!;
    const at = { file: from.shown, line: 0 };
    const base = from.lineBase - 1;
    const onError = (e: RowError) => this.errors.push({ value: e, group: 0, order: orderOf(from.fileOrder, at.line) });
    let predicted = -1;
    let start = 0;
    for (let i = 0; i < batch.rows; i++) {
      const end = batch.skuEnd[i]!;
      const location = remap[batch.loc[i]!]!;
      let id: number;
      if (keys.matches(predicted, batch.sku, start, end, location)) id = predicted;
      else {
        const before = keys.size;
        id = keys.intern(batch.sku, start, end, location);
        if (keys.size > before) {
          if (id >= this.#ordinal.length) {
            const bigger = new Float64Array(Math.max(this.#ordinal.length * 2, id + 1));
            bigger.set(this.#ordinal);
            this.#ordinal = bigger;
          }
          this.#ordinal[id] = orderOf(from.fileOrder, base + batch.line[i]!);
        }
      }
      predicted = id + 1;
      start = end;
      at.line = base + batch.line[i]!;
      const quantity = batch.qty[i]!;
      const price = batch.price.length ? batch.price[i]! : Number.NaN;
      if (quantity < 0) negatives.push(orderOf(from.fileOrder, at.line));
      store.set(source, id, quantity, Number.isNaN(price) ? undefined : price, at, this.duplicates, onError);
    }
  }

  reconcile(options: ReconcileOptions): Reconciliation {
    const result = reconcile(this.store, options);
    this.#result = result;
    this.#negativeKeys = this.#negativeOrder.flat();
    const { chans } = result.parts;
    const channels = this.store.sources.filter((s) => s.role === 'channel').length;
    const starts: number[] = [];
    let i = 0;
    for (let c = 0; c <= channels; c++) {
      while (i < chans.length && chans[i]! < c) i++;
      starts.push(i);
    }
    this.#channelStart = starts;
    return result;
  }

  get result(): Reconciliation {
    if (!this.#result) throw new Error('partition not reconciled');
    return this.#result;
  }

  /** The partition's `k` most severe rows, keyed for the merge. */
  top(k: number): Keyed<ResultRow>[] {
    const { ids, chans, topIndexed } = this.result.parts;
    return topIndexed(k).map(({ row, index }) => (index < 0 ? { value: row, group: -1, order: this.#negativeKeys[-1 - index]! } : { value: row, group: chans[index]!, order: this.#ordinal[ids[index]!]! }));
  }

  /** The negatives as lines of `format` or as rows, with their order. */
  negatives(): { rows: ResultRow[]; order: number[] } {
    return { rows: [...this.result.parts.negatives], order: this.#negativeKeys };
  }

  negativeLines(format: RowFormat, out: ByteWriter): { ends: number[]; order: number[] } {
    const ends: number[] = [];
    for (const row of this.result.parts.negatives) {
      out.text(rowLine(row, format));
      ends.push(out.n);
    }
    return { ends, order: this.#negativeKeys };
  }

  /** Results [from, …) of channel `c` (and class `rank`, or every class with -1), as lines, until `maxBytes`. */
  lines(format: RowFormat, rank: number, c: number, from: number, maxBytes: number, out: ByteWriter): { ends: number[]; order: number[]; next: number; done: boolean } {
    const { ids, ranks, writeLine } = this.result.parts;
    const ends: number[] = [];
    const order: number[] = [];
    const to = this.#channelStart[c + 1]!;
    let i = Math.max(from, this.#channelStart[c]!);
    for (; i < to && out.n < maxBytes; i++) {
      if (rank >= 0 && ranks[i] !== rank) continue;
      writeLine(i, format, out);
      ends.push(out.n);
      order.push(this.#ordinal[ids[i]!]!);
    }
    return { ends, order, next: i, done: i >= to };
  }

  /**
   * Every result of channel `c` (every class) as columns, to be sent and made into rows by the
   * receiver (rowsOf): much cheaper than sending row objects.
   */
  columns(c: number): RowColumns {
    const { ids, ranks, build } = this.result.parts;
    const from = this.#channelStart[c]!;
    const n = this.#channelStart[c + 1]! - from;
    const out: RowColumns = {
      n,
      rank: new Uint8Array(n),
      flags: new Uint8Array(n),
      location: new Uint32Array(n),
      numbers: new Float64Array(n * 7),
      skuEnd: new Uint32Array(n),
      sku: new Uint8Array(0),
      order: new Float64Array(n),
      locations: this.store.locations,
    };
    const keys = this.store.keys;
    let bytes = 0;
    for (let k = 0; k < n; k++) bytes += keys.skuEnd(ids[from + k]!) - keys.skuStart(ids[from + k]!);
    out.sku = new Uint8Array(bytes);
    let at = 0;
    for (let k = 0; k < n; k++) {
      const i = from + k;
      const id = ids[i]!;
      const row = build(i);
      const arena = keys.arena;
      for (let b = keys.skuStart(id), e = keys.skuEnd(id); b < e; b++) out.sku[at++] = arena[b]!;
      out.skuEnd[k] = at;
      out.rank[k] = ranks[i]!;
      out.location[k] = keys.location(id);
      out.flags[k] = (row.onHand !== null ? 1 : 0) | (row.actual !== null ? 2 : 0) | (row.price !== undefined ? 4 : 0);
      const m = k * 7;
      out.numbers[m] = row.onHand ?? 0;
      out.numbers[m + 1] = row.reserved ?? 0;
      out.numbers[m + 2] = row.safetyStock;
      out.numbers[m + 3] = row.expected ?? 0;
      out.numbers[m + 4] = row.actual ?? 0;
      out.numbers[m + 5] = row.price ?? 0;
      out.numbers[m + 6] = row.valueAtRisk ?? 0;
      out.order[k] = this.#ordinal[id]!;
    }
    return out;
  }
}

/** A partition's results of one channel, column by column (see Partition.columns). */
export interface RowColumns {
  n: number;
  rank: Uint8Array;
  /** 1: the warehouse knows the key; 2: the channel lists it; 4: a price is known. */
  flags: Uint8Array;
  location: Uint32Array;
  /** Per row: onHand, reserved, safetyStock, expected, actual, price, valueAtRisk. */
  numbers: Float64Array;
  skuEnd: Uint32Array;
  sku: Uint8Array;
  order: Float64Array;
  locations: string[];
  /** Made by the receiver: every sku as one string when they are all ASCII (null when not). */
  text?: string | null;
}

export function columnBuffers(c: RowColumns): ArrayBuffer[] {
  return [c.rank.buffer, c.flags.buffer, c.location.buffer, c.numbers.buffer, c.skuEnd.buffer, c.sku.buffer, c.order.buffer] as ArrayBuffer[];
}

const decoder = new TextDecoder();

/**
 * The sku of row `k`. When every sku is ASCII (the usual case) they are decoded once, as one
 * string, and each is a slice of it: a TextDecoder call per row cost about a microsecond.
 */
function skuOf(cols: RowColumns, k: number): string {
  if (cols.text === undefined) cols.text = isAscii(cols.sku) ? Buffer.from(cols.sku.buffer, cols.sku.byteOffset, cols.sku.byteLength).toString('latin1') : null;
  const from = k === 0 ? 0 : cols.skuEnd[k - 1]!;
  const to = cols.skuEnd[k]!;
  return cols.text !== null ? cols.text.slice(from, to) : decoder.decode(cols.sku.subarray(from, to));
}

/** Row `k` of `cols` as the row object the one-thread engine builds (the same fields, in the same order). */
export function rowOf(cols: RowColumns, k: number, channel: string): ResultRow {
  const f = cols.flags[k]!;
  const m = k * 7;
  const known = (f & 1) !== 0;
  const listed = (f & 2) !== 0;
  const num = cols.numbers;
  const expected = known ? num[m + 3]! : null;
  const actual = listed ? num[m + 4]! : null;
  const row: ResultRow = {
    sku: skuOf(cols, k),
    location: cols.locations[cols.location[k]!]!,
    channel,
    onHand: known ? num[m]! : null,
    reserved: known ? num[m + 1]! : null,
    safetyStock: num[m + 2]!,
    expected,
    actual,
    delta: expected !== null && actual !== null ? actual - expected : null,
    class: CLASSES[cols.rank[k]!]!,
  };
  if (f & 4) Object.assign(row, { price: num[m + 5]!, valueAtRisk: num[m + 6]! });
  return row;
}

