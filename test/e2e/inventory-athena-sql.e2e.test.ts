/**
 * The semantic check of `inventory reconcile --engine athena`: the query retailctl generates for
 * Athena, run by DuckDB over the same exports (read as Athena's SerDes read them, see
 * test/support/athena-duckdb.ts), gives exactly the rows and the summary of the local engine (the
 * built binary, `--all --out rows.json --json`), and the drift planted by construction.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { planAthena, type AthenaOptions, type AthenaSource } from '../../src/lib/inventory/athena-plan.js';
import { markErrors, ResultParser, summaryOf, type ResultRecord } from '../../src/lib/inventory/athena-result.js';
import { runOnDuckDB } from '../support/athena-duckdb.js';
import { spawnCli } from '../support/spawn-cli.js';

interface Source {
  name: string;
  role: AthenaSource['role'];
  file: string;
  columns: Record<string, string>;
  locationMap?: Record<string, string>;
}

/** The first line's column names, as retailctl reads a header (gzip and BOM aside). */
function headerOf(file: string): string[] {
  let bytes = readFileSync(file);
  if (file.endsWith('.gz')) bytes = gunzipSync(bytes);
  const first = bytes.toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n/)[0]!;
  return first.split(file.includes('.tsv') ? '\t' : ',').map((h) => h.trim());
}

function yamlOf(sources: Source[], extra: string): string {
  const lines = sources.map((s) => `    ${s.name}: { path: ${path.basename(s.file)}, role: ${s.role}, columns: { ${Object.entries(s.columns).map(([k, v]) => `${k}: "${v}"`).join(', ')} }${s.locationMap ? `, locationMap: { ${Object.entries(s.locationMap).map(([k, v]) => `"${k}": "${v}"`).join(', ')} }` : ''} }`);
  return `inventory:\n  sources:\n${lines.join('\n')}\n  failOn: []\n${extra}`;
}

/** Both engines on the same files: the local engine's --json document and rows, and the query's records. */
async function both(dir: string, sources: Source[], options: { safetyStock: number | Map<string, number>; tolerance: number; duplicates: 'error' | 'sum'; globalMap?: Record<string, string>; extraYaml?: string; maxErrors?: number }) {
  writeFileSync(path.join(dir, 'retailctl.yaml'), yamlOf(sources, options.extraYaml ?? ''));
  const local = await spawnCli(['inventory', 'reconcile', '--config', 'retailctl.yaml', '--all', '--out', 'rows.json', '--json', '--duplicates', options.duplicates, '--max-errors', String(options.maxErrors ?? 1000), '--threads', '1'], { cwd: dir, env: { HOME: dir } });
  expect(local.code, local.stderr).toBe(0);
  const athenaSources: AthenaSource[] = sources.map((s) => ({
    name: s.name,
    role: s.role,
    format: s.file.includes('.jsonl') ? 'jsonl' : s.file.includes('.tsv') ? 'tsv' : 'csv',
    columns: s.columns,
    locationMap: { ...(options.globalMap ?? {}), ...(s.locationMap ?? {}) },
    objects: [{ url: `s3://exports/${path.basename(s.file)}`, size: readFileSync(s.file).length }],
    ...(s.file.includes('.jsonl') ? {} : { header: headerOf(s.file) }),
  }));
  const planOptions: AthenaOptions = { database: 'inventory', outputLocation: 's3://athena-results/retailctl/', tablePrefix: 'retailctl_', safetyStock: options.safetyStock, tolerance: options.tolerance, keepOk: true, duplicates: options.duplicates, pricePerTB: 5 };
  const plan = planAthena(athenaSources, planOptions);
  const tables = plan.tables.map((t, i) => ({ database: 'inventory', table: t.definition, files: [sources[i]!.file] }));
  if (plan.safety) {
    const file = path.join(dir, 'safety-table.csv');
    writeFileSync(file, plan.safety.object.body);
    tables.push({ database: 'inventory', table: plan.safety.definition, files: [file] });
  }
  const out = path.join(dir, 'athena.csv');
  await runOnDuckDB({ tables, sql: plan.query, out });
  const parser = new ResultParser();
  const records: ResultRecord[] = [...parser.push(readFileSync(out)), ...parser.end()];
  const summaries = records.filter((r): r is Extract<ResultRecord, { kind: 'summary' }> => r.kind === 'summary');
  const athenaRows = records.flatMap((r) => (r.kind === 'row' ? Array.from({ length: r.count }, () => r.row) : []));
  const localDoc = JSON.parse(local.stdout) as { summary: unknown; badRows: number };
  const localRows = JSON.parse(readFileSync(path.join(dir, 'rows.json'), 'utf8')) as Record<string, unknown>[];
  const sorted = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();
  return {
    local: { summary: localDoc.summary, badRows: localDoc.badRows, rows: sorted(localRows), raw: localRows },
    athena: { summary: summaryOf(summaries, athenaSources), rows: sorted(athenaRows), raw: athenaRows, marks: records.filter((r): r is Extract<ResultRecord, { kind: 'mark' }> => r.kind === 'mark') },
  };
}

