import { KeyTable } from './keytable.js';
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
    const n = Math.max(capacity, this.qty.length * 2);
    const q = new Float64Array(n);
    q.set(this.qty);
    this.qty = q;
    const p = new Uint8Array(n);
    p.set(this.present);
    this.present = p;
    if (this.price) {
      const pr = new Float64Array(n);
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
  readonly keys = new KeyTable();
  readonly locations: string[] = [];
  readonly sources: SourceData[] = [];
  readonly #locationIds = new Map<string, number>();

  /** The id of a (mapped) location name. */
  locationId(name: string): number {
    let id = this.#locationIds.get(name);
    if (id === undefined) {
      id = this.locations.length;
      this.locations.push(name);
      this.#locationIds.set(name, id);
    }
    return id;
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
   * Every result row, class by class in order of severity, each built as it is read (for --out).
   * With `pace`, a stopped run throws its abort reason between rows (the consumer must give the
   * event loop turns, as the file writers do).
   */
  stream(pace?: Pace): Iterable<ResultRow>;
}

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
  const count = (channel: string, cls: DriftClass, units: number, value: number) => {
    summary.byClass[cls] += 1;
    const ch = (summary.byChannel[channel] ??= {});
    ch[cls] = (ch[cls] ?? 0) + 1;
    if (cls === 'ok') return;
    summary.units[cls] = (summary.units[cls] ?? 0) + units;
    if (!Number.isNaN(value)) summary.valueAtRisk[cls] = Number(((summary.valueAtRisk[cls] ?? 0) + value).toFixed(2));
  };

  // compact results: key id, channel index, class rank
  const ids: number[] = [];
  const chans: number[] = [];
  const ranks: number[] = [];
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
        ids.push(id), chans.push(c), ranks.push(rank['unknown-sku']);
        const price = priceAt(channel.price, id);
        count(channel.name, 'unknown-sku', cQty[id]!, Math.max(cQty[id]!, 0) * price);
        continue;
      }
      const expected = Math.max(warehouse.qty[id]! - (orders.present[id] ? orders.qty[id]! : 0) - (uniform ?? safetyOf(keys.sku(id))), 0);
      if (!listed) {
        if (expected <= 0) continue; // nothing sellable, nothing listed: nothing to compare
        ids.push(id), chans.push(c), ranks.push(rank['missing-in-channel']);
        count(channel.name, 'missing-in-channel', expected, expected * priceAt(warehouse.price, id));
        continue;
      }
      const delta = cQty[id]! - expected;
      if (delta <= tolerance && delta >= -tolerance) {
        ok++;
        if (options.keepOk) ids.push(id), chans.push(c), ranks.push(OK);
        continue;
      }
      const cls: DriftClass = delta > 0 ? 'oversell' : 'undersell';
      ids.push(id), chans.push(c), ranks.push(rank[cls]);
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
    return results();
  };

  /** Result row `i` of the compact arrays, as an object. */
  const build = (i: number): ResultRow => {
    const id = ids[i]!;
    const channel = channels[chans[i]!]!;
    const cls = CLASSES[ranks[i]!]!;
    const sku = keys.sku(id);
    const known = warehouse.present[id] === 1;
    const onHand = known ? warehouse.qty[id]! : null;
    const reserved = known ? (orders.present[id] ? orders.qty[id]! : 0) : null;
    const safety = uniform ?? safetyOf(sku);
    const expected = known ? Math.max(onHand! - reserved! - safety, 0) : null;
    const actual = channel.present[id] === 1 ? channel.qty[id]! : null;
    const delta = expected !== null && actual !== null ? actual - expected : null;
    const row: ResultRow = { sku, location: store.locations[keys.location(id)]!, channel: channel.name, onHand, reserved, safetyStock: safety, expected, actual, delta, class: cls };
    if (cls !== 'ok') {
      const channelPrice = priceAt(channel.price, id);
      const price = cls === 'missing-in-channel' ? priceAt(warehouse.price, id) : Number.isNaN(channelPrice) && cls !== 'unknown-sku' ? priceAt(warehouse.price, id) : channelPrice;
      if (!Number.isNaN(price)) {
        const units = cls === 'missing-in-channel' ? expected! : cls === 'unknown-sku' ? Math.max(actual!, 0) : Math.abs(delta!);
        Object.assign(row, { price, valueAtRisk: units * price });
      }
    }
    return row;
  };

  const results = (): Reconciliation => {
    let all: ResultRow[] | undefined;
    /** The bounded selection behind `top`, fed entries [from, to). */
    const selector = (k: number) => {
      const best: ResultRow[] = [...negatives];
      return {
        feed(from: number, to: number) {
          for (let i = from; i < to; i++) {
            if (ranks[i] === OK) continue;
            if (best.length >= k * 4 && ranks[i]! > rank[best[best.length - 1]!.class]) continue;
            best.push(build(i));
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
        for (let r = 0; r < CLASSES.length; r++) {
          if (r === rank.negative) continue;
          for (let i = 0; i < ids.length; i++) {
            // the consumer (a file or stdout writer) gives the event loop its turns; a stopped run ends here
            if ((i & 0xfff) === 0) pace?.check();
            if (ranks[i] === r) yield build(i);
          }
        }
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
      // the left item first on ties: stable
      while (i < mid && j < hi) dst[k++] = cmp(src[j]!, src[i]!) < 0 ? src[j++]! : src[i++]!;
      while (i < mid) dst[k++] = src[i++]!;
      while (j < hi) dst[k++] = src[j++]!;
      if (pace.due()) await pace.turn();
    }
    [src, dst] = [dst, src];
  }
  return src;
}

/** Most severe first by class, value at risk and units; ties keep reading order (stable sort). */
function bySeverityFast(a: ResultRow, b: ResultRow): number {
  return (
    rank[a.class] - rank[b.class] ||
    (b.valueAtRisk ?? 0) - (a.valueAtRisk ?? 0) ||
    Math.abs(b.delta ?? b.actual ?? b.expected ?? 0) - Math.abs(a.delta ?? a.actual ?? a.expected ?? 0)
  );
}

const rank = Object.fromEntries(CLASSES.map((c, i) => [c, i])) as Record<DriftClass, number>;
/** Counts and units per class × channel, and value at risk. */
export interface Summary {
  byClass: Record<DriftClass, number>;
  byChannel: Record<string, Partial<Record<DriftClass, number>>>;
  units: Partial<Record<DriftClass, number>>;
  valueAtRisk: Partial<Record<DriftClass, number>>;
}
