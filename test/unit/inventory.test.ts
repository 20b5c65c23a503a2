import { describe, expect, it } from 'vitest';
import { InventoryStore, reconcile } from '../../src/lib/inventory/reconcile.js';
import type { Role, RowError, SourceRow } from '../../src/lib/inventory/read.js';

type Rows = [string, string, number, number?][];
interface Spec {
  name: string;
  role: Role;
  rows: Rows;
}
const table = (name: string, role: Role, rows: Rows): Spec => ({ name, role, rows });

/** A store holding the given sources, as the readers would fill it. */
function store(specs: Spec[], duplicates: 'error' | 'sum' = 'error', errors: RowError[] = []): InventoryStore {
  const s = new InventoryStore();
  for (const spec of specs) {
    const source = s.addSource(spec.name, spec.role);
    spec.rows.forEach(([sku, location, quantity, price], i) => {
      const row: SourceRow = { sku, location, quantity, file: `${spec.name}.csv`, line: i + 2 };
      if (price !== undefined) row.price = price;
      s.add(source, row, duplicates, (e) => errors.push(e));
    });
  }
  return s;
}

describe('reconcile', () => {
  const wms = table('wms', 'warehouse', [['A', 'dfw1', 50], ['B', 'dfw1', 20], ['C', 'dfw1', 30], ['D', 'reno1', -3], ['E', 'dfw1', 2]]);
  const oms = table('oms', 'orders', [['A', 'dfw1', 10], ['B', 'dfw1', 5]]);

  it('classifies every kind of drift with exact expected rows', () => {
    const web = table('web', 'channel', [['A', 'dfw1', 38], ['B', 'dfw1', 5], ['X', 'dfw1', 4, 9.5], ['D', 'reno1', 0], ['E', 'dfw1', 0]]);
    const { rows } = reconcile(store([wms, oms, web]), { safetyStock: 2, tolerance: 0, keepOk: true });
    expect(rows.map((r) => [r.class, r.sku, r.location, r.channel, r.expected, r.actual, r.delta])).toEqual([
      ['negative', 'D', 'reno1', 'wms', null, null, null],
      ['unknown-sku', 'X', 'dfw1', 'web', null, 4, null],
      ['undersell', 'B', 'dfw1', 'web', 13, 5, -8],
      ['missing-in-channel', 'C', 'dfw1', 'web', 28, null, null],
      ['ok', 'A', 'dfw1', 'web', 38, 38, 0],
      ['ok', 'D', 'reno1', 'web', 0, 0, 0],
      ['ok', 'E', 'dfw1', 'web', 0, 0, 0],
    ]);
    expect(rows.find((r) => r.class === 'unknown-sku')).toMatchObject({ price: 9.5, valueAtRisk: 38 });
  });

  it('oversell: the channel offers more than there is; tolerance and safety stock move the line', () => {
    const web = table('web', 'channel', [['A', 'dfw1', 40]]);
    expect(reconcile(store([wms, oms, web]), { safetyStock: 2, tolerance: 0, keepOk: true }).rows.find((r) => r.sku === 'A')).toMatchObject({ class: 'oversell', expected: 38, delta: 2 });
    expect(reconcile(store([wms, oms, web]), { safetyStock: 2, tolerance: 2, keepOk: true }).rows.find((r) => r.sku === 'A')!.class).toBe('ok');
    // no safety stock for A: all 40 unreserved units may be offered
    expect(reconcile(store([wms, oms, web]), { safetyStock: (sku) => (sku === 'A' ? 0 : 2), tolerance: 0, keepOk: true }).rows.find((r) => r.sku === 'A')).toMatchObject({ class: 'ok', expected: 40, delta: 0 });
  });

  it('duplicate keys are reported, or summed', () => {
    const errors: RowError[] = [];
    const strict = store([table('web', 'channel', [['A', 'dfw1', 1], ['A', 'dfw1', 2]])], 'error', errors);
    expect(errors).toEqual([{ source: 'web', file: 'web.csv', line: 3, reason: 'duplicate sku/location A @ dfw1 (already listed earlier in this source); use --duplicates sum to add them up' }]);
    expect(strict.sources[0]!.qty[0]).toBe(1);
    expect(store([table('web', 'channel', [['A', 'dfw1', 1], ['A', 'dfw1', 2]])], 'sum').sources[0]!.qty[0]).toBe(3);
  });

  it('summarizes counts per class and channel, units and value at risk', () => {
    const web = table('web', 'channel', [['A', 'dfw1', 45, 10]]);
    const market = table('market', 'channel', [['A', 'dfw1', 38]]);
    const result = reconcile(store([wms, oms, web, market]), { safetyStock: 2, tolerance: 0 });
    const summary = result.summary;
    // the top rows come out the same whether or not every row was built
    expect(result.top(2)).toEqual(result.rows.filter((r) => r.class !== 'ok').slice(0, 2));
    expect(summary.byChannel.web).toMatchObject({ oversell: 1, 'missing-in-channel': 2 }); // B (13) and C (28) are not listed
    expect(summary.byChannel.market).toMatchObject({ ok: 1 });
    expect(summary.units.oversell).toBe(7);
    expect(summary.valueAtRisk.oversell).toBe(70);
  });
});

