/**
 * The parallel engine against the one-thread engine on the same exports: every output (summary,
 * --out CSV and JSON, --all, --errors, --since) byte for byte the same, for 2 and 3 threads, on
 * exports with everything that makes reading hard: quoted fields (with commas, doubled quotes and
 * line breaks, some across the points where a file is cut), a BOM, CRLF, gzip, a glob of files,
 * TSV, bad rows of every kind, duplicates, negatives, prices, a location map and asOf.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/spawn-cli.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'retailctl-threads-'));

function generate(rows: number, seed: number): void {
  const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >>> 8) % n;
  const sku = (i: number) => {
    const r = rand(40);
    if (r === 0) return `"SKU,${i}"`; // a quoted comma
    if (r === 1) return `"SKU ""${i}"""`; // doubled quotes
    if (r === 2) return `"SKU\n${i}"`; // a line break inside a field
    if (r === 3) return `ünï-${i}`;
    if (r === 4) return ` SKU-${i} `; // trimmed
    if (r === 5) return `=SKU-${i}`; // a formula in the output
    return `SKU-${String(i).padStart(7, '0')}`;
  };
  const skus = Array.from({ length: rows }, (_, i) => sku(i));
  const loc = () => ['dc1', 'dc2', 'DC-3', '"dc,4"'][rand(4)]!;
  const locs = skus.map(loc);
  const bad = (i: number, good: string) => {
    const r = rand(300);
    if (r === 0) return `,${locs[i]},5`; // empty sku
    if (r === 1) return `${skus[i]},${locs[i]},five`; // not a number
    if (r === 2) return `${skus[i]}`; // too few fields
    if (r === 3) return `${skus[i]},,4`; // empty location
    return good;
  };
  const wmsA: string[] = [];
  const wmsB: string[] = [];
  for (let i = 0; i < rows; i++) {
    if (rand(12) === 0) continue;
    const q = rand(60) - (rand(50) === 0 ? 80 : 0);
    const line = bad(i, `${skus[i]},${locs[i]},${q},${rand(3) === 0 ? '' : (rand(9000) / 100).toFixed(2)},2026-12-01T0${rand(9)}:00:00Z`);
    (i % 3 === 0 ? wmsB : wmsA).push(line);
    if (rand(200) === 0) (i % 3 === 0 ? wmsB : wmsA).push(`${skus[i]},${locs[i]},7,,2026-12-01T00:00:00Z`); // a duplicate
  }
  const header = 'sku,location,onHand,price,asOf';
  writeFileSync(path.join(dir, 'wms-a.csv'), `\uFEFF${header}\r\n${wmsA.join('\r\n')}\r\n`);
  writeFileSync(path.join(dir, 'wms-b.csv.gz'), gzipSync(`${header}\n${wmsB.join('\n')}\n`));
  const oms: string[] = [];
  for (let i = 0; i < rows; i++) if (rand(3) === 0) oms.push(`${skus[i]!.replace(/\t/g, ' ')}\t${locs[i]}\t${rand(8)}`);
  writeFileSync(path.join(dir, 'oms.tsv'), `sku\tlocation\treserved\n${oms.join('\n')}\n`);
  for (const channel of ['web', 'market']) {
    const lines: string[] = [];
    for (let i = 0; i < rows; i++) {
      if (rand(25) === 0) continue;
      lines.push(bad(i, `${rand(97) === 0 ? `GHOST-${i}` : skus[i]},${locs[i]},${rand(70) - 1}`));
      if (rand(300) === 0) lines.push(`${skus[i]},${locs[i]},3`);
    }
    writeFileSync(path.join(dir, `${channel}.csv`), `sku,location,available\n${lines.join('\n')}`); // no final line break
  }
  const cols = (q: string) => `{ sku: sku, location: location, ${q} }`;
  writeFileSync(
    path.join(dir, 'retailctl.yaml'),
    `inventory:
  locationMap: { DC-3: dc3 }
  sources:
    wms: { path: "wms-*", role: warehouse, columns: { sku: sku, location: location, onHand: onHand, price: price, asOf: asOf } }
    oms: { path: oms.tsv, role: orders, columns: ${cols('reserved: reserved')} }
    web: { path: web.csv, role: channel, columns: ${cols('available: available')}, locationMap: { dc2: dc-two } }
    market: { path: market.csv, role: channel, columns: ${cols('available: available')} }
  safetyStock: 2
  tolerance: { units: 1 }
  failOn: []
`,
  );
}

async function run(threads: number, args: string[], tag: string) {
  const out = (name: string) => path.join(dir, `${tag}-t${threads}-${name}`);
  const r = await spawnCli(['inventory', 'reconcile', '--config', 'retailctl.yaml', '--threads', String(threads), '--json', '--max-errors', '100000', ...args.map((a) => a.replace('{out}', out(''))), '--errors', out('errors.csv')], { cwd: dir });
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  delete doc.elapsedMs;
  delete doc.out;
  return { code: r.code, doc, stderr: r.stderr, file: (name: string) => readFileSync(out(name), 'utf8') };
}

describe('inventory reconcile on several threads', () => {
  beforeAll(() => generate(30_000, 7));

  it.each([2, 3])('%i threads: the summary, --out CSV, --errors and every line number the same as on one thread', async (threads) => {
    const [one, many] = [await run(1, ['--out', '{out}drift.csv'], 'csv'), await run(threads, ['--out', '{out}drift.csv'], 'csv')];
    expect(one.code, one.stderr).toBe(0);
    expect(many.code, many.stderr).toBe(0);
    expect(many.doc).toEqual(one.doc);
    expect(JSON.stringify(many.doc)).toBe(JSON.stringify(one.doc)); // the same order of keys too
    const errors = one.file('errors.csv');
    expect(errors.split('\n').length).toBeGreaterThan(100);
    expect(errors).toMatch(/duplicate sku\/location/);
    expect(errors).toMatch(/wms-b\.csv\.gz,\d+,/);
    expect(many.file('errors.csv')).toBe(errors);
    const drift = one.file('drift.csv');
    expect(drift).toMatch(/^negative,/m);
    expect(drift).toMatch(/"SKU,\d+"/);
    expect(drift).toMatch(/'=SKU-/);
    expect(many.file('drift.csv')).toBe(drift);
  }, 60_000);

  it('--all with JSON output, and --since over it: the same bytes on 2 threads', async () => {
    const [one, many] = [await run(1, ['--all', '--out', '{out}all.json'], 'all'), await run(2, ['--all', '--out', '{out}all.json'], 'all')];
    expect(many.doc).toEqual(one.doc);
    expect(many.file('all.json')).toBe(one.file('all.json'));
    const previous = path.join(dir, 'all-t1-all.json');
    const [a, b] = [await run(1, ['--since', previous, '--out', '{out}since.csv'], 'since'), await run(2, ['--since', previous, '--out', '{out}since.csv'], 'since')];
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.stringify(b.doc)).toBe(JSON.stringify(a.doc));
    expect(b.file('since.csv')).toBe(a.file('since.csv'));
  }, 60_000);

  it('a file cut inside a quoted field that spans many lines is read again whole: the same rows and line numbers', async () => {
    const lines = readFileSync(path.join(dir, 'web.csv'), 'utf8').split('\n');
    const middle = Math.floor(lines.length / 2);
    // one sku whose quoted value holds 4,000 line breaks, in the middle of the file: every cut lands inside it
    lines.splice(middle, 0, `"LONG${'\n'.repeat(4000)}SKU",dc1,3`, 'SKU-AFTER,dc1,not-a-number');
    writeFileSync(path.join(dir, 'web-long.csv'), lines.join('\n'));
    const args = ['--source', 'web=web-long.csv', '--out', '{out}long.csv'];
    const [one, two, three] = [await run(1, args, 'long'), await run(2, args, 'long'), await run(3, args, 'long')];
    expect(one.code, one.stderr).toBe(0);
    const errors = one.file('errors.csv');
    expect(errors).toContain(`web-long.csv,${middle + 4002},"available is not a whole number: ""not-a-number"""`);
    for (const many of [two, three]) {
      expect(JSON.stringify(many.doc)).toBe(JSON.stringify(one.doc));
      expect(many.file('errors.csv')).toBe(errors);
      expect(many.file('long.csv')).toBe(one.file('long.csv'));
    }
  }, 60_000);

  it('in process, from the TypeScript sources (the threads load worker.ts): the same drift file', async () => {
    const { runInProcess } = await import('../support/streams.js');
    const out = path.join(dir, 'in-process.csv');
    const r = await runInProcess(['inventory', 'reconcile', '--config', 'retailctl.yaml', '--threads', '2', '--max-errors', '100000', '--out', out], { cwd: dir, now: () => new Date() });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(path.join(dir, 'csv-t1-drift.csv'), 'utf8'));
  }, 60_000);

  it('more bad rows than --max-errors: exit 2 with the same message, and the threads end with the run', async () => {
    const args = ['inventory', 'reconcile', '--config', 'retailctl.yaml', '--max-errors', '5'];
    const [one, two] = [await spawnCli([...args, '--threads', '1'], { cwd: dir }), await spawnCli([...args, '--threads', '2'], { cwd: dir })];
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/bad rows in the inputs \(--max-errors 5\)/);
    expect(two.code).toBe(2); // (it used to print the message and never exit)
    expect(two.stderr.replace(/^\S+Z /gm, '')).toBe(one.stderr.replace(/^\S+Z /gm, ''));
  }, 60_000);

  it('hostile exports: a stray quote before a quoted line break that a cut falls in, 70,000 locations, skus that are not UTF-8', async () => {
    const sub = mkdtempSync(path.join(os.tmpdir(), 'retailctl-threads-hostile-'));
    const wms = ['sku,location,onHand', 'SK"U1,dc1,5']; // a quote inside an unquoted field: a literal quote
    for (let i = 0; i < 200; i++) wms.push(`S${i},dc1,${i % 9}`);
    wms.push(`"MULTI${'\n'.repeat(300)}END",dc1,3`);
    for (let i = 0; i < 200; i++) wms.push(`T${i},dc1,${i % 7}`);
    for (let i = 0; i < 70_000; i++) wms.push(`L${i % 50},L${i},${i % 5}`);
    writeFileSync(path.join(sub, 'wms.csv'), `${wms.join('\n')}\n`);
    const bytes = [Buffer.from('sku,location,available\n')];
    for (let i = 0; i < 3000; i++) bytes.push(Buffer.concat([Buffer.from(`A${i}`), Buffer.from(i % 3 === 0 ? [0xff, 0xfe] : []), Buffer.from(`,dc1,${(i % 11) + 9}\n`)]));
    for (let i = 0; i < 70_000; i += 7) bytes.push(Buffer.from(`L${i % 50},L${i},${i % 4}\n`));
    writeFileSync(path.join(sub, 'web.csv'), Buffer.concat(bytes));
    writeFileSync(path.join(sub, 'retailctl.yaml'), 'inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: location, onHand: onHand } }\n    web: { path: web.csv, role: channel, columns: { sku: sku, location: location, available: available } }\n  failOn: []\n');
    const runIn = async (threads: number, extra: string[]) => {
      const r = await spawnCli(['inventory', 'reconcile', '--config', 'retailctl.yaml', '--json', '--threads', String(threads), ...extra], { cwd: sub });
      const doc = JSON.parse(r.stdout) as Record<string, unknown>;
      delete doc.elapsedMs;
      delete doc.out;
      return { code: r.code, stderr: r.stderr, doc: JSON.stringify(doc) };
    };
    const first = await runIn(1, ['--all', '--out', 'one.json']);
    expect(first.code, first.stderr).toBe(0);
    for (const threads of [2, 3]) {
      const many = await runIn(threads, ['--all', '--out', `t${threads}.json`]);
      expect(many.code, many.stderr).toBe(0);
      expect(many.doc).toBe(first.doc); // the most severe rows too
      expect(readFileSync(path.join(sub, `t${threads}.json`), 'utf8')).toBe(readFileSync(path.join(sub, 'one.json'), 'utf8'));
      // --since builds every row object: locations past 65,535 must survive the threads
      const [a, b] = [await runIn(1, ['--since', 'one.json', '--all', '--out', 's1.json']), await runIn(threads, ['--since', 'one.json', '--all', '--out', `s${threads}.json`])];
      expect(b.doc).toBe(a.doc);
      expect(readFileSync(path.join(sub, `s${threads}.json`), 'utf8')).toBe(readFileSync(path.join(sub, 's1.json'), 'utf8'));
    }
    expect(readFileSync(path.join(sub, 's1.json'), 'utf8')).toContain('"location":"L69999"');
  }, 120_000);

  it.each([1, 2])('an export rewritten while it is read (--threads %i): exit 2 naming the file, no drift file', async (threads) => {
    const big = mkdtempSync(path.join(os.tmpdir(), 'retailctl-threads-changing-'));
    const lines = (n: number, column: string) => ['sku,location,' + column, ...Array.from({ length: n }, (_, i) => `SKU-${i},dc${i % 4},${i % 50}`)].join('\n') + '\n';
    // a small warehouse export, then a channel export big enough to be read for a few hundred ms
    writeFileSync(path.join(big, 'wms.csv'), lines(1000, 'onHand'));
    writeFileSync(path.join(big, 'web.csv'), lines(2_000_000, 'available'));
    writeFileSync(path.join(big, 'retailctl.yaml'), 'inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: location, onHand: onHand } }\n    web: { path: web.csv, role: channel, columns: { sku: sku, location: location, available: available } }\n  failOn: []\n');
    const { spawn } = await import('node:child_process');
    const { BIN } = await import('../support/spawn-cli.js');
    const child = spawn(process.execPath, [BIN, 'inventory', 'reconcile', '-v', '--config', 'retailctl.yaml', '--threads', String(threads), '--out', 'drift.csv'], { cwd: big, env: { PATH: process.env.PATH ?? '', HOME: big, CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let appended = false;
    // the exporter appends to the channel file while the warehouse file is being read
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (!appended && /read wms/.test(stderr)) {
        appended = true;
        // now, and again while the channel export is surely being read (it takes a second or so)
        writeFileSync(path.join(big, 'web.csv'), 'SKU-NEW,dc1,5\n', { flag: 'a' });
        setTimeout(() => writeFileSync(path.join(big, 'web.csv'), 'SKU-NEWER,dc1,5\n', { flag: 'a' }), 150);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(appended).toBe(true);
    expect(code, stderr).toBe(2);
    expect(stderr).toMatch(/source web: web\.csv changed while it was read/);
    expect(existsSync(path.join(big, 'drift.csv'))).toBe(false);
  }, 60_000);

  it('a quoted field left open: the same exit 2 and file:line on 1 and 3 threads', async () => {
    const lines = readFileSync(path.join(dir, 'market.csv'), 'utf8').split('\n');
    lines.splice(Math.floor(lines.length * 0.7), 0, '"SKU-OPEN,dc1,4');
    writeFileSync(path.join(dir, 'market-open.csv'), lines.join('\n'));
    const args = ['inventory', 'reconcile', '--config', 'retailctl.yaml', '--source', 'market=market-open.csv', '--max-errors', '100000'];
    const [one, many] = [await spawnCli([...args, '--threads', '1'], { cwd: dir }), await spawnCli([...args, '--threads', '3'], { cwd: dir })];
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/market-open\.csv:\d+: /);
    expect(many.code).toBe(2);
    expect(many.stderr.replace(/^\S+Z /gm, '')).toBe(one.stderr.replace(/^\S+Z /gm, ''));
  }, 60_000);
});
