/**
 * inventory reconcile on generated exports, against DuckDB running the equivalent SQL on the same
 * files in the same run: wall seconds and peak RSS (GNU time), counts per class compared, and the
 * drift rows written as CSV by both (`--out drift.csv` against DuckDB's `COPY ... TO`), their row
 * counts and contents compared. The same data with its rows shuffled, and a size series (1M, 5M,
 * 10M rows per source; 5M and 10M only with BENCH_SERIES=1 or BENCH_BIG=1, they take minutes).
 * Goals: --out .csv/.json ≤ 15% over the run without --out; retailctl --out drift.csv ≤ 1.0×
 * DuckDB writing the same CSV, ≤ 1.3× on shuffled rows; peak RSS ≤ 400 MB at 1M rows per source,
 * ≤ 2048 MB at 10M.
 */
import { createReadStream, createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { timed, type Timed } from './timed.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SAFETY_STOCK = 2;
/** inventory.tolerance.units, defaulted (src/lib/config/schema.ts): the generated config sets none. */
const TOLERANCE = 0;
const FILES = ['wms.csv', 'oms.csv', 'web.csv', 'marketplace.csv'] as const;

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
    const expected = Math.max(onHand(i) - (i % 3 === 0 ? 0 : reserved(i)) - SAFETY_STOCK, 0);
    const r = rand(10);
    return `${k.join(',')},${Math.max(0, expected + (r === 0 ? 3 : r === 1 ? -2 : 0))}`;
  };
  await write('web.csv', 'sku,location,available', channel(1));
  await write('marketplace.csv', 'sku,location,available', channel(2));
  const col = (sku: string, location: string, q: string) => `{ sku: ${sku}, location: ${location}, ${q} }`;
  await writeFile(
    path.join(dir, 'retailctl.yaml'),
    `inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: ${col('sku', 'location', 'onHand: onHand')} }\n    oms: { path: oms.csv, role: orders, columns: ${col('sku', 'location', 'reserved: reserved')} }\n    web: { path: web.csv, role: channel, columns: ${col('sku', 'location', 'available: available')} }\n    marketplace: { path: marketplace.csv, role: channel, columns: ${col('sku', 'location', 'available: available')} }\n  safetyStock: ${SAFETY_STOCK}\n  failOn: []\n`,
  );
  await writeFile(path.join(dir, 'done'), '');
}

/** A seeded 32-bit generator (mulberry32): uniform floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Write `text` to `out`, waiting for the stream to drain when its buffer is full. */
async function put(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
}

async function finish(out: WriteStream): Promise<void> {
  out.end();
  await new Promise<void>((resolve, reject) => {
    out.once('finish', () => resolve());
    out.once('error', reject);
  });
}

/** Every line of a file after the first (the header, handed to `onHeader`), streamed. */
async function eachLine(file: string, onHeader: (header: string) => void | Promise<void>, onLine: (line: string) => void | Promise<void>): Promise<void> {
  let rest = '';
  let first = true;
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (first) {
        first = false;
        await onHeader(line);
      } else if (line !== '') await onLine(line);
    }
  }
  if (rest !== '') await (first ? onHeader(rest) : onLine(rest));
}

/** Lines per in-memory shuffle: a bucket of short lines as JS strings stays in the tens of MB. */
const BUCKET_LINES = 1_000_000;

/**
 * `src` with its data rows in a random (seeded) order, header first, into `dst`, streamed: each row
 * goes to one of ⌈rows / 1M⌉ bucket files at random, then each bucket is shuffled in memory
 * (Fisher–Yates) and appended. Random bucket + uniform shuffle within it is a uniform permutation.
 */
async function shuffleFile(src: string, dst: string, rows: number, seed: number): Promise<void> {
  const rand = mulberry32(seed);
  const n = Math.max(1, Math.ceil(rows / BUCKET_LINES));
  const bucketFiles = Array.from({ length: n }, (_, b) => `${dst}.bucket${b}`);
  const buckets = bucketFiles.map((f) => createWriteStream(f));
  const pending = bucketFiles.map(() => '');
  const out = createWriteStream(dst);
  await eachLine(
    src,
    (header) => put(out, `${header}\n`),
    async (line) => {
      const b = n === 1 ? 0 : Math.floor(rand() * n);
      pending[b] += `${line}\n`;
      if (pending[b]!.length >= 1 << 20) {
        await put(buckets[b]!, pending[b]!);
        pending[b] = '';
      }
    },
  );
  for (let b = 0; b < n; b++) {
    await put(buckets[b]!, pending[b]!);
    await finish(buckets[b]!);
  }
  for (const file of bucketFiles) {
    const lines = (await readFile(file, 'utf8')).split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (let i = lines.length - 1; i > 0; i--) {
      const k = Math.floor(rand() * (i + 1));
      const t = lines[i]!;
      lines[i] = lines[k]!;
      lines[k] = t;
    }
    for (let i = 0; i < lines.length; i += 20_000) await put(out, `${lines.slice(i, i + 20_000).join('\n')}\n`);
    await rm(file);
  }
  await finish(out);
}

