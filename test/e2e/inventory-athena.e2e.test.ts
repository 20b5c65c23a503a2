/**
 * `inventory reconcile --engine athena` end to end on the built binary, against the emulator: moto
 * for S3 and Glue, and the shim for what moto's Athena does not do (running the query: the shim runs
 * it on DuckDB over the objects the Glue tables' manifests list, and writes the result CSV to the
 * output location; see test/support/athena-shim.ts). Checked here: what --dry-run prints and that it
 * writes and runs nothing; the tables and manifests made; the same summary and rows as the local
 * engine on the same s3:// exports; a rerun that changes no table; Ctrl-C stopping the query; a
 * FAILED query; bad rows over --max-errors; and the config mistakes refused before anything runs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateDatabaseCommand, GetTableCommand, GlueClient } from '@aws-sdk/client-glue';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awsErrors } from '../support/emulator.js';
import { BIN, spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const emulator = useEmulator();
const aws = { endpoint: emulator.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const s3 = new S3Client({ ...aws, forcePathStyle: true });
const glue = new GlueClient(aws);
const dir = mkdtempSync(path.join(os.tmpdir(), 'retailctl-athena-'));
let exportBytes = 0;

const WMS_1 = 'sku,location,onHand,price\nA,dc1,50,10.00\nB,dc1,20,\nC,dc1,30,4.50\n"D, boxed",dc2,-3,\n';
const WMS_2 = 'sku,location,onHand,price\nE,dc1,2,\nF,DC-2,12,1.25\n';
const OMS = 'sku,location,reserved\nA,dc1,10\nB,dc1,5\n';
const WEB = 'location,sku,available\ndc1,A,45\ndc1,B,5\ndc1,GHOST,4\ndc2,"D, boxed",0\ndc1,E,0\ndc2,F,nine\n';
const MARKET = '{"s":"A","l":"dc1","a":38}\n{"s":"C","l":"dc1","a":"31"}\n{"s":"F","l":"dc2","a":1}\n';

function config(overrides: { engine?: string; athena?: string; sources?: string; failOn?: string } = {}): string {
  return `inventory:
  engine: ${overrides.engine ?? 'athena'}
${overrides.athena ?? '  athena: { workgroup: primary, database: inventory, outputLocation: s3://athena-results/retailctl/ }'}
  locationMap: { DC-2: dc2 }
  sources:
${
  overrides.sources ??
  `    wms: { path: s3://exports/wms/, role: warehouse, columns: { sku: sku, location: location, onHand: onHand, price: price } }
    oms: { path: s3://exports/oms.csv, role: orders, columns: { sku: sku, location: location, reserved: reserved } }
    web: { path: "s3://exports/web/*.csv.gz", role: channel, columns: { sku: sku, location: location, available: available } }
    market: { path: s3://exports/market.jsonl, role: channel, columns: { sku: s, location: l, available: a } }`
}
  safetyStock: 2
  failOn: ${overrides.failOn ?? '[oversell]'}
`;
}

function run(args: string[], env: Record<string, string> = {}) {
  return spawnCli(['inventory', 'reconcile', '--config', 'retailctl.yaml', ...args], { cwd: dir, env: { ...emulator.env, HOME: dir, ...env } });
}

async function put(key: string, body: string | Buffer) {
  await s3.send(new PutObjectCommand({ Bucket: 'exports', Key: key, Body: body }));
  exportBytes += Buffer.byteLength(body);
}

beforeAll(async () => {
  for (const b of ['exports', 'athena-results']) await s3.send(new CreateBucketCommand({ Bucket: b }));
  await put('wms/part-1.csv', WMS_1);
  await put('wms/part-2.csv.gz', gzipSync(WMS_2));
  await put('oms.csv', OMS);
  await put('web/2026-12-01.csv.gz', gzipSync(WEB));
  await put('market.jsonl', MARKET);
  await s3.send(new PutObjectCommand({ Bucket: 'exports', Key: 'empty/web.csv', Body: 'sku,location,available\n' }));
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'inventory' } }));
  writeFileSync(path.join(dir, 'retailctl.yaml'), config());
});

beforeEach(async () => {
  await emulator.control.configure({ athena: { queuedMs: 50, runningMs: 100, fail: null } });
  await emulator.control.clearRequests();
});

afterAll(() => {
  s3.destroy();
  glue.destroy();
});

/** Requests that write (anything but reads), from the shim's log. */
async function writes(): Promise<string[]> {
  return (await emulator.control.requests())
    .filter((r) => !(r.method === 'GET' || r.method === 'HEAD' || /^(Get|List|Describe|Head)/.test(r.operation ?? '')))
    .map((r) => `${r.service} ${r.operation ?? `${r.method} ${r.path}`}`);
}