describe('prices', () => {
  it('a key with no price in its row has none, also after the first priced key and long after the tables grew', () => {
    const rows: Rows = [['A0', 'L0', 5, 1.5]];
    for (let i = 1; i < 200_000; i++) rows.push([`A${i}`, 'L0', 5]);
    const web = table('web', 'channel', rows.map(([sku, loc]) => [sku, loc, 1] as [string, string, number]));
    const { rows: out } = reconcile(store([table('wms', 'warehouse', rows), web]), { safetyStock: 0, tolerance: 0 });
    expect(out.filter((r) => r.price !== undefined).map((r) => [r.sku, r.price, r.valueAtRisk])).toEqual([['A0', 1.5, 6]]);
  });
});

describe('property: drift known by construction', () => {
  it('finds exactly the drift that was planted in random sources', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let round = 0; round < 30; round++) {
      const wmsRows: [string, string, number][] = [];
      const omsRows: [string, string, number][] = [];
      const webRows: [string, string, number][] = [];
      const planted = new Map<string, string>();
      const safety = rand(3);
      for (let i = 0; i < 40; i++) {
        const sku = `S${i}`;
        const loc = `L${rand(3)}`;
        const onHand = 10 + rand(50);
        const reserved = rand(8);
        const expected = Math.max(onHand - reserved - safety, 0);
        wmsRows.push([sku, loc, onHand]);
        if (reserved) omsRows.push([sku, loc, reserved]);
        const kind = rand(4);
        if (kind === 0) { webRows.push([sku, loc, expected]); planted.set(`${sku}@${loc}`, 'ok'); }
        if (kind === 1) { webRows.push([sku, loc, expected + 1 + rand(5)]); planted.set(`${sku}@${loc}`, 'oversell'); }
        if (kind === 2 && expected > 0) { webRows.push([sku, loc, expected - 1]); planted.set(`${sku}@${loc}`, 'undersell'); }
        if (kind === 3 || (kind === 2 && expected === 0)) { if (expected > 0) planted.set(`${sku}@${loc}`, 'missing-in-channel'); else { webRows.push([sku, loc, 0]); planted.set(`${sku}@${loc}`, 'ok'); } }
      }
      webRows.push(['GHOST', 'L0', 3]);
      planted.set('GHOST@L0', 'unknown-sku');
      const { rows } = reconcile(store([table('wms', 'warehouse', wmsRows), table('oms', 'orders', omsRows), table('web', 'channel', webRows)]), { safetyStock: safety, tolerance: 0, keepOk: true });
      expect(new Map(rows.map((r) => [`${r.sku}@${r.location}`, r.class]))).toEqual(planted);
    }
  });
});
