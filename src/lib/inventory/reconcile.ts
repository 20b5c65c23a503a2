import { KeyTable } from './keytable.js';
import type { Role, RowError, SourceRow } from './read.js';

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
  /** Drift rows (and ok rows with keepOk), most severe first. */
  rows: ResultRow[];
  /** ok comparisons per channel (counted even when not kept). */
  okByChannel: Record<string, number>;
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

/**
 * Pure: compare every channel with the warehouse and orders.
 * expected(sku, location) = max(onHand − reserved − safetyStock, 0); delta = channel − expected.
 */
export function reconcile(store: InventoryStore, options: ReconcileOptions): Reconciliation {
  const n = store.keys.size;
  const warehouse = merged(store, 'warehouse');
  const orders = merged(store, 'orders');
  const channels = store.sources.filter((s) => s.role === 'channel');
  const rows: ResultRow[] = [];
  const okByChannel: Record<string, number> = Object.fromEntries(channels.map((c) => [c.name, 0]));
  const uniform = typeof options.safetyStock === 'number' ? options.safetyStock : undefined;
  const safetyOf = typeof options.safetyStock === 'function' ? options.safetyStock : () => uniform!;
  const tolerance = options.tolerance;
  const keys = store.keys;
  /** Rows are built with one shape (fast property access, less garbage than spreads). */
  const row = (id: number, channel: string, onHand: number | null, reserved: number | null, safety: number, expected: number | null, actual: number | null, delta: number | null, cls: DriftClass): ResultRow => ({
    sku: keys.sku(id),
    location: store.locations[keys.location(id)]!,
    channel,
    onHand,
    reserved,
    safetyStock: safety,
    expected,
    actual,
    delta,
    class: cls,
  });
  const priceAt = (p: Float64Array | undefined, id: number) => (p && !Number.isNaN(p[id]!) ? p[id]! : undefined);

  for (const s of store.sources) {
    for (const neg of s.negatives) {
      rows.push({ sku: neg.sku, location: neg.location, channel: s.name, onHand: s.role === 'warehouse' ? neg.quantity : null, reserved: s.role === 'orders' ? neg.quantity : null, safetyStock: safetyOf(neg.sku), expected: null, actual: s.role === 'channel' ? neg.quantity : null, delta: null, class: 'negative' });
    }
  }

  for (const channel of channels) {
    channel.ensure(n);
    const cPresent = channel.present;
    const cQty = channel.qty;
    let ok = 0;
    for (let id = 0; id < n; id++) {
      const inWarehouse = warehouse.present[id] === 1;
      const listed = cPresent[id] === 1;
      if (!inWarehouse) {
        if (!listed) continue;
        const offered = cQty[id]!;
        const r = row(id, channel.name, null, null, uniform ?? safetyOf(keys.sku(id)), null, offered, null, 'unknown-sku');
        const price = priceAt(channel.price, id);
        if (price !== undefined) Object.assign(r, { price, valueAtRisk: Math.max(offered, 0) * price });
        rows.push(r);
        continue;
      }
      const onHand = warehouse.qty[id]!;
      const reserved = orders.present[id] ? orders.qty[id]! : 0;
      const safety = uniform ?? safetyOf(keys.sku(id));
      const expected = Math.max(onHand - reserved - safety, 0);
      if (!listed) {
        if (expected <= 0) continue; // nothing sellable, nothing listed: nothing to compare
        const r = row(id, channel.name, onHand, reserved, safety, expected, null, null, 'missing-in-channel');
        const price = priceAt(warehouse.price, id);
        if (price !== undefined) Object.assign(r, { price, valueAtRisk: expected * price });
        rows.push(r);
        continue;
      }
      const offered = cQty[id]!;
      const delta = offered - expected;
      if (delta <= tolerance && delta >= -tolerance) {
        ok++;
        if (options.keepOk) rows.push(row(id, channel.name, onHand, reserved, safety, expected, offered, delta, 'ok'));
        continue;
      }
      const r = row(id, channel.name, onHand, reserved, safety, expected, offered, delta, delta > 0 ? 'oversell' : 'undersell');
      const price = priceAt(channel.price, id) ?? priceAt(warehouse.price, id);
      if (price !== undefined) Object.assign(r, { price, valueAtRisk: Math.abs(delta) * price });
      rows.push(r);
    }
    okByChannel[channel.name] = ok;
  }
  return { rows: rows.sort(bySeverityFast), okByChannel };
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

export function summarize(rows: readonly ResultRow[], okByChannel: Record<string, number> = {}): Summary {
  const byClass = Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<DriftClass, number>;
  const byChannel: Summary['byChannel'] = {};
  const units: Summary['units'] = {};
  const valueAtRisk: Summary['valueAtRisk'] = {};
  for (const [channel, n] of Object.entries(okByChannel)) {
    (byChannel[channel] ??= {}).ok = n;
    byClass.ok += n;
  }
  for (const r of rows) {
    if (r.class === 'ok' && r.channel in okByChannel) continue; // already counted
    byClass[r.class] += 1;
    const ch = (byChannel[r.channel] ??= {});
    ch[r.class] = (ch[r.class] ?? 0) + 1;
    const u = r.class === 'missing-in-channel' ? (r.expected ?? 0) : r.class === 'unknown-sku' ? (r.actual ?? 0) : Math.abs(r.delta ?? r.actual ?? r.onHand ?? r.reserved ?? 0);
    units[r.class] = (units[r.class] ?? 0) + u;
    if (r.valueAtRisk !== undefined) valueAtRisk[r.class] = Number(((valueAtRisk[r.class] ?? 0) + r.valueAtRisk).toFixed(2));
  }
  return { byClass, byChannel, units, valueAtRisk };
}
