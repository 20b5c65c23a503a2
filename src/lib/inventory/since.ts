import type { ResultRow } from './reconcile.js';

/** How a drift row compares with the previous run's results. */
export type Change = 'new' | 'persisting' | 'resolved';

export interface ChangedRow extends ResultRow {
  change: Change;
  /** The class in the previous run, when it differs. */
  previousClass?: string;
}

const key = (r: Pick<ResultRow, 'sku' | 'location' | 'channel'>) => `${r.sku}\u0000${r.location}\u0000${r.channel}`;

/**
 * Pure: mark each drift row new or persisting against the previous results, and add the previous
 * drift rows that are gone as resolved. Rows are keyed by (sku, location, channel).
 */
export function compareWithPrevious(current: readonly ResultRow[], previous: readonly ResultRow[]): ChangedRow[] {
  const before = new Map(previous.filter((r) => r.class !== 'ok').map((r) => [key(r), r]));
  const out: ChangedRow[] = [];
  const seen = new Set<string>();
  for (const r of current) {
    if (r.class === 'ok') continue;
    const k = key(r);
    seen.add(k);
    const was = before.get(k);
    const row: ChangedRow = { ...r, change: was ? 'persisting' : 'new' };
    if (was && was.class !== r.class) row.previousClass = was.class;
    out.push(row);
  }
  for (const [k, r] of before) if (!seen.has(k)) out.push({ ...r, change: 'resolved' });
  return out;
}
