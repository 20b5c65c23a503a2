/**
 * What a source row is, shared by the reader (read.ts) and the store (reconcile.ts) without either
 * importing the other.
 */

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
  /** How many rows this one entry stands for (default 1): Athena counts bad rows, it cannot list them. */
  count?: number;
}

/** How many bad rows `errors` stand for. */
export function badRowCount(errors: readonly RowError[]): number {
  let n = 0;
  for (const e of errors) n += e.count ?? 1;
  return n;
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
