/**
 * inventory reconcile on generated exports, against DuckDB running the equivalent SQL on the same
 * files in the same run: wall seconds and peak RSS (GNU time), and the counts per class compared.
 * Goals: retailctl ≤ 1.0× DuckDB's wall time, peak RSS ≤ 400 MB at 1M rows per source; 4 sources
 * × 5M rows within 2 GB (BENCH_BIG=1, it takes minutes).
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { timed } from './timed.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Deterministic exports: 1 warehouse, 1 orders, 2 channels, `rows` rows each, with every class. */
async function generate(dir: string, rows: number): Promise<void> {
  if (existsSync(path.join(dir, 'done'))) return;
  await mkdir(dir, { recursive: true });
  let seed = 12345;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const key = (i: number) => [`SKU-${String(Math.floor(i / 4)).padStart(8, '0')}`, `dc${i % 4}`] as const;
  const write = async (file: string, header: string, line: (i: number) => string | undefined) => {
    const out = createWriteStream(path.join(dir, file));
    out.write(`${header}\n`);
    let buf = '';
    for (let i = 0; i < rows; i++) {
      const l = line(i);
      if (l !== undefined) buf += `${l}\n`;
      if (buf.length > 1 << 20) {
        if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
        buf = '';
      }
    }
    out.end(buf);
    await new Promise<void>((r) => out.on('finish', () => r()));
  };
  const onHand = (i: number) => ((i * 7919) % 200) - (i % 997 === 0 ? 210 : 0);
  const reserved = (i: number) => (i * 31) % 9;
  await write('wms.csv', 'sku,location,onHand', (i) => `${key(i).join(',')},${onHand(i)}`);
  await write('oms.csv', 'sku,location,reserved', (i) => (i % 3 === 0 ? undefined : `${key(i).join(',')},${reserved(i)}`));
  const channel = (shift: number) => (i: number) => {
    if (i % 50 === shift) return undefined; // missing in channel
    const k = i % 101 === shift ? [`GHOST-${i}`, 'dc0'] : key(i); // unknown sku
    const expected = Math.max(onHand(i) - (i % 3 === 0 ? 0 : reserved(i)) - 2, 0);
    const r = rand(10);
    return `${k.join(',')},${Math.max(0, expected + (r === 0 ? 3 : r === 1 ? -2 : 0))}`;
  };
  await write('web.csv', 'sku,location,available', channel(1));
  await write('marketplace.csv', 'sku,location,available', channel(2));
  const col = (sku: string, location: string, q: string) => `{ sku: ${sku}, location: ${location}, ${q} }`;
  await writeFile(
    path.join(dir, 'retailctl.yaml'),
    `inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: ${col('sku', 'location', 'onHand: onHand')} }\n    oms: { path: oms.csv, role: orders, columns: ${col('sku', 'location', 'reserved: reserved')} }\n    web: { path: web.csv, role: channel, columns: ${col('sku', 'location', 'available: available')} }\n    marketplace: { path: marketplace.csv, role: channel, columns: ${col('sku', 'location', 'available: available')} }\n  safetyStock: 2\n  failOn: []\n`,
  );
  await writeFile(path.join(dir, 'done'), '');
}

export interface InventoryFigures {
  rowsPerSource: number;
  retailctl: { wallS: number; rssMb: number };
  duckdb: { wallS: number; rssMb: number };
  ratio: number;
  countsMatch: boolean;
  counts: Record<string, number>;
  big?: { rowsPerSource: number; wallS: number; rssMb: number };
}

async function retailctlRun(dir: string) {
  const r = await timed(process.execPath, [path.join(ROOT, 'bin', 'retailctl.js'), 'inventory', 'reconcile', '--json', '--config', 'retailctl.yaml'], { ...process.env, CI: 'true' }, dir);
  const byClass = (JSON.parse(r.stdout) as { summary: { byClass: Record<string, number> } }).summary.byClass;
  return { ...r, counts: Object.fromEntries(Object.entries(byClass).filter(([, n]) => n > 0)) };
}

export async function benchInventory(rows = Number(process.env.BENCH_INVENTORY_ROWS ?? 1_000_000)): Promise<InventoryFigures> {
  const dir = path.join(os.tmpdir(), `retailctl-bench-inventory-${rows}`);
  await generate(dir, rows);
  // interleave and keep the better of two runs each (page cache warm for both)
  const ours = [await retailctlRun(dir)];
  const theirs = [await timed(process.execPath, [path.join(ROOT, 'bench', 'duckdb-reconcile.mjs'), dir, '2'], { ...process.env, CI: 'true' }, dir)];
  ours.push(await retailctlRun(dir));
  theirs.push(await timed(process.execPath, [path.join(ROOT, 'bench', 'duckdb-reconcile.mjs'), dir, '2'], { ...process.env, CI: 'true' }, dir));
  const best = <T extends { wallS: number }>(xs: T[]) => xs.reduce((a, b) => (b.wallS < a.wallS ? b : a));
  const o = best(ours);
  const t = best(theirs);
  const duckCounts = JSON.parse(t.stdout) as Record<string, number>;
  const countsMatch = JSON.stringify(Object.entries(o.counts).sort()) === JSON.stringify(Object.entries(duckCounts).filter(([, n]) => n > 0).sort());
  const figures: InventoryFigures = { rowsPerSource: rows, retailctl: { wallS: o.wallS, rssMb: o.rssMb }, duckdb: { wallS: t.wallS, rssMb: t.rssMb }, ratio: o.wallS / t.wallS, countsMatch, counts: o.counts };
  if (!countsMatch) console.error(`counts differ: retailctl ${JSON.stringify(o.counts)} duckdb ${JSON.stringify(duckCounts)}`);
  if (process.env.BENCH_BIG) {
    const bigRows = 5_000_000;
    const bigDir = path.join(os.tmpdir(), `retailctl-bench-inventory-${bigRows}`);
    await generate(bigDir, bigRows);
    const big = await retailctlRun(bigDir);
    figures.big = { rowsPerSource: bigRows, wallS: big.wallS, rssMb: big.rssMb };
  }
  return figures;
}

export function printInventory(f: InventoryFigures): void {
  console.log(`\ninventory reconcile, 4 sources × ${f.rowsPerSource.toLocaleString('en-US')} rows (best of 2, same run)`);
  console.log(`${'tool'.padEnd(12)}${'wall s'.padStart(8)}${'peak RSS MB'.padStart(14)}`);
  console.log(`${'retailctl'.padEnd(12)}${f.retailctl.wallS.toFixed(2).padStart(8)}${String(f.retailctl.rssMb).padStart(14)}`);
  console.log(`${'duckdb'.padEnd(12)}${f.duckdb.wallS.toFixed(2).padStart(8)}${String(f.duckdb.rssMb).padStart(14)}`);
  console.log(`ratio retailctl/duckdb: ${f.ratio.toFixed(2)}×; counts per class ${f.countsMatch ? 'identical' : 'DIFFER'}: ${JSON.stringify(f.counts)}`);
  console.log(`goals: ≤ 1.0× DuckDB: ${f.ratio <= 1 ? 'met' : 'NOT met'}; peak RSS ≤ 400 MB: ${f.retailctl.rssMb <= 400 ? 'met' : 'NOT met'}`);
  if (f.big) console.log(`4 × ${f.big.rowsPerSource.toLocaleString('en-US')} rows: ${f.big.wallS.toFixed(1)} s, peak RSS ${f.big.rssMb} MB (goal ≤ 2048 MB: ${f.big.rssMb <= 2048 ? 'met' : 'NOT met'})`);
}
