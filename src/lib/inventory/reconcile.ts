import type { RowError, SourceRow } from './read.js';

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

/**
 * Quantities of one source: location → sku → quantity. Two levels instead of one combined key,
 * because a source has millions of skus and a handful of locations: no key strings are built.
 */
export interface SourceTable {
  name: string;
  role: 'warehouse' | 'orders' | 'channel';
  rows: Map<string, Map<string, number>>;
  /** location → sku → price, when a price column is mapped. */
  prices?: Map<string, Map<string, number>>;
  /** Rows with a negative quantity, kept to report them. */
  negatives: SourceRow[];
  /** Number of distinct (sku, location) keys. */
  size: number;
}

function at<V>(map: Map<string, Map<string, V>>, location: string): Map<string, V> {
  let inner = map.get(location);
  if (!inner) map.set(location, (inner = new Map()));
  return inner;
}

/**
 * Collect a source's rows into a table. Duplicate keys are an input problem: by default each
 * repeat is reported, with `sum` they are added up.
 */
export function tableCollector(name: string, role: SourceTable['role'], duplicates: 'error' | 'sum', onError: (e: RowError) => void): { table: SourceTable; add: (row: SourceRow) => void } {
  const table: SourceTable = { name, role, rows: new Map(), negatives: [], size: 0 };
  return {
    table,
    add(row) {
      if (row.quantity < 0) table.negatives.push(row);
      const skus = at(table.rows, row.location);
      const existing = skus.get(row.sku);
      if (existing !== undefined) {
        if (duplicates === 'sum') skus.set(row.sku, existing + row.quantity);
        else onError({ source: name, file: row.file, line: row.line, reason: `duplicate sku/location ${row.sku} @ ${row.location} (already listed earlier in this source); use --duplicates sum to add them up` });
        return;
      }
      skus.set(row.sku, row.quantity);
      table.size += 1;
      if (row.price !== undefined) at((table.prices ??= new Map()), row.location).set(row.sku, row.price);
    },
  };
}

export interface ReconcileOptions {
  /** Safety stock for a sku (a number, or per-sku values with a default). */
  safetyStock: (sku: string) => number;
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

/**
 * Pure: compare every channel with the warehouse and orders.
 * expected(sku, location) = max(onHand − reserved − safetyStock, 0); delta = channel − expected.
 */
export function reconcile(tables: SourceTable[], options: ReconcileOptions): Reconciliation {
  const warehouse = mergeRole(tables, 'warehouse');
  const orders = mergeRole(tables, 'orders');
  const channels = tables.filter((t) => t.role === 'channel');
  const rows: ResultRow[] = [];
  const okByChannel: Record<string, number> = Object.fromEntries(channels.map((c) => [c.name, 0]));
  const priceOf = (t: SourceTable, location: string, sku: string) => t.prices?.get(location)?.get(sku);
  const warehousePrice = (location: string, sku: string) => {
    for (const t of tables) if (t.role === 'warehouse') { const p = priceOf(t, location, sku); if (p !== undefined) return p; }
    return undefined;
  };

  for (const t of tables) {
    for (const n of t.negatives) {
      rows.push({ sku: n.sku, location: n.location, channel: t.name, onHand: t.role === 'warehouse' ? n.quantity : null, reserved: t.role === 'orders' ? n.quantity : null, safetyStock: options.safetyStock(n.sku), expected: null, actual: t.role === 'channel' ? n.quantity : null, delta: null, class: 'negative' });
    }
  }

  const tolerance = options.tolerance;
  for (const channel of channels) {
    // every warehouse key, against this channel
    for (const [location, skus] of warehouse) {
      const offeredAt = channel.rows.get(location);
      const reservedAt = orders.get(location);
      for (const [sku, onHand] of skus) {
        const reserved = reservedAt?.get(sku) ?? 0;
        const safety = options.safetyStock(sku);
        const expected = Math.max(onHand - reserved - safety, 0);
        const offered = offeredAt?.get(sku);
        if (offered === undefined) {
          if (expected <= 0) continue; // nothing sellable, nothing listed: nothing to compare
          const row: ResultRow = { sku, location, channel: channel.name, onHand, reserved, safetyStock: safety, expected, actual: null, delta: null, class: 'missing-in-channel' };
          const price = warehousePrice(location, sku);
          if (price !== undefined) Object.assign(row, { price, valueAtRisk: expected * price });
          rows.push(row);
          continue;
        }
        const delta = offered - expected;
        if (delta <= tolerance && delta >= -tolerance) {
          okByChannel[channel.name]! += 1;
          if (options.keepOk) rows.push({ sku, location, channel: channel.name, onHand, reserved, safetyStock: safety, expected, actual: offered, delta, class: 'ok' });
          continue;
        }
        const row: ResultRow = { sku, location, channel: channel.name, onHand, reserved, safetyStock: safety, expected, actual: offered, delta, class: delta > 0 ? 'oversell' : 'undersell' };
        const price = priceOf(channel, location, sku) ?? warehousePrice(location, sku);
        if (price !== undefined) Object.assign(row, { price, valueAtRisk: Math.abs(delta) * price });
        rows.push(row);
      }
    }
    // channel keys the warehouse does not know
    for (const [location, skus] of channel.rows) {
      const known = warehouse.get(location);
      for (const [sku, offered] of skus) {
        if (known?.has(sku)) continue;
        const row: ResultRow = { sku, location, channel: channel.name, onHand: null, reserved: null, safetyStock: options.safetyStock(sku), expected: null, actual: offered, delta: null, class: 'unknown-sku' };
        const price = priceOf(channel, location, sku);
        if (price !== undefined) Object.assign(row, { price, valueAtRisk: Math.max(offered, 0) * price });
        rows.push(row);
      }
    }
  }
  return { rows: rows.sort(bySeverity), okByChannel };
}

/** Several sources of one role (e.g. two warehouse systems) add up. */
function mergeRole(tables: SourceTable[], role: SourceTable['role']): Map<string, Map<string, number>> {
  const of = tables.filter((t) => t.role === role);
  if (of.length === 1) return of[0]!.rows;
  const merged = new Map<string, Map<string, number>>();
  for (const t of of) {
    for (const [location, skus] of t.rows) {
      const into = at(merged, location);
      for (const [sku, q] of skus) into.set(sku, (into.get(sku) ?? 0) + q);
    }
  }
  return merged;
}

const rank = Object.fromEntries(CLASSES.map((c, i) => [c, i])) as Record<DriftClass, number>;
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Most severe first: class, then value at risk, then units; then sku, location, channel. */
export function bySeverity(a: ResultRow, b: ResultRow): number {
  return (
    rank[a.class] - rank[b.class] ||
    (b.valueAtRisk ?? 0) - (a.valueAtRisk ?? 0) ||
    Math.abs(b.delta ?? b.actual ?? b.expected ?? 0) - Math.abs(a.delta ?? a.actual ?? a.expected ?? 0) ||
    cmp(a.sku, b.sku) ||
    cmp(a.location, b.location) ||
    cmp(a.channel, b.channel)
  );
}

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