/** The data of `from` (generated with `rows` rows per source), rows shuffled in every file, in `dir`. */
async function generateShuffled(from: string, dir: string, rows: number): Promise<void> {
  if (existsSync(path.join(dir, 'done'))) return;
  await mkdir(dir, { recursive: true });
  for (const [i, file] of FILES.entries()) await shuffleFile(path.join(from, file), path.join(dir, file), rows, 0x5eed + i);
  await copyFile(path.join(from, 'retailctl.yaml'), path.join(dir, 'retailctl.yaml'));
  await writeFile(path.join(dir, 'done'), '');
}

interface Run {
  wallS: number;
  rssMb: number;
}

export interface InventoryFigures {
  rowsPerSource: number;
  /** retailctl without --out, and DuckDB counting per class (no rows written). */
  retailctl: Run;
  duckdb: Run;
  /** Headline: retailctl --out drift.csv wall time / DuckDB writing the same rows as CSV. */
  ratio: number;
  /** retailctl without --out / DuckDB counting only. */
  countsOnlyRatio: number;
  /** The same run writing the drift rows: `--out drift.csv` and `--out drift.json`. */
  withOut: { csv: Run; json: Run };
  /** DuckDB doing the same join and classification and writing the drift rows with COPY ... TO 'duck-drift.csv'. */
  duckdbCsv: Run;
  countsMatch: boolean;
  counts: Record<string, number>;
  /** Data rows (header excluded) of retailctl's drift.csv and DuckDB's duck-drift.csv; `identical`: the same lines, order aside. */
  driftRows: { retailctl: number; duckdb: number; match: boolean; identical: boolean };
  /** The same data, rows in a seeded random order in every file: --out drift.csv against DuckDB's CSV. */
  shuffled: { retailctl: Run; duckdb: Run; ratio: number; countsMatch: boolean; driftRows: { retailctl: number; duckdb: number; match: boolean; identical: boolean } };
  /** retailctl --out drift.csv by rows per source (the first entry is the best-of-2 figure above; larger sizes one run each). */
  series: { rowsPerSource: number; wallS: number; rssMb: number; sPerMillion: number }[];
  /** Sizes not run (BENCH_SERIES unset). */
  seriesSkipped: number[];
}

function checked(r: Timed, what: string): Timed {
  if (!r.ok) throw new Error(`${what} failed: ${r.note ?? ''}`);
  return r;
}

async function retailctlRun(dir: string, more: string[] = []) {
  const r = checked(await timed(process.execPath, [path.join(ROOT, 'bin', 'retailctl.js'), 'inventory', 'reconcile', '--json', '--config', 'retailctl.yaml', ...more], { ...process.env, CI: 'true' }, dir), `retailctl in ${dir}`);
  const byClass = (JSON.parse(r.stdout) as { summary: { byClass: Record<string, number> } }).summary.byClass;
  return { ...r, counts: Object.fromEntries(Object.entries(byClass).filter(([, n]) => n > 0)) };
}

async function duckdbRun(dir: string, csvOut?: string) {
  const args = [path.join(ROOT, 'bench', 'duckdb-reconcile.mjs'), dir, String(SAFETY_STOCK), String(TOLERANCE), ...(csvOut ? ['--csv', path.join(dir, csvOut)] : [])];
  return checked(await timed(process.execPath, args, { ...process.env, CI: 'true' }, dir), `duckdb in ${dir}`);
}

const best = <T extends { wallS: number }>(xs: T[]) => xs.reduce((a, b) => (b.wallS < a.wallS ? b : a));
const run = (r: Timed): Run => ({ wallS: r.wallS, rssMb: r.rssMb });
const sameCounts = (a: Record<string, number>, b: Record<string, number>) =>
  JSON.stringify(Object.entries(a).filter(([, n]) => n > 0).sort()) === JSON.stringify(Object.entries(b).filter(([, n]) => n > 0).sort());

/** Data rows of a CSV file (its lines but the header), counted streaming. */
async function dataRows(file: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
  }
  return lines - 1;
}