describe('inventory reconcile --engine athena', () => {
  it('--dry-run prints the tables, the query and what it would scan; it writes nothing and runs no query', async () => {
    const res = await run(['--dry-run']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('--engine athena, --dry-run: nothing written, no query run');
    expect(res.stdout).toContain(`would scan ${exportBytes} B in 5 objects (wms 2, oms 1, web 1, market 1)`);
    expect(res.stdout).toContain('CREATE EXTERNAL TABLE `inventory`.`retailctl_wms`');
    expect(res.stdout).toContain("ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'");
    expect(res.stdout).toMatch(/WITH raw AS \(/);
    expect(await writes()).toEqual([]);
    const json = await run(['--dry-run', '--json']);
    const doc = JSON.parse(json.stdout) as { engine: string; scanBytes: number; tables: { source: string; table: string; objects: number }[]; query: string };
    expect(doc).toMatchObject({ engine: 'athena', scanBytes: exportBytes });
    expect(doc.tables.map((t) => [t.source, t.table, t.objects])).toEqual([['wms', 'retailctl_wms', 2], ['oms', 'retailctl_oms', 1], ['web', 'retailctl_web', 1], ['market', 'retailctl_market', 1]]);
  });

  it('runs the query on Athena and reports what the local engine reports on the same exports', async () => {
    const res = await run(['--out', 'athena.csv', '--json', '-v', '--max-errors', '1']);
    expect(res.code, res.stderr).toBe(5); // an oversell: failOn
    const doc = JSON.parse(res.stdout) as { engine: string; summary: unknown; athena: { queryId: string; state: string; dataScannedBytes: number; cost: number; resultLocation: string }; badRows: number; sources: { name: string; rows: number }[] };
    expect(doc.engine).toBe('athena');
    expect(doc.athena).toMatchObject({ state: 'SUCCEEDED', dataScannedBytes: exportBytes });
    expect(doc.athena.resultLocation).toBe(`s3://athena-results/retailctl/${doc.athena.queryId}.csv`);
    expect(res.stderr).toMatch(/athena: query [0-9a-f-]{36} started in workgroup primary/);
    expect(res.stderr).toMatch(/athena: query [0-9a-f-]{36} succeeded in .* scanned .*, about \$0\.0000/);
    // the tables and their manifests: exactly the objects listed
    const wms = (await glue.send(new GetTableCommand({ DatabaseName: 'inventory', Name: 'retailctl_wms' }))).Table!;
    expect(wms.StorageDescriptor?.Location).toBe('s3://athena-results/retailctl/tables/retailctl_wms/');
    expect(wms.StorageDescriptor?.SerdeInfo?.SerializationLibrary).toBe('org.apache.hadoop.hive.serde2.OpenCSVSerde');
    const manifest = await (await s3.send(new GetObjectCommand({ Bucket: 'athena-results', Key: 'retailctl/tables/retailctl_wms/manifest' }))).Body!.transformToString();
    expect(manifest).toBe('s3://exports/wms/part-1.csv\ns3://exports/wms/part-2.csv.gz\n');

    // the local engine on the same s3:// exports
    writeFileSync(path.join(dir, 'local.yaml'), config({ engine: 'local' }));
    const local = await spawnCli(['inventory', 'reconcile', '--config', 'local.yaml', '--out', 'local.csv', '--json', '--max-errors', '1'], { cwd: dir, env: { ...emulator.env, HOME: dir } });
    expect(local.code, local.stderr).toBe(5);
    const localDoc = JSON.parse(local.stdout) as { summary: unknown; badRows: number };
    expect(doc.summary).toEqual(localDoc.summary);
    const lines = (f: string) => readFileSync(path.join(dir, f), 'utf8').trimEnd().split('\n');
    const [athenaCsv, localCsv] = [lines('athena.csv'), lines('local.csv')];
    expect(athenaCsv[0]).toBe(localCsv[0]);
    expect([...athenaCsv].sort()).toEqual([...localCsv].sort());
    // class by class, as locally
    const classes = (rows: string[]) => rows.slice(1).map((l) => l.split(',')[0]);
    expect(classes(athenaCsv)).toEqual(classes(localCsv));
    expect(doc.badRows).toBe(1);
    expect(doc.sources.map((s) => [s.name, s.rows])).toEqual([['wms', 6], ['oms', 2], ['web', 6], ['market', 3]]);
  }, 30_000);

  it('a rerun changes no table and runs one query; --since and the top rows work from its rows', async () => {
    const first = await run(['--out', 'first.json', '--max-errors', '1']);
    expect(first.code, first.stderr).toBe(5);
    await emulator.control.clearRequests();
    const again = await run(['--since', 'first.json', '--max-errors', '1', '--json']);
    expect(again.code, again.stderr).toBe(5);
    const w = await writes();
    expect(w.filter((x) => /CreateTable|UpdateTable/.test(x))).toEqual([]);
    expect(w.filter((x) => /StartQueryExecution/.test(x))).toHaveLength(1);
    const doc = JSON.parse(again.stdout) as { changes: Record<string, number>; top: { class: string; sku: string }[] };
    expect(doc.changes).toMatchObject({ new: 0, resolved: 0 });
    expect(doc.top[0]).toMatchObject({ class: 'oversell', sku: 'A' });
  }, 30_000);

  it('two runs at once: both finish with the same summary, one query each, the tables left as one run defines them', async () => {
    const [a, b] = await Promise.all([run(['--max-errors', '1', '--json']), run(['--max-errors', '1', '--json'])]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([5, 5]);
    const [da, db] = [JSON.parse(a.stdout), JSON.parse(b.stdout)] as { summary: unknown; athena: { queryId: string } }[];
    expect(da!.summary).toEqual(db!.summary);
    expect(da!.athena.queryId).not.toBe(db!.athena.queryId);
    const manifest = await (await s3.send(new GetObjectCommand({ Bucket: 'athena-results', Key: 'retailctl/tables/retailctl_wms/manifest' }))).Body!.transformToString();
    expect(manifest).toBe('s3://exports/wms/part-1.csv\ns3://exports/wms/part-2.csv.gz\n');
  }, 30_000);

  it('a manifest write refused (access denied): exit 1 naming it, no query started', async () => {
    await emulator.control.fault({ service: 's3', method: 'PUT', path: '^/athena-results/retailctl/tables/', times: 0, ...awsErrors.restXml('AccessDenied', 'Access Denied', 403) });
    try {
      const res = await run(['--max-errors', '1']);
      expect(res.code, res.stderr).toBe(1);
      expect(res.stderr).toMatch(/error: .*PutObject/);
      expect((await emulator.control.requests()).filter((r) => r.operation === 'StartQueryExecution')).toEqual([]);
    } finally {
      await emulator.control.clearFaults();
    }
  }, 30_000);

  it('Ctrl-C while the query runs stops it (StopQueryExecution) and exits 130', async () => {
    await emulator.control.configure({ athena: { queuedMs: 50, runningMs: 20_000 } });
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'inventory', 'reconcile', '--config', 'retailctl.yaml', '--max-errors', '1'], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...emulator.env, HOME: dir, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (/query \S+ started/.test(stderr) && !child.killed) setTimeout(() => child.kill('SIGINT'), 300);
      });
      child.stdout.resume();
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(res.code, res.stderr).toBe(130);
    expect(res.stderr).toMatch(/athena: query \S+ stopped \(StopQueryExecution\)/);
    const state = (await (await fetch(`${emulator.endpoint}/__shim/athena`)).json()) as { queries: { id: string; state: string; stopped: boolean }[] };
    expect(state.queries.at(-1)).toMatchObject({ state: 'CANCELLED', stopped: true });
  }, 30_000);

  it('a FAILED query is exit 1 with Athena’s reason', async () => {
    await emulator.control.configure({ athena: { queuedMs: 50, runningMs: 100, fail: 'HIVE_BAD_DATA: Error parsing field value for field 2' } });
    const res = await run(['--max-errors', '1']);
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toMatch(/error: athena: query \S+ failed: HIVE_BAD_DATA: Error parsing field value for field 2/);
  }, 30_000);

  it('bad rows over --max-errors: exit 2, counted per source (no line numbers on Athena)', async () => {
    const res = await run(['--errors', 'bad.csv']);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain('error: 1 bad row in the inputs (--max-errors 0)');
    expect(res.stderr).toContain('web: s3://exports/web/2026-12-01.csv.gz: 1 row with an empty sku or location or a quantity that is not a whole number (Athena gives no line numbers)');
    expect(readFileSync(path.join(dir, 'bad.csv'), 'utf8')).toContain('web,s3://exports/web/2026-12-01.csv.gz,0,1 row with an empty sku');
  }, 30_000);

  it.each([
    ['a local source', { sources: '    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: location, onHand: onHand } }\n    web: { path: "s3://exports/web/*.csv.gz", role: channel, columns: { sku: sku, location: location, available: available } }' }, 'source wms: wms.csv is not in S3: --engine athena reads exports where they are, in S3'],
    ['no inventory.athena', { athena: '' }, '--engine athena needs inventory.athena in the config'],
    ['a database that does not exist', { athena: '  athena: { database: nope, outputLocation: s3://athena-results/retailctl/ }' }, 'inventory.athena.database nope: no such Glue database'],
    ['a workgroup that does not exist', { athena: '  athena: { workgroup: nope, database: inventory, outputLocation: s3://athena-results/retailctl/ }' }, 'inventory.athena.workgroup nope: no such Athena workgroup'],
    ['a channel export with a header and no rows', { sources: '    wms: { path: s3://exports/wms/, role: warehouse, columns: { sku: sku, location: location, onHand: onHand } }\n    web: { path: s3://exports/empty/web.csv, role: channel, columns: { sku: sku, location: location, available: available } }' }, 'has a header but no rows: every sku would look missing in the channel'],
    ['an output location that is not a prefix', { athena: '  athena: { database: inventory, outputLocation: s3://athena-results/retailctl }' }, 'outputLocation'],
  ])('%s: exit 2 before anything is written or run', async (_, overrides, message) => {
    writeFileSync(path.join(dir, 'bad.yaml'), config(overrides));
    const res = await spawnCli(['inventory', 'reconcile', '--config', 'bad.yaml'], { cwd: dir, env: { ...emulator.env, HOME: dir } });
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain(message);
    expect(await writes()).toEqual([]);
  });

  it('--publish sends one event per drift row found on Athena', async () => {
    const sqs = new SQSClient(aws);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'athena-drift' }));
    const res = await run(['--publish', `sqs:${QueueUrl}`, '--yes', '--max-errors', '1', '--json']);
    expect(res.code, res.stderr).toBe(5);
    const doc = JSON.parse(res.stdout) as { rows: number; published: { sent: number } };
    expect(doc.published.sent).toBe(doc.rows);
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(Number(attrs.Attributes?.ApproximateNumberOfMessages)).toBe(doc.rows);
    sqs.destroy();
    // nothing of the run outside the output location and the database
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'athena-results' }));
    expect((listed.Contents ?? []).every((o) => o.Key!.startsWith('retailctl/'))).toBe(true);
  }, 30_000);
});
