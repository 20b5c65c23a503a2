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
