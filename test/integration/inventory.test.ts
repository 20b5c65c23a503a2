/** retailctl inventory reconcile on files written by the test (and the shipped examples), plus an s3:// source in moto. */
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint } = useEmulator();

async function workspace(files: Record<string, string | Buffer>, inventoryYaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-inventory-'));
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  await writeFile(path.join(dir, 'retailctl.yaml'), `inventory:\n${inventoryYaml.replace(/^/gm, '  ')}\n`);
  return dir;
}

const SOURCES = `sources:
  wms: { path: wms.csv, role: warehouse, columns: { sku: item_code, location: site, onHand: qty_on_hand } }
  oms: { path: oms.jsonl, role: orders, columns: { sku: sku, location: fc, reserved: allocated_qty } }
  web: { path: web.csv.gz, role: channel, columns: { sku: SKU, location: Location, available: Available, price: Price } }
locationMap: { "Dallas, TX": dfw1 }
safetyStock: 2
failOn: [oversell]`;

const WMS = '\uFEFFitem_code,site,qty_on_hand\r\n"SER-001","Dallas, TX",50\r\nSER-002,dfw1,20\r\n"MUG ""12oz""",dfw1,9\r\n';
const OMS = '{"sku":"SER-001","fc":"dfw1","allocated_qty":10}\n{"sku":"SER-002","fc":"dfw1","allocated_qty":5}\n';
const WEB = gzipSync('SKU,Location,Available,Price\nSER-001,dfw1,45,20\nSER-002,dfw1,13,5\n"MUG ""12oz""",dfw1,7,12\n');

function cli(dir: string, args: string[]) {
  return runInProcess(['inventory', 'reconcile', ...args, '--config', path.join(dir, 'retailctl.yaml'), '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}

describe('inventory reconcile', () => {
  it('reads BOM, CRLF, quoted fields, JSON Lines and gzip; maps locations; exit 5 on oversell with value at risk', async () => {
    const dir = await workspace({ 'wms.csv': WMS, 'oms.jsonl': OMS, 'web.csv.gz': WEB }, SOURCES);
    const res = await cli(dir, ['--json', '--out', 'drift.csv']);
    expect(res.code).toBe(5);
    const doc = JSON.parse(res.stdout) as { failing: string[]; summary: { byClass: Record<string, number>; valueAtRisk: Record<string, number> }; top: { sku: string; class: string; delta: number }[] };
    expect(doc.failing).toEqual(['oversell']);
    expect(doc.summary.byClass).toMatchObject({ oversell: 1, ok: 2 });
    expect(doc.summary.valueAtRisk.oversell).toBe(140); // SER-001: 45 offered, 50 − 10 − 2 = 38 expected: 7 × 20
    const rows = parse(await readFile(path.join(dir, 'drift.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows).toEqual([{ class: 'oversell', sku: 'SER-001', location: 'dfw1', channel: 'web', onHand: '50', reserved: '10', safetyStock: '2', expected: '38', actual: '45', delta: '7', price: '20', valueAtRisk: '140' }]);
  });

  it('a malformed row is reported with source, file and line; --max-errors lets the run go on and --errors lists them', async () => {
    const dir = await workspace({ 'wms.csv': `${WMS}SER-003,dfw1,lots\r\n`, 'oms.jsonl': `${OMS}{not json\n`, 'web.csv.gz': WEB }, SOURCES);
    const strict = await cli(dir, []);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain('error: 2 bad rows in the inputs (--max-errors 0)');
    expect(strict.stderr).toContain('wms: wms.csv:5: qty_on_hand is not a whole number: "lots"');
    expect(strict.stderr).toMatch(/oms: oms\.jsonl:3: not valid JSON/);
    const lenient = await cli(dir, ['--max-errors', '5', '--errors', 'bad.json']);
    expect(lenient.code).toBe(5);
    expect(JSON.parse(await readFile(path.join(dir, 'bad.json'), 'utf8'))).toHaveLength(2);
  });

  it('a missing column names the columns that are there', async () => {
    const dir = await workspace({ 'wms.csv': 'item,site,qty_on_hand\nA,dfw1,1\n', 'oms.jsonl': OMS, 'web.csv.gz': WEB }, SOURCES);
    const res = await cli(dir, []);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('source wms (wms.csv): missing column "item_code" (sku); the file has: "item", "site", "qty_on_hand"');
  });

  it('duplicate keys: an error by default, added up with --duplicates sum', async () => {
    const dir = await workspace({ 'wms.csv': `${WMS}SER-002,dfw1,5\r\n`, 'oms.jsonl': OMS, 'web.csv.gz': WEB }, SOURCES);
    const strict = await cli(dir, []);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain('wms: wms.csv:5: duplicate sku/location SER-002 @ dfw1 (already listed earlier in this source)');
    const summed = await cli(dir, ['--duplicates', 'sum', '--json']);
    const top = (JSON.parse(summed.stdout) as { top: { sku: string; class: string; expected: number }[] }).top;
    expect(top.find((r) => r.sku === 'SER-002')).toMatchObject({ class: 'undersell', expected: 18 }); // 25 − 5 − 2
  });

  it('reads an s3:// source (streamed GetObject, gzip) and --source overrides a path', async () => {
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'exports' }));
    await s3.send(new PutObjectCommand({ Bucket: 'exports', Key: 'shopify/inventory.csv.gz', Body: WEB }));
    s3.destroy();
    const dir = await workspace({ 'wms.csv': WMS, 'oms.jsonl': OMS }, SOURCES);
    const res = await cli(dir, ['--source', 'web=s3://exports/shopify/inventory.csv.gz', '--json']);
    expect(res.code).toBe(5);
    expect((JSON.parse(res.stdout) as { sources: { name: string; keys: number }[] }).sources).toContainEqual({ name: 'web', role: 'channel', keys: 3 });
  });

  it('the shipped examples contain every class', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-inventory-ex-'));
    await copyFile(path.join(ROOT, 'examples', 'retailctl.yaml'), path.join(dir, 'retailctl.yaml'));
    const res = await runInProcess(['inventory', 'reconcile', '--json', '--config', path.join(ROOT, 'examples', 'retailctl.yaml')], { env: { CI: 'true' } });
    expect(res.code).toBe(5);
    const byClass = (JSON.parse(res.stdout) as { summary: { byClass: Record<string, number> } }).summary.byClass;
    for (const c of ['oversell', 'undersell', 'missing-in-channel', 'unknown-sku', 'negative', 'ok']) expect(byClass[c]).toBeGreaterThan(0);
  });
});
