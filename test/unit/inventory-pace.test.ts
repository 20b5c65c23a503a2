import { describe, expect, it } from 'vitest';
import { Pace } from '../../src/lib/inventory/pace.js';
import { InventoryStore, reconcile, reconcilePaced, sortPaced } from '../../src/lib/inventory/reconcile.js';

describe('sortPaced', () => {
  it('gives the order Array.prototype.sort gives, ties in input order, for sizes around its run length', async () => {
    let seed = 11;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (const n of [0, 1, 8191, 8192, 8193, 20_000, 70_001]) {
      const items = Array.from({ length: n }, (_, i) => ({ key: rand(50), i }));
      const cmp = (a: { key: number }, b: { key: number }) => a.key - b.key;
      const expected = [...items].sort(cmp);
      expect(await sortPaced([...items], cmp, new Pace(undefined, 0))).toEqual(expected);
    }
  });
});

describe('a stopped run', () => {
  function bigStore(keys: number): InventoryStore {
    const store = new InventoryStore();
    const wms = store.addSource('wms', 'warehouse');
    const web = store.addSource('web', 'channel');
    const onError = () => {};
    for (let i = 0; i < keys; i++) store.add(wms, { sku: `S${i}`, location: 'dc1', quantity: 10, file: 'wms.csv', line: i + 2 }, 'error', onError);
    for (let i = 0; i < keys; i++) store.add(web, { sku: `S${i}`, location: 'dc1', quantity: 12, file: 'web.csv', line: i + 2 }, 'error', onError);
    return store;
  }

  it('ends the comparison with the run\'s abort reason; an unstopped one gives what reconcile gives', async () => {
    const store = bigStore(200_000);
    const controller = new AbortController();
    controller.abort(new Error('interrupted by SIGTERM'));
    await expect(reconcilePaced(store, { safetyStock: 0, tolerance: 0 }, new Pace(controller.signal))).rejects.toThrow('interrupted by SIGTERM');
    const paced = await reconcilePaced(store, { safetyStock: 0, tolerance: 0 }, new Pace(undefined, 0));
    const plain = reconcile(store, { safetyStock: 0, tolerance: 0 });
    expect(paced.summary).toEqual(plain.summary);
    expect(await paced.rowsPaced(new Pace(undefined, 0))).toEqual(plain.rows);
    expect(await paced.topPaced(10, new Pace(undefined, 0))).toEqual(plain.top(10));
  }, 30_000); // 200,000 keys compared several ways: seconds on a busy runner
});