/** Both drift files: row counts, and whether they hold the same lines (header included, row order aside). */
async function compareDrift(dir: string) {
  const [ours, theirs] = [path.join(dir, 'drift.csv'), path.join(dir, 'duck-drift.csv')];
  const retailctl = await dataRows(ours);
  const duckdb = await dataRows(theirs);
  let identical = false;
  if (retailctl === duckdb) {
    const lines = async (f: string) => {
      const all = (await readFile(f, 'utf8')).split('\n');
      const header = all.shift();
      return [header, ...all.filter((l) => l !== '').sort()];
    };
    const [a, b] = [await lines(ours), await lines(theirs)];
    identical = a.length === b.length && a.every((l, i) => l === b[i]);
  }
  return { retailctl, duckdb, match: retailctl === duckdb, identical };
}

const seriesWanted = () => process.env.BENCH_SERIES === '1' || process.env.BENCH_BIG === '1';

export async function benchInventory(rows = Number(process.env.BENCH_INVENTORY_ROWS ?? 1_000_000)): Promise<InventoryFigures> {
  const dir = path.join(os.tmpdir(), `retailctl-bench-inventory-${rows}`);
  await generate(dir, rows);
  // interleave and keep the better of two runs each (page cache warm for both)
  const ours = [];
  const theirs = [];
  for (let i = 0; i < 2; i++) {
    ours.push(await retailctlRun(dir));
    theirs.push(await duckdbRun(dir));
  }
  const [o, t] = [best(ours), best(theirs)];
  const duckCounts = JSON.parse(t.stdout) as Record<string, number>;
  const countsMatch = sameCounts(o.counts, duckCounts);
  if (!countsMatch) console.error(`counts differ: retailctl ${JSON.stringify(o.counts)} duckdb ${JSON.stringify(duckCounts)}`);

  const csvRuns = [];
  const duckCsvRuns = [];
  for (let i = 0; i < 2; i++) {
    csvRuns.push(await retailctlRun(dir, ['--out', 'drift.csv']));
    duckCsvRuns.push(await duckdbRun(dir, 'duck-drift.csv'));
  }
  const [c, dc] = [best(csvRuns), best(duckCsvRuns)];
  const driftRows = await compareDrift(dir);
  const jsonRuns = [await retailctlRun(dir, ['--out', 'drift.json']), await retailctlRun(dir, ['--out', 'drift.json'])];
  const j = best(jsonRuns);

  // shuffled rows: the same data, every file in a seeded random order
  const shuffledDir = path.join(os.tmpdir(), `retailctl-bench-inventory-${rows}-shuffled`);
  await generateShuffled(dir, shuffledDir, rows);
  const sOurs = [];
  const sTheirs = [];
  for (let i = 0; i < 2; i++) {
    sOurs.push(await retailctlRun(shuffledDir, ['--out', 'drift.csv']));
    sTheirs.push(await duckdbRun(shuffledDir, 'duck-drift.csv'));
  }
  const [so, st] = [best(sOurs), best(sTheirs)];
  const shuffledDrift = await compareDrift(shuffledDir);
  const shuffledCounts = sameCounts(so.counts, o.counts);
  if (!shuffledCounts) console.error(`shuffled counts differ: ${JSON.stringify(so.counts)} against ${JSON.stringify(o.counts)}`);

  const series: InventoryFigures['series'] = [{ rowsPerSource: rows, wallS: c.wallS, rssMb: c.rssMb, sPerMillion: c.wallS / (rows / 1e6) }];
  const bigger = [5_000_000, 10_000_000].filter((n) => n > rows);
  if (seriesWanted()) {
    for (const n of bigger) {
      const d = path.join(os.tmpdir(), `retailctl-bench-inventory-${n}`);
      await generate(d, n);
      const r = await retailctlRun(d, ['--out', 'drift.csv']);
      series.push({ rowsPerSource: n, wallS: r.wallS, rssMb: r.rssMb, sPerMillion: r.wallS / (n / 1e6) });
    }
  }

  return {
    rowsPerSource: rows,
    retailctl: run(o),
    duckdb: run(t),
    ratio: c.wallS / dc.wallS,
    countsOnlyRatio: o.wallS / t.wallS,
    withOut: { csv: run(c), json: run(j) },
    duckdbCsv: run(dc),
    countsMatch,
    counts: o.counts,
    driftRows,
    shuffled: { retailctl: run(so), duckdb: run(st), ratio: so.wallS / st.wallS, countsMatch: shuffledCounts, driftRows: shuffledDrift },
    series,
    seriesSkipped: seriesWanted() ? [] : bigger,
  };
}

