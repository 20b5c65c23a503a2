/**
 * inventory reconcile's outputs against moto: destinations and extra inputs refused (exit 2 naming
 * the flag) before any source is read, `--out -` on stdout, and the value column only when there
 * is a value.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
afterAll(() => sqs.destroy());

const CONFIG = `inventory:
  sources:
    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: loc, onHand: qty } }
    web: { path: web.csv, role: channel, columns: { sku: sku, location: loc, available: qty } }
  failOn: [oversell]
`;
const WMS = 'sku,loc,qty\nA,dfw1,10\nB,dfw1,5\n';
const WEB = 'sku,loc,qty\nA,dfw1,12\nC,dfw1,3\n';
/** A warehouse export with a bad row: a run that reads it fails with "1 bad row". */
const WMS_BAD = `${WMS}D,dfw1,lots\n`;

/** Case directories, removed when the file is done. */
const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

async function workspace(files: Record<string, string>, config = CONFIG): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-invout-'));
  made.push(dir);
  for (const [name, content] of Object.entries({ 'retailctl.yaml': config, 'wms.csv': WMS, 'web.csv': WEB, ...files })) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

function cli(dir: string, args: string[]) {
  return runInProcess(['inventory', 'reconcile', ...args, '--config', path.join(dir, 'retailctl.yaml'), '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}

const errorLine = (stderr: string) => stderr.split('\n').find((l) => / error: /.test(l) || l.startsWith('error: ')) ?? '';

describe('refused before any source is read (exit 2 naming the flag)', () => {
  it.each([
    ['--out a directory', ['--out', 'reports'], /--out .*reports: is a directory/],
    ['--errors a directory', ['--errors', 'reports'], /--errors .*reports: is a directory/],
    ['--out under /proc (access() says writable to root, nothing can be created)', ['--out', '/proc/nope/x.csv'], /--out \/proc\/nope\/x\.csv: is under \/dev or \/proc/],
    ['--out and --errors on one file', ['--out', 'rows.csv', '--errors', './rows.csv', '--max-errors', '5'], /--out rows\.csv and --errors \.\/rows\.csv are the same file/],
    ['--out on a source export', ['--out', 'wms.csv'], /--out wms\.csv is a file that source wms reads/],
    ['--since a missing file', ['--since', 'last.json'], /--since last\.json: no such file/],
    ['--since a directory', ['--since', 'reports'], /--since reports: is a directory/],
    ['--since a JSON array that is not result rows', ['--since', 'other.json'], /--since other\.json: not a results file \(entry 1 is not a result row/],
    ['--since the --json document instead of the rows', ['--since', 'doc.json'], /--since doc\.json: not a results file \(it is a --json document/],
  ])('%s', async (_name, args, message) => {
    // the warehouse export has a bad row: a run that got as far as reading would fail on that instead
    const dir = await workspace({ 'wms.csv': WMS_BAD, 'reports/.keep': '', 'other.json': '[{"a":1}]', 'doc.json': '{"ok":true,"summary":{}}' });
    const before = await readdir(dir);
    const res = await cli(dir, args);
    expect(res.code, res.stderr).toBe(2);
    expect(errorLine(res.stderr)).toMatch(message);
    expect(res.stderr).not.toContain('bad row');
    expect(await readdir(dir)).toEqual(before);
    expect(await readFile(path.join(dir, 'wms.csv'), 'utf8')).toBe(WMS_BAD);
  });

  it('a missing inventory.safetyStock.file names the config key (not "unexpected error")', async () => {
    const dir = await workspace({ 'wms.csv': WMS_BAD }, `${CONFIG}  safetyStock: { file: safety.csv }\n`);
    const res = await cli(dir, []);
    expect(res.code, res.stderr).toBe(2);
    expect(errorLine(res.stderr)).toMatch(/inventory\.safetyStock\.file safety\.csv: no such file/);
    expect(res.stderr).not.toMatch(/unexpected error|bad row/);
  });

  it('a bad --out sends nothing to the --publish target', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'invout-refused' }));
    const dir = await workspace({ 'reports/.keep': '' });
    await control.clearRequests();
    const res = await cli(dir, ['--out', 'reports', '--publish', `sqs:${QueueUrl}`, '--yes']);
    expect(res.code).toBe(2);
    expect((await control.requests()).filter((r) => r.operation === 'SendMessageBatch')).toEqual([]);
  });
});

describe('--out -', () => {
  it('writes the CSV rows to stdout and the summary to stderr', async () => {
    const dir = await workspace({});
    const res = await cli(dir, ['--out', '-']);
    expect(res.code, res.stderr).toBe(5);
    const rows = parse(res.stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.class, r.sku, r.delta])).toEqual([['oversell', 'A', '2'], ['unknown-sku', 'C', ''], ['missing-in-channel', 'B', '']]);
    expect(res.stdout).not.toContain('most severe');
    expect(res.stderr).toContain('most severe:');
    expect(res.stderr).toContain('failing: oversell (inventory.failOn)');
    // the same rows as a file would hold
    await cli(dir, ['--out', 'drift.csv']);
    expect(await readFile(path.join(dir, 'drift.csv'), 'utf8')).toBe(res.stdout);
  });

  it('with --json is refused: stdout carries the JSON document', async () => {
    const dir = await workspace({});
    const res = await cli(dir, ['--out', '-', '--json']);
    expect(res.code).toBe(2);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: false, error: { message: '--out -: stdout already carries the --json document' } });
  });
});

describe('the summary table', () => {
  it('has no value column when no price is mapped, and one when prices are known', async () => {
    const plain = await cli(await workspace({}), []);
    expect(plain.code).toBe(5);
    const header = plain.stdout.split('\n')[0]!;
    expect(header).toMatch(/^class\s+web\s+units$/);
    for (const line of plain.stdout.split('\n')) expect(line).toBe(line.trimEnd());

    const priced = await cli(await workspace({ 'web.csv': 'sku,loc,qty,price\nA,dfw1,12,2.5\nC,dfw1,3,1\n' }, CONFIG.replace('available: qty }', 'available: qty, price: price }')), []);
    expect(priced.stdout.split('\n')[0]).toMatch(/^class\s+web\s+units\s+value$/);
    expect(priced.stdout).toMatch(/^oversell\s+1\s+2\s+5\.00$/m);
  });
});
