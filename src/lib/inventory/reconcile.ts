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

/** Quantities of one source by `sku \u0000 location`. */
export interface SourceTable {
  name: string;
  role: 'warehouse' | 'orders' | 'channel';
  rows: Map<string, { quantity: number; price?: number }>;
  /** Rows with a negative quantity, kept to report them. */
  negatives: SourceRow[];
}

export const keyOf = (sku: string, location: string) => `${sku}\u0000${location}`;

/**
 * Collect a source's rows into a table. Duplicate keys are an input problem: by default each one
 * is reported (with the line of the first occurrence), with `sum` they are added up.
 */
export function tableCollector(name: string, role: SourceTable['role'], duplicates: 'error' | 'sum', onError: (e: RowError) => void): { table: SourceTable; add: (row: SourceRow) => void } {
  const table: SourceTable = { name, role, rows: new Map(), negatives: [] };
  const firstLine = new Map<string, string>();
  return {
    table,
    add(row) {
      const key = keyOf(row.sku, row.location);
      if (row.quantity < 0) table.negatives.push(row);
      const existing = table.rows.get(key);
      if (existing) {
        if (duplicates === 'sum') {
          existing.quantity += row.quantity;
          return;
        }
        onError({ source: name, file: row.file, line: row.line, reason: `duplicate sku/location ${row.sku} @ ${row.location} (first at ${firstLine.get(key)}); use --duplicates sum to add them up` });
        return;
      }
      firstLine.set(key, `line ${row.line}`);
      const entry: { quantity: number; price?: number } = { quantity: row.quantity };
      if (row.price !== undefined) entry.price = row.price;
      table.rows.set(key, entry);
    },
  };
}

export interface ReconcileOptions {
  /** Safety stock for a sku (a number, or per-sku values with a default). */
  safetyStock: (sku: string) => number;
  tolerance: number;
}

/**
 * Pure: compare every channel with the warehouse and orders.
 * expected(sku, location) = max(onHand − reserved − safetyStock, 0); delta = channel − expected.
 */
export function reconcile(tables: SourceTable[], options: ReconcileOptions): ResultRow[] {
  const warehouse = mergeRole(tables, 'warehouse');
  const orders = mergeRole(tables, 'orders');
  const channels = tables.filter((t) => t.role === 'channel');
  const out: ResultRow[] = [];

  for (const t of tables) {
    for (const n of t.negatives) {
      out.push({ sku: n.sku, location: n.location, channel: t.name, onHand: t.role === 'warehouse' ? n.quantity : null, reserved: t.role === 'orders' ? n.quantity : null, safetyStock: options.safetyStock(n.sku), expected: null, actual: t.role === 'channel' ? n.quantity : null, delta: null, class: 'negative' });
    }
  }

  const keys = new Set<string>(warehouse.keys());
  for (const c of channels) for (const k of c.rows.keys()) keys.add(k);
  for (const key of keys) {
    const [sku, location] = key.split('\u0000') as [string, string];
    const stock = warehouse.get(key);
    const reserved = orders.get(key)?.quantity ?? 0;
    const safety = options.safetyStock(sku);
    const expected = stock === undefined ? null : Math.max(stock.quantity - reserved - safety, 0);
    for (const channel of channels) {
      const offered = channel.rows.get(key);
      const price = offered?.price ?? stock?.price;
      const base = { sku, location, channel: channel.name, onHand: stock?.quantity ?? null, reserved: stock === undefined ? null : reserved, safetyStock: safety, expected };
      let row: ResultRow;
      if (offered === undefined) {
        if (expected === null || expected <= 0) continue; // nothing sellable, nothing listed: nothing to compare
        row = { ...base, actual: null, delta: null, class: 'missing-in-channel' };
        if (price !== undefined) Object.assign(row, { price, valueAtRisk: expected * price });
      } else if (expected === null) {
        row = { ...base, actual: offered.quantity, delta: null, class: 'unknown-sku' };
        if (price !== undefined) Object.assign(row, { price, valueAtRisk: Math.max(offered.quantity, 0) * price });
      } else {
        const delta = offered.quantity - expected;
        const cls: DriftClass = delta > options.tolerance ? 'oversell' : delta < -options.tolerance ? 'undersell' : 'ok';
        row = { ...base, actual: offered.quantity, delta, class: cls };
        if (price !== undefined && cls !== 'ok') Object.assign(row, { price, valueAtRisk: Math.abs(delta) * price });
      }
      out.push(row);
    }
  }
  return out.sort(bySeverity);
}

/** Several sources of one role (e.g. two warehouse systems) add up. */
function mergeRole(tables: SourceTable[], role: SourceTable['role']): Map<string, { quantity: number; price?: number }> {
  const of = tables.filter((t) => t.role === role);
  if (of.length === 1) return of[0]!.rows;
  const merged = new Map<string, { quantity: number; price?: number }>();
  for (const t of of) {
    for (const [k, v] of t.rows) {
      const m = merged.get(k);
      if (m) m.quantity += v.quantity;
      else merged.set(k, { ...v });
    }
  }
  return merged;
}

/** Most severe first: class, then value at risk, then units. */
export function bySeverity(a: ResultRow, b: ResultRow): number {
  return (
    CLASSES.indexOf(a.class) - CLASSES.indexOf(b.class) ||
    (b.valueAtRisk ?? 0) - (a.valueAtRisk ?? 0) ||
    Math.abs(b.delta ?? b.actual ?? b.expected ?? 0) - Math.abs(a.delta ?? a.actual ?? a.expected ?? 0) ||
    a.sku.localeCompare(b.sku) ||
    a.location.localeCompare(b.location) ||
    a.channel.localeCompare(b.channel)
  );
}

/** Counts and units per class × channel, and value at risk. */
export interface Summary {
  byClass: Record<DriftClass, number>;
  byChannel: Record<string, Partial<Record<DriftClass, number>>>;
  units: Partial<Record<DriftClass, number>>;
  valueAtRisk: Partial<Record<DriftClass, number>>;
}

export function summarize(rows: readonly ResultRow[]): Summary {
  const byClass = Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<DriftClass, number>;
  const byChannel: Summary['byChannel'] = {};
  const units: Summary['units'] = {};
  const valueAtRisk: Summary['valueAtRisk'] = {};
  for (const r of rows) {
    byClass[r.class] += 1;
    const ch = (byChannel[r.channel] ??= {});
    ch[r.class] = (ch[r.class] ?? 0) + 1;
    const u = r.class === 'missing-in-channel' ? (r.expected ?? 0) : r.class === 'unknown-sku' ? (r.actual ?? 0) : Math.abs(r.delta ?? r.actual ?? r.onHand ?? r.reserved ?? 0);
    units[r.class] = (units[r.class] ?? 0) + u;
    if (r.valueAtRisk !== undefined) valueAtRisk[r.class] = Number(((valueAtRisk[r.class] ?? 0) + r.valueAtRisk).toFixed(2));
  }
  return { byClass, byChannel, units, valueAtRisk };
}