const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
const rowsText = (n: number) => n.toLocaleString('en-US');

export function printInventory(f: InventoryFigures): void {
  const line = (name: string, r: Run, note = '') => console.log(`${name.padEnd(26)}${r.wallS.toFixed(2).padStart(8)}${String(r.rssMb).padStart(14)}${note ? `   ${note}` : ''}`);
  const over = (r: Run) => (r.wallS / f.retailctl.wallS - 1) * 100;
  console.log(`\ninventory reconcile, 4 sources × ${rowsText(f.rowsPerSource)} rows (best of 2, interleaved, same run)`);
  console.log(`${'tool'.padEnd(26)}${'wall s'.padStart(8)}${'peak RSS MB'.padStart(14)}`);
  line('retailctl', f.retailctl);
  line('duckdb (counts only)', f.duckdb);
  line('retailctl --out .csv', f.withOut.csv, `${over(f.withOut.csv).toFixed(0)}% over the run without --out (goal ≤ 15%)`);
  line('retailctl --out .json', f.withOut.json, `${over(f.withOut.json).toFixed(0)}% over the run without --out (goal ≤ 15%)`);
  line('duckdb COPY TO .csv', f.duckdbCsv);
  console.log(`ratio retailctl --out .csv / duckdb .csv: ${f.ratio.toFixed(2)}× (goal ≤ 1.0×)`);
  console.log(`ratio counts only, retailctl / duckdb: ${f.countsOnlyRatio.toFixed(2)}×`);
  console.log(`counts per class ${f.countsMatch ? 'identical' : 'DIFFER'}: ${JSON.stringify(f.counts)}`);
  const drift = (d: InventoryFigures['driftRows']) => `retailctl ${rowsText(d.retailctl)}, duckdb ${rowsText(d.duckdb)}: ${d.match ? 'match' : 'DIFFER'}${d.match ? `, lines ${d.identical ? 'identical' : 'DIFFER'} (order aside)` : ''}`;
  console.log(`drift CSV rows: ${drift(f.driftRows)}`);

  const s = f.shuffled;
  console.log(`\nshuffled rows (same data, seeded random order in every file)`);
  line('retailctl --out .csv', s.retailctl);
  line('duckdb COPY TO .csv', s.duckdb);
  console.log(`ratio retailctl / duckdb: ${s.ratio.toFixed(2)}× (goal ≤ 1.3×); counts per class ${s.countsMatch ? 'identical to the ordered run' : 'DIFFER from the ordered run'}`);
  console.log(`drift CSV rows: ${drift(s.driftRows)}`);

  console.log(`\nsize series, retailctl --out drift.csv (4 sources × rows)`);
  console.log(`${'rows per source'.padEnd(18)}${'wall s'.padStart(8)}${'peak RSS MB'.padStart(14)}${'s per M rows'.padStart(14)}`);
  for (const r of f.series) console.log(`${rowsText(r.rowsPerSource).padEnd(18)}${r.wallS.toFixed(2).padStart(8)}${String(r.rssMb).padStart(14)}${r.sPerMillion.toFixed(2).padStart(14)}`);
  if (f.seriesSkipped.length > 0) console.log(`${f.seriesSkipped.map(rowsText).join(' and ')} rows skipped: set BENCH_SERIES=1 to run them (minutes)`);

  const at10m = f.series.find((r) => r.rowsPerSource === 10_000_000);
  console.log(`\ngoals:`);
  console.log(`  --out .csv ≤ 15% over no --out: ${met(over(f.withOut.csv) <= 15)}; --out .json ≤ 15%: ${met(over(f.withOut.json) <= 15)}`);
  console.log(`  retailctl --out .csv ≤ 1.0× DuckDB .csv: ${met(f.ratio <= 1)}`);
  console.log(`  shuffled ≤ 1.3× DuckDB .csv: ${met(s.ratio <= 1.3)}`);
  console.log(`  peak RSS ≤ 400 MB at ${rowsText(f.rowsPerSource)}: ${met(Math.max(f.retailctl.rssMb, f.withOut.csv.rssMb, f.withOut.json.rssMb) <= 400)}`);
  console.log(`  peak RSS ≤ 2048 MB at 10,000,000: ${at10m ? met(at10m.rssMb <= 2048) : 'not measured (BENCH_SERIES=1)'}`);
  if (!f.countsMatch || !f.driftRows.identical || !s.countsMatch || !s.driftRows.identical) console.log(`  WARNING: retailctl and DuckDB disagree (see above)`);
}
