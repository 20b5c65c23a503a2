import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeRowsFile } from '../../src/lib/io/rows.js';
import { InventoryStore, reconcile, RESULT_COLUMNS, type RowFormat } from '../../src/lib/inventory/reconcile.js';

/** Skus and names with everything a CSV or JSON writer must get right. */
const NASTY = ['=HYPERLINK("x")', '+1', '-2', '@SUM(A1)', '\tTAB', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', 'ünïcödé', '日本語', '😀 emoji', '', ' padded ', '\uFF1Dwide', 'plain'];

function randomStore(seed: number, keys: number): InventoryStore {
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const store = new InventoryStore();
  const wms = store.addSource('wms', 'warehouse');
  const oms = store.addSource('oms', 'orders');
  const channels = [store.addSource('web', 'channel'), store.addSource('=market,place', 'channel')];
  const onError = () => {};
  const locations = ['dc1', '-dc2', 'dc "3"'];
  const sku = (i: number) => (rand(5) === 0 ? `${NASTY[rand(NASTY.length)]}${i}` : `SKU-${i}`);
  const skus = Array.from({ length: keys }, (_, i) => sku(i));
  const price = () => (rand(3) === 0 ? undefined : rand(10_000) / 100);
  for (let i = 0; i < keys; i++) {
    const location = locations[rand(locations.length)]!;
    const at = { file: 'x.csv', line: i + 2 };
    if (rand(10) > 0) store.add(wms, { sku: skus[i]!, location, quantity: rand(40) - 3, price: price(), ...at }, 'error', onError);
    if (rand(2) === 0) store.add(oms, { sku: skus[i]!, location, quantity: rand(6), ...at }, 'error', onError);
    for (const channel of channels) if (rand(8) > 0) store.add(channel, { sku: skus[i]!, location, quantity: rand(40) - 1, price: price(), ...at }, 'error', onError);
  }
  return store;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'retailctl-output-'));

describe('drift rows written straight from the compact results', () => {
  it.each([
    ['csv', false],
    ['json', false],
    ['csv', true],
    ['json', true],
  ] as [RowFormat, boolean][])('%s (--all %s): the same bytes as the rows written one object at a time, on random rows with quotes, commas, newlines, formulas and Unicode', async (format, keepOk) => {
    for (const seed of [1, 2, 3]) {
      const store = randomStore(seed, 4000);
      const safetyStock = seed === 2 ? (sku: string) => (sku.length % 3) : 2;
      const result = reconcile(store, { safetyStock, tolerance: seed === 3 ? 1 : 0, keepOk });
      const objects = path.join(dir, `objects-${seed}.${format}`);
      const fast = path.join(dir, `fast-${seed}.${format}`);
      await writeRowsFile(objects, result.stream(), RESULT_COLUMNS);
      await writeFileAtomic(fast, result.chunks(format));
      const expected = readFileSync(objects, 'utf8');
      expect(expected.split('\n').length).toBeGreaterThan(1000);
      expect(readFileSync(fast, 'utf8')).toBe(expected);
      if (format === 'json') expect(JSON.parse(expected)).toEqual([...result.stream()]);
    }
  });

  it('escapes every cell a spreadsheet would run as a formula, in skus, locations and source names', async () => {
    const store = new InventoryStore();
    const wms = store.addSource('wms', 'warehouse');
    const web = store.addSource('@web', 'channel');
    const onError = () => {};
    store.add(wms, { sku: '=cmd|"/c calc"!A1', location: '+dc1', quantity: 5, file: 'w.csv', line: 2 }, 'error', onError);
    store.add(web, { sku: '=cmd|"/c calc"!A1', location: '+dc1', quantity: 9, file: 'c.csv', line: 2 }, 'error', onError);
    const text = Buffer.concat([...reconcile(store, { safetyStock: 0, tolerance: 0 }).chunks('csv')]).toString();
    expect(text).toBe(`${RESULT_COLUMNS.join(',')}\noversell,"'=cmd|""/c calc""!A1",'+dc1,'@web,5,0,0,5,9,4,,\n`);
  });

  it('an empty result is a header alone (CSV) or [] (JSON)', () => {
    const store = new InventoryStore();
    store.addSource('wms', 'warehouse');
    store.addSource('web', 'channel');
    const result = reconcile(store, { safetyStock: 0, tolerance: 0 });
    expect(Buffer.concat([...result.chunks('csv')]).toString()).toBe(`${RESULT_COLUMNS.join(',')}\n`);
    expect(Buffer.concat([...result.chunks('json')]).toString()).toBe('[]\n');
  });
});