describe('the Athena query, run on DuckDB, against the local engine', () => {
  it('finds exactly the drift planted by construction, with the local engine’s rows and summary (10 random rounds)', async () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >>> 4) % n;
    for (let round = 0; round < 10; round++) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'retailctl-athena-sql-'));
      const wms = ['sku,location,onHand'];
      const oms = ['sku,location,reserved'];
      const web = ['sku,location,available'];
      const planted = new Map<string, string>();
      const safety = rand(3);
      for (let i = 0; i < 60; i++) {
        const sku = `S${i}`;
        const loc = `L${rand(3)}`;
        const onHand = 10 + rand(50);
        const reserved = rand(8);
        const expected = Math.max(onHand - reserved - safety, 0);
        wms.push(`${sku},${loc},${onHand}`);
        if (reserved) oms.push(`${sku},${loc},${reserved}`);
        const kind = rand(4);
        const key = `${sku}@${loc}`;
        if (kind === 0) (web.push(`${sku},${loc},${expected}`), planted.set(key, 'ok'));
        if (kind === 1) (web.push(`${sku},${loc},${expected + 1 + rand(5)}`), planted.set(key, 'oversell'));
        if (kind === 2 && expected > 0) (web.push(`${sku},${loc},${expected - 1}`), planted.set(key, 'undersell'));
        if (kind === 3 || (kind === 2 && expected === 0)) {
          if (expected > 0) planted.set(key, 'missing-in-channel');
          else (web.push(`${sku},${loc},0`), planted.set(key, 'ok'));
        }
      }
      web.push('GHOST,L0,3');
      planted.set('GHOST@L0', 'unknown-sku');
      for (const [name, lines] of [['wms', wms], ['oms', oms], ['web', web]] as const) writeFileSync(path.join(dir, `${name}.csv`), `${lines.join('\n')}\n`);
      const sources: Source[] = [
        { name: 'wms', role: 'warehouse', file: path.join(dir, 'wms.csv'), columns: { sku: 'sku', location: 'location', onHand: 'onHand' } },
        { name: 'oms', role: 'orders', file: path.join(dir, 'oms.csv'), columns: { sku: 'sku', location: 'location', reserved: 'reserved' } },
        { name: 'web', role: 'channel', file: path.join(dir, 'web.csv'), columns: { sku: 'sku', location: 'location', available: 'available' } },
      ];
      const r = await both(dir, sources, { safetyStock: safety, tolerance: 0, duplicates: 'error', extraYaml: `  safetyStock: ${safety}\n` });
      expect(new Map(r.athena.raw.map((row) => [`${row.sku}@${row.location}`, row.class]))).toEqual(planted);
      expect(r.athena.rows).toEqual(r.local.rows);
      expect(r.athena.summary.summary).toEqual(r.local.summary);
    }
  }, 60_000);

  it('on exports with everything that makes reading hard: the same rows, summary and bad-row count', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retailctl-athena-sql-'));
    let seed = 11;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >>> 4) % n;
    const skuOf = (i: number) => (i % 17 === 0 ? `"S,${i}"` : i % 19 === 0 ? `"S ""${i}"""` : i % 23 === 0 ? ` S${i} ` : i % 29 === 0 ? `ünï-${i}` : `S${i}`);
    const plainSku = (i: number) => (i % 17 === 0 ? `S,${i}` : i % 19 === 0 ? `S "${i}"` : i % 29 === 0 ? `ünï-${i}` : `S${i}`);
    const wmsA = ['sku,location,onHand,price'];
    // a `"` inside an unquoted field is read differently by OpenCSVSerde (docs/inventory.md): none in the TSV
    const wmsB = ['sku\tlocation\tonHand\tprice'];
    const oms = ['location,sku,reserved,note'];
    const web = ['location,sku,available,price'];
    const market: string[] = [];
    const safetyValues = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const loc = ['L0', 'L1', 'DC-3', ' l2 '][rand(4)]!;
      const price = rand(3) ? (rand(9000) / 100).toFixed(2) : '';
      if (rand(10) !== 0) (i % 3 ? wmsA : wmsB).push((i % 3 ? [skuOf(i), loc, rand(60) - (rand(25) === 0 ? 70 : 0), price] : [plainSku(i).replaceAll('"', ''), loc.trim(), rand(60), price]).join(i % 3 ? ',' : '\t'));
      // a key in both warehouse exports: quantities add up, the second one's price wins
      if (i % 7 === 1 && i % 3 !== 0 && skuOf(i) === `S${i}`) wmsB.push([`S${i}`, loc.trim(), rand(20), (rand(900) / 10).toFixed(1)].join('\t'));
      if (rand(3) === 0) oms.push(`${loc},${skuOf(i)},${rand(9) - (rand(40) === 0 ? 12 : 0)},"note, with comma"`);
      if (rand(8) !== 0) web.push(`${loc},${rand(40) === 0 ? `GHOST${i}` : skuOf(i)},${rand(60) - 1},${rand(4) ? '' : (rand(500) / 10).toFixed(1)}`);
      if (rand(5) !== 0) market.push(JSON.stringify({ s: plainSku(i), l: loc.trim() === 'DC-3' ? 'dc3' : loc.trim(), a: rand(5) === 0 ? ` ${rand(50)} ` : rand(50), p: rand(3) ? rand(900) / 10 : undefined }));
      if (rand(50) === 0) web.push(`${loc},${skuOf(i)},x${rand(3)}`); // not a number
      if (rand(60) === 0) web.push(`${loc},,4`); // empty sku
      if (rand(70) === 0) web.push(`${loc}`); // too few fields
      if (rand(60) === 0) market.push('{"s": "", "l": "L0", "a": 1}', '{"s": "A", "l": "L0", "a": 1.5}', 'not json');
      if (rand(90) === 0) wmsA.push(`${skuOf(i)},${loc},+${rand(9)},`, `${skuOf(i)}-big,${loc},12345678901234567,`);
      if (rand(4) === 0) safetyValues.set(plainSku(i).trim(), rand(4));
    }
    wmsA.push('SKU-DUP,L0,5,1.00', 'SKU-DUP,L0,-2,1.00', '', 'SKU-BLANK-BEFORE,L0,3,');
    writeFileSync(path.join(dir, 'wms-a.csv'), `\uFEFF${wmsA.join('\r\n')}\r\n`);
    writeFileSync(path.join(dir, 'wms-b.tsv.gz'), gzipSync(`${wmsB.join('\n')}\n`));
    writeFileSync(path.join(dir, 'oms.csv'), `${oms.join('\n')}\n`);
    writeFileSync(path.join(dir, 'web.csv'), web.join('\n')); // no final line break
    writeFileSync(path.join(dir, 'market.jsonl'), `${market.join('\n')}\n`);
    writeFileSync(path.join(dir, 'safety.csv'), `sku,safetyStock\n${[...safetyValues].map(([s, n]) => `"${s.replaceAll('"', '""')}",${n}`).join('\n')}\n`);
    const sources: Source[] = [
      { name: 'wms-a', role: 'warehouse', file: path.join(dir, 'wms-a.csv'), columns: { sku: 'sku', location: 'location', onHand: 'onHand', price: 'price' } },
      { name: 'wms-b', role: 'warehouse', file: path.join(dir, 'wms-b.tsv.gz'), columns: { sku: 'sku', location: 'location', onHand: 'onHand', price: 'price' } },
      { name: 'oms', role: 'orders', file: path.join(dir, 'oms.csv'), columns: { sku: 'sku', location: 'location', reserved: 'reserved' } },
      { name: 'web', role: 'channel', file: path.join(dir, 'web.csv'), columns: { sku: 'sku', location: 'location', available: 'available', price: 'price' }, locationMap: { l2: 'L2-web' } },
      { name: 'market', role: 'channel', file: path.join(dir, 'market.jsonl'), columns: { sku: 's', location: 'l', available: 'a', price: 'p' } },
    ];
    const r = await both(dir, sources, { safetyStock: safetyValues, tolerance: 1, duplicates: 'sum', globalMap: { 'DC-3': 'dc3' }, extraYaml: '  locationMap: { "DC-3": dc3 }\n  safetyStock: { file: safety.csv }\n  tolerance: { units: 1 }\n' });
    expect(r.athena.rows.length).toBeGreaterThan(300);
    for (const cls of ['oversell', 'undersell', 'missing-in-channel', 'unknown-sku', 'negative', 'ok']) expect(r.athena.raw.some((row) => row.class === cls), cls).toBe(true);
    expect(r.athena.raw.some((row) => row.price !== undefined)).toBe(true);
    expect(r.athena.rows).toEqual(r.local.rows);
    expect(r.athena.summary.summary).toEqual(r.local.summary);
    const bad = markErrors(r.athena.marks, new Map()).reduce((n, e) => n + (e.count ?? 1), 0);
    expect(bad).toBe(r.local.badRows);
    expect(bad).toBeGreaterThan(5);
  }, 60_000);

  it('whitespace as the local engine trims it (tab, no-break spaces, the BOM), a mapped price column the export lacks, a source named like the safety-stock table', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retailctl-athena-sql-'));
    const pad = ['\t', '\u00a0', '\ufeff', '\u2007', '\u202f', '\u3000', ' '];
    const wms = ['sku,location,onHand'];
    const web = ['sku,location,available,price'];
    const safety = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const p = pad[i % pad.length]!;
      wms.push(`${p}S${i}${p},${p}L${i % 3}${p},${p}${10 + i}${p}`);
      web.push(`S${i},L${i % 3},${8 + i + (i % 5)},${p}${(i / 4).toFixed(2)}${p}`);
      if (i % 3 === 0) safety.set(`S${i}`, i % 4);
    }
    writeFileSync(path.join(dir, 'wms.csv'), `${wms.join('\n')}\n`);
    writeFileSync(path.join(dir, 'web.csv'), `${web.join('\n')}\n`);
    writeFileSync(path.join(dir, 'safety.csv'), `sku,safetyStock\n${[...safety].map(([k, v]) => `${k},${v}`).join('\n')}\n`);
    const sources: Source[] = [
      // price is mapped but wms.csv has no price column: no price, as locally
      { name: 'safety_stock', role: 'warehouse', file: path.join(dir, 'wms.csv'), columns: { sku: 'sku', location: 'location', onHand: 'onHand', price: 'price' } },
      { name: 'web', role: 'channel', file: path.join(dir, 'web.csv'), columns: { sku: 'sku', location: 'location', available: 'available', price: 'price' } },
    ];
    const r = await both(dir, sources, { safetyStock: safety, tolerance: 0, duplicates: 'error', extraYaml: '  safetyStock: { file: safety.csv }\n' });
    expect(r.local.badRows).toBe(0);
    expect(r.athena.marks).toEqual([]);
    expect(r.athena.raw.filter((row) => row.class === 'unknown-sku' || row.class === 'missing-in-channel')).toEqual([]);
    expect(r.athena.rows).toEqual(r.local.rows);
    expect(r.athena.summary.summary).toEqual(r.local.summary);
  }, 30_000);

  it('--duplicates error: every repeated key is reported with its count, as the local engine reports the rows', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retailctl-athena-sql-'));
    writeFileSync(path.join(dir, 'wms.csv'), 'sku,location,onHand\nA,L0,5\nA,L0,5\nA,L0,5\nB,L0,2\nC,L1,-4\nC,L1,-4\n');
    writeFileSync(path.join(dir, 'web.csv'), 'sku,location,available\nA,L0,4\nB,L0,2\nB,L0,2\n');
    const sources: Source[] = [
      { name: 'wms', role: 'warehouse', file: path.join(dir, 'wms.csv'), columns: { sku: 'sku', location: 'location', onHand: 'onHand' } },
      { name: 'web', role: 'channel', file: path.join(dir, 'web.csv'), columns: { sku: 'sku', location: 'location', available: 'available' } },
    ];
    const r = await both(dir, sources, { safetyStock: 0, tolerance: 0, duplicates: 'error' });
    const errors = markErrors(r.athena.marks, new Map([['wms', 's3://exports/wms.csv'], ['web', 's3://exports/web.csv']]));
    expect(errors.map((e) => [e.source, e.count, e.reason]).sort()).toEqual([
      ['web', 1, 'duplicate sku/location B @ L0 (listed 2 times in this source); use --duplicates sum to add them up'],
      ['wms', 1, 'duplicate sku/location C @ L1 (listed 2 times in this source); use --duplicates sum to add them up'],
      ['wms', 2, 'duplicate sku/location A @ L0 (listed 3 times in this source); use --duplicates sum to add them up'],
    ]);
    expect(r.local.badRows).toBe(4);
    // equal repeats: whichever row is kept, the rows and the summary are the local engine's (both -4s are negative rows)
    expect(r.athena.rows).toEqual(r.local.rows);
    expect(r.athena.summary.summary).toEqual(r.local.summary);
  }, 30_000);
});
