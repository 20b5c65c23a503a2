/**
 * Row objects made from a thread's result columns (the parallel engine's --since / --publish path):
 * the skus come back exactly as read, whether every sku is ASCII (decoded once, then sliced) or not.
 */
import { describe, expect, it } from 'vitest';
import { rowOf, type RowColumns } from '../../src/lib/inventory/partition.js';

function columnsOf(skus: string[]): RowColumns {
  const encoded = skus.map((s) => new TextEncoder().encode(s));
  const sku = new Uint8Array(encoded.reduce((n, e) => n + e.length, 0));
  const skuEnd = new Uint32Array(skus.length);
  let at = 0;
  encoded.forEach((e, k) => {
    sku.set(e, at);
    skuEnd[k] = at += e.length;
  });
  const n = skus.length;
  return { n, rank: new Uint8Array(n), flags: new Uint8Array(n).fill(3), location: new Uint32Array(n), numbers: new Float64Array(n * 7), skuEnd, sku, order: new Float64Array(n), locations: ['dc1'] };
}

describe('rowOf', () => {
  it.each([
    ['all ASCII', ['SKU-1', '', 'SKU "2", big', '=HYPERLINK(1)', 'x'.repeat(300)]],
    ['some not ASCII', ['SKU-1', 'ünï-2', '', '雪-3', 'SKU-4', '\u{1F600}']],
  ])('gives every sku as it was read (%s)', (_, skus) => {
    const cols = columnsOf(skus);
    expect(skus.map((_, k) => rowOf(cols, k, 'web').sku)).toEqual(skus);
    expect(rowOf(cols, 0, 'web')).toMatchObject({ location: 'dc1', channel: 'web', onHand: 0, actual: 0 });
  });
});
