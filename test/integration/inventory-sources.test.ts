/**
 * inventory reconcile on sources that cannot be read, exports that look broken, and stale or shrunk
 * sources: one clear line and the documented exit code, before anything is written or published.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const s3 = new S3Client({ ...common, forcePathStyle: true });
const sqs = new SQSClient(common);
afterAll(() => [s3, sqs].forEach((c) => c.destroy()));

/** The clock of every run here (runInProcess's default), and file times relative to it. */
const NOW = new Date('2026-11-27T09:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

const WMS = 'item_code,site,qty_on_hand\nSER-001,dfw1,50\nSER-002,dfw1,20\nSER-003,dfw1,9\nSER-004,dfw1,4\n';
const WEB = 'SKU,Location,Available\nSER-001,dfw1,50\nSER-002,dfw1,20\nSER-003,dfw1,9\nSER-004,dfw1,4\n';

function sourcesYaml(wms: Record<string, string> = {}, web: Record<string, string> = {}, paths = { wms: 'wms.csv', web: 'web.csv' }): string {
  const extra = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `, ${k}: ${v}`).join('');
  return [
    'inventory:',
    '  sources:',
    `    wms: { path: "${paths.wms}", role: warehouse, columns: { sku: item_code, location: site, onHand: qty_on_hand${wms.asOf ? `, asOf: ${wms.asOf}` : ''} }${extra(Object.fromEntries(Object.entries(wms).filter(([k]) => k !== 'asOf')))} }`,
    `    web: { path: "${paths.web}", role: channel, columns: { sku: SKU, location: Location, available: Available } ${extra(web)} }`,
    '  failOn: [oversell, missing-in-channel, unknown-sku]',
    '',
  ].join('\n');
}

async function workspace(files: Record<string, string | Buffer>, config = sourcesYaml(), times: Record<string, Date> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-invsrc-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  // every export "written" an hour before the run unless said otherwise
  for (const name of Object.keys(files)) {
    const t = times[name] ?? hoursAgo(1);
    await utimes(path.join(dir, name), t, t);
  }
  await writeFile(path.join(dir, 'retailctl.yaml'), config);
  return dir;
}

function cli(dir: string, args: string[] = []) {
  return runInProcess(['inventory', 'reconcile', ...args, '--config', 'retailctl.yaml', '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' }, cwd: dir });
}

const errorLine = (stderr: string) => stderr.split('\n').filter((l) => /error: /.test(l));

async function expectRefused(dir: string, args: string[], code: number, message: string | RegExp) {
  const res = await cli(dir, [...args, '--out', 'drift.csv']);
  expect(res.code, res.stderr).toBe(code);
  const lines = errorLine(res.stderr);
  expect(lines, res.stderr).toHaveLength(1);
  if (typeof message === 'string') expect(lines[0]).toContain(message);
  else expect(lines[0]).toMatch(message);
  expect(res.stderr).not.toMatch(/unexpected error/);
  expect(existsSync(path.join(dir, 'drift.csv'))).toBe(false);
  return res;
}

describe('a source that cannot be read is exit 2 naming source and file', () => {
  it('a missing file', async () => {
    const dir = await workspace({ 'web.csv': WEB });
    await expectRefused(dir, [], 2, 'source wms: cannot read wms.csv: no such file');
  });

  it('a directory', async () => {
    const dir = await workspace({ 'web.csv': WEB, 'wms.csv/part-1.csv': WMS });
    const res = await expectRefused(dir, [], 2, 'source wms: wms.csv is a directory, not a file');
    expect(res.stderr).toContain('hint: point it at the export file, or use a glob such as wms.csv/*.csv');
  });

  it('a glob that matches nothing', async () => {
    const dir = await workspace({ 'web.csv': WEB }, sourcesYaml({}, {}, { wms: 'exports/wms-*.csv', web: 'web.csv' }));
    await expectRefused(dir, [], 2, 'source wms: no file matches exports/wms-*.csv');
  });

  it('a .gz that is not gzip, and one that is cut off', async () => {
    const dir = await workspace({ 'web.csv': WEB, 'wms.csv.gz': WMS, 'cut.csv.gz': gzipSync(WMS).subarray(0, 20) });
    await expectRefused(dir, ['--source', 'wms=wms.csv.gz'], 2, 'source wms: wms.csv.gz is not gzip data (it does not start with the gzip signature 1f 8b), although its name ends in .gz');
    await expectRefused(dir, ['--source', 'wms=cut.csv.gz'], 2, 'source wms: cut.csv.gz is cut off: the gzip data ends early');
  });

  it('a gzip file not named .gz', async () => {
    const dir = await workspace({ 'web.csv': WEB, 'wms.csv': gzipSync(WMS) });
    await expectRefused(dir, [], 2, 'source wms: wms.csv is gzip-compressed, but its name does not end in .gz');
  });

  it.skipIf(process.getuid?.() === 0)('a file this user cannot read', async () => {
    const dir = await workspace({ 'web.csv': WEB, 'wms.csv': WMS });
    const { chmod } = await import('node:fs/promises');
    await chmod(path.join(dir, 'wms.csv'), 0o000);
    await expectRefused(dir, [], 2, 'source wms: cannot read wms.csv: not readable by this user (permission denied)');
  });

  describe('s3://', () => {
    beforeAll(async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'invsrc-exports' }));
      await s3.send(new PutObjectCommand({ Bucket: 'invsrc-exports', Key: 'shopify/2026-11-27/part-1.csv', Body: 'SKU,Location,Available\nSER-001,dfw1,50\nSER-002,dfw1,20\n' }));
      await s3.send(new PutObjectCommand({ Bucket: 'invsrc-exports', Key: 'shopify/2026-11-27/part-2.csv.gz', Body: gzipSync('SKU,Location,Available\nSER-003,dfw1,9\nSER-004,dfw1,4\n') }));
      await s3.send(new PutObjectCommand({ Bucket: 'invsrc-exports', Key: 'shopify/2026-11-27/README.txt', Body: 'not an export' }));
    });

    it('no such key, no such bucket, an empty prefix, a glob matching nothing', async () => {
      const dir = await workspace({ 'wms.csv': WMS });
      await expectRefused(dir, ['--source', 'web=s3://invsrc-exports/shopify/nope.csv'], 2, 'source web: cannot read s3://invsrc-exports/shopify/nope.csv: no such object (S3 NoSuchKey)');
      await expectRefused(dir, ['--source', 'web=s3://invsrc-no-such-bucket/web.csv'], 2, 'source web: cannot read s3://invsrc-no-such-bucket/web.csv: bucket invsrc-no-such-bucket does not exist (S3 NoSuchBucket)');
      await expectRefused(dir, ['--source', 'web=s3://invsrc-exports/shopify/2026-11-28/'], 2, 'source web: no object under s3://invsrc-exports/shopify/2026-11-28/');
      await expectRefused(dir, ['--source', 'web=s3://invsrc-exports/shopify/*/*.tsv'], 2, 'source web: no object matches s3://invsrc-exports/shopify/*/*.tsv');
    });

    it('a glob in an s3:// path reads every matching object (gzip by name), in key order', async () => {
      const dir = await workspace({ 'wms.csv': WMS });
      const res = await cli(dir, ['--source', 'web=s3://invsrc-exports/shopify/*/part-*.csv*', '--json']);
      expect(res.code, res.stderr).toBe(0);
      expect((JSON.parse(res.stdout) as { sources: { name: string; keys: number }[] }).sources).toContainEqual({ name: 'web', role: 'channel', keys: 4 });
    });
  });
});

describe('exports that look broken are exit 2 with the reason', () => {
  it('a 0-byte file; allowEmpty: true takes it as no rows', async () => {
    const dir = await workspace({ 'wms.csv': WMS, 'web.csv': '' });
    await expectRefused(dir, [], 2, 'source web: web.csv is empty (0 bytes): every sku would look missing in the channel');
    await writeFile(path.join(dir, 'retailctl.yaml'), sourcesYaml({}, { allowEmpty: 'true' }));
    const res = await cli(dir, ['--json']);
    expect(res.code).toBe(5);
    expect((JSON.parse(res.stdout) as { summary: { byClass: Record<string, number> } }).summary.byClass['missing-in-channel']).toBe(4);
  });

  it('a header-only warehouse file does not pass the oversell gate', async () => {
    const dir = await workspace({ 'wms.csv': 'item_code,site,qty_on_hand\n', 'web.csv': WEB }, sourcesYaml().replace('failOn: [oversell, missing-in-channel, unknown-sku]', 'failOn: [oversell]'));
    const res = await expectRefused(dir, [], 2, 'source wms: wms.csv has a header but no rows: every channel row would look like an unknown sku');
    expect(res.stderr).toContain('hint: check the export (did it fail?); if an empty export is normal for this source, set allowEmpty: true under inventory.sources.wms');
  });

  it('a JSON Lines or JSON file with no rows', async () => {
    const dir = await workspace({ 'wms.csv': WMS, 'web.jsonl': '\n\n', 'web.json': '[]' });
    await expectRefused(dir, ['--source', 'web=web.jsonl'], 2, 'source web: web.jsonl has no rows, only blank lines');
    await expectRefused(dir, ['--source', 'web=web.json'], 2, 'source web: web.json has no rows: every sku would look missing in the channel');
  });

  it('a duplicated column name', async () => {
    const dir = await workspace({ 'wms.csv': 'item_code,site,qty_on_hand,qty_on_hand\nSER-001,dfw1,50,0\n', 'web.csv': WEB });
    await expectRefused(dir, [], 2, 'source wms (wms.csv): column "qty_on_hand" (onHand) appears 2 times in the header (columns 3, 4)');
  });

  it('a key twice in a JSON Lines object', async () => {
    const dir = await workspace({ 'wms.csv': WMS, 'web.jsonl': '{"SKU":"SER-001","Location":"dfw1","Available":5, "Available" : 0}\n' });
    await expectRefused(dir, ['--source', 'web=web.jsonl'], 2, 'source web (web.jsonl): key "Available" (available) appears 2 times in the object on line 1');
  });

  it('CR-only line endings, in CSV and in JSON Lines', async () => {
    const dir = await workspace({ 'wms.csv': WMS.replace(/\n/g, '\r'), 'web.csv': WEB, 'web.jsonl': '{"SKU":"SER-001","Location":"dfw1","Available":1}\r{"SKU":"SER-002","Location":"dfw1","Available":1}\r' });
    await expectRefused(dir, [], 2, 'source wms: wms.csv has CR-only line endings');
    await writeFile(path.join(dir, 'wms.csv'), WMS.replace(/\n/g, '\r\n')); // CRLF is fine
    await expectRefused(dir, ['--source', 'web=web.jsonl'], 2, 'source web: web.jsonl has CR-only line endings');
  });

  it('a TSV saved as .csv: the message says so and how to set format: tsv', async () => {
    const dir = await workspace({ 'wms.csv': WMS.replace(/,/g, '\t'), 'web.csv': WEB });
    const res = await expectRefused(dir, [], 2, /source wms \(wms\.csv\): missing columns .*; the header looks tab-separated$/);
    expect(res.stderr).toContain('hint: set format: tsv under inventory.sources.wms in the config (or name the file .tsv)');
    await writeFile(path.join(dir, 'retailctl.yaml'), sourcesYaml({ format: 'tsv' }));
    expect((await cli(dir)).code).toBe(0);
  });
});

describe('a stray quote is exit 2 naming file and line, whatever --max-errors says', () => {
  it('a quote problem halfway through a file: the rest of the file is not silently dropped', async () => {
    const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => `SER-${from + i},dfw1,1`).join('\n');
    const wms = `item_code,site,qty_on_hand\n${rows(0, 2000)}\n"X" ,dfw1,4\n${rows(2000, 1000)}\n`;
    const web = `SKU,Location,Available\n${rows(0, 3000)}\n`;
    const dir = await workspace({ 'wms.csv': wms, 'web.csv': web });
    const res = await expectRefused(dir, ['--max-errors', '5'], 2, 'source wms: wms.csv:2002: unexpected character after a closing quote (field 1): the rest of the file cannot be read');
    expect(res.stderr).toMatch(/hint: fix the quoting on that line/);
  });

  it('on the first data row: the quote problem, not "a header but no rows"', async () => {
    const dir = await workspace({ 'wms.csv': 'item_code,site,qty_on_hand\n"X" ,dfw1,4\nSER-001,dfw1,50\n', 'web.csv': WEB });
    const res = await expectRefused(dir, ['--max-errors', '5'], 2, 'source wms: wms.csv:2: unexpected character after a closing quote (field 1): the rest of the file cannot be read');
    expect(res.stderr).not.toMatch(/header but no rows/);
  });
});

describe('one quantity rule and one trim rule for every format', () => {
  it('JSON Lines quantities: "0x1F", "0b11", "1e3", [5], 1e300 and "12.0" are bad rows; "12" and 12 are 12', async () => {
    const lines = ['"0x1F"', '"0b11"', '"1e3"', '[5]', '1e300', '"12.0"', '"12"', '12'].map((q, i) => `{"SKU":"SER-00${i}","Location":"dfw1","Available":${q}}`);
    const dir = await workspace({ 'wms.csv': WMS, 'web.jsonl': `${lines.join('\n')}\n` });
    const res = await cli(dir, ['--source', 'web=web.jsonl', '--errors', 'bad.json', '--max-errors', '100']);
    const bad = JSON.parse(await readFile(path.join(dir, 'bad.json'), 'utf8')) as { line: number; reason: string }[];
    expect(bad.map((b) => [b.line, b.reason])).toEqual([
      [1, 'Available is not a whole number: "0x1F"'],
      [2, 'Available is not a whole number: "0b11"'],
      [3, 'Available is not a whole number: "1e3"'],
      [4, 'Available is not a whole number: [5]'],
      [5, 'Available is not a whole number: 1e+300'],
      [6, 'Available is not a whole number: "12.0"'],
    ]);
    expect(res.code).toBe(5);
  });

  it('the same quantities in CSV are refused the same way', async () => {
    const rows = ['0x1F', '0b11', '1e3', '"[5]"', '1e300', '"12.0"', '"12"', '12'].map((q, i) => `SER-00${i},dfw1,${q}`);
    const dir = await workspace({ 'wms.csv': WMS, 'web.csv': `SKU,Location,Available\n${rows.join('\n')}\n` });
    await cli(dir, ['--errors', 'bad.json', '--max-errors', '100']);
    const bad = JSON.parse(await readFile(path.join(dir, 'bad.json'), 'utf8')) as { line: number }[];
    expect(bad.map((b) => b.line)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('a tab after a sku is trimmed quoted or not, in CSV as in JSON Lines: no false unknown-sku + missing-in-channel pair', async () => {
    const dir = await workspace({
      'wms.csv': 'item_code,site,qty_on_hand\nSER-001\t,dfw1,5\n"SER-002\t",dfw1,5\nSER-003\u00a0,dfw1,5\n',
      'web.csv': 'SKU,Location,Available\n"SER-001\t",dfw1,5\nSER-002\t,dfw1 ,5\nSER-003,dfw1,5\n',
      'web.jsonl': '{"SKU":"SER-001\\t","Location":"dfw1","Available":5}\n{"SKU":"SER-002","Location":"\\tdfw1","Available":" 5 "}\n{"SKU":" SER-003","Location":"dfw1","Available":5}\n',
    });
    for (const args of [[], ['--source', 'web=web.jsonl']]) {
      const res = await cli(dir, ['--json', '--all', ...args]);
      expect(res.code, res.stderr).toBe(0);
      expect((JSON.parse(res.stdout) as { summary: { byClass: Record<string, number> } }).summary.byClass).toMatchObject({ ok: 3, 'unknown-sku': 0, 'missing-in-channel': 0 });
    }
  });
});

describe('stale and shrunk sources are exit 5, before anything is written or published', () => {
  const big = (n: number, sku = 'SER') => `item_code,site,qty_on_hand\n${Array.from({ length: n }, (_, i) => `${sku}-${i},dfw1,1`).join('\n')}\n`;
  const channel = (n: number) => `SKU,Location,Available\n${Array.from({ length: n }, (_, i) => `SER-${i},dfw1,1`).join('\n')}\n`;

  it('a warehouse export with less than half the rows of the previous run: shrunk-source; the refused run leaves the baseline as it was', async () => {
    const dir = await workspace({ 'wms.csv': big(100), 'web.csv': channel(100) }, sourcesYaml().replace('failOn: [oversell, missing-in-channel, unknown-sku]', 'failOn: [oversell]'));
    expect((await cli(dir)).code).toBe(0);
    const state = JSON.parse(await readFile(path.join(dir, '.retailctl/inventory/row-counts.json'), 'utf8')) as unknown;
    expect(state).toEqual({ version: 1, configs: { 'retailctl.yaml': { sources: { wms: { rows: 100, at: '2026-11-27T09:00:00Z' }, web: { rows: 100, at: '2026-11-27T09:00:00Z' } } } } });

    await writeFile(path.join(dir, 'wms.csv'), big(40)); // the nightly export broke off at 40 rows
    const queue = (await sqs.send(new CreateQueueCommand({ QueueName: 'invsrc-drift' }))).QueueUrl!;
    const res = await expectRefused(dir, ['--json', '--yes', '--publish', `sqs:${queue}`, '--errors', 'bad.csv'], 5, 'shrunk-source: source wms has 40 rows, 60% fewer than the 100 of the previous run (2026-11-27T09:00:00Z); its maxShrink is 50%');
    expect((JSON.parse(res.stdout) as { error: { code: string } }).error.code).toBe('shrunk-source');
    expect(existsSync(path.join(dir, 'bad.csv'))).toBe(false);
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(attrs.Attributes?.ApproximateNumberOfMessages).toBe('0');
    // still refused on the next run: the refused run did not become the baseline
    await expectRefused(dir, [], 5, 'shrunk-source: source wms has 40 rows');
    expect(await readFile(path.join(dir, '.retailctl/inventory/row-counts.json'), 'utf8')).toContain('"rows": 100');

    await writeFile(path.join(dir, 'retailctl.yaml'), sourcesYaml({ maxShrink: '70%' }).replace('failOn: [oversell, missing-in-channel, unknown-sku]', 'failOn: [oversell]'));
    expect((await cli(dir)).code).toBe(0);
    expect(await readFile(path.join(dir, '.retailctl/inventory/row-counts.json'), 'utf8')).toContain('"rows": 40');
  });

  it('a --dry-run is checked but does not become the baseline', async () => {
    const dir = await workspace({ 'wms.csv': big(10), 'web.csv': channel(10) });
    expect((await cli(dir)).code).toBe(0);
    await writeFile(path.join(dir, 'wms.csv'), big(6, 'OLD'));
    await writeFile(path.join(dir, 'retailctl.yaml'), sourcesYaml().replace('failOn: [oversell, missing-in-channel, unknown-sku]', 'failOn: []'));
    expect((await cli(dir, ['--dry-run'])).code).toBe(0); // 6 of 10: within 50%
    await writeFile(path.join(dir, 'wms.csv'), big(4, 'OLD'));
    await expectRefused(dir, [], 5, 'shrunk-source: source wms has 4 rows, 60% fewer than the 10 of the previous run');
  });

  it('row counts that cannot be kept (a file named .retailctl): exit 2 before reading, naming the file and what to do', async () => {
    const dir = await workspace({ 'wms.csv': WMS, 'web.csv': WEB, '.retailctl': 'a file where the state directory would go' });
    const res = await expectRefused(dir, [], 2, /error: cannot keep the source row counts in \.retailctl\/inventory\/row-counts\.json: \S*\.retailctl is not a directory/);
    expect(res.stderr).toMatch(/hint: .*run from a directory where \.retailctl\/inventory\/row-counts\.json can be written/);
    expect(res.stderr).not.toMatch(/could not record the row counts/);
    // a dry run writes no counts, but one that cannot read them (ENOTDIR) is not "no counts" either
    await expectRefused(dir, ['--dry-run'], 2, /error: cannot read \.retailctl\/inventory\/row-counts\.json: a file stands where a directory of its path should be/);
  });

  it('older than maxAge by mtime: stale-source, and --json says so', async () => {
    const dir = await workspace({ 'wms.csv': WMS, 'web.csv': WEB }, sourcesYaml({ maxAge: '26h' }), { 'wms.csv': hoursAgo(50) });
    const res = await expectRefused(dir, ['--json'], 5, 'stale-source: source wms (wms.csv) is 2d2h old (modified 2026-11-25T07:00:00Z), older than its maxAge 1d2h');
    const doc = JSON.parse(res.stdout) as { error: { code: string; hint: string }; sourceProblems: { code: string; source: string }[] };
    expect(doc.error.code).toBe('stale-source');
    expect(doc.sourceProblems).toEqual([expect.objectContaining({ code: 'stale-source', source: 'wms' })]);
    await utimes(path.join(dir, 'wms.csv'), hoursAgo(2), hoursAgo(2));
    expect((await cli(dir)).code).toBe(0);
  });

  it('an s3:// source is as old as its LastModified', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'invsrc-aged' }));
    await s3.send(new PutObjectCommand({ Bucket: 'invsrc-aged', Key: 'wms.csv', Body: WMS }));
    const dir = await workspace({ 'web.csv': WEB }, sourcesYaml({ maxAge: '1ms' }, {}, { wms: 's3://invsrc-aged/wms.csv', web: 'web.csv' }));
    // the emulator's clock is real: the run's is moved a day on, so the object is a day old
    const res = await runInProcess(['inventory', 'reconcile', '--config', 'retailctl.yaml', '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir, now: () => new Date(Date.now() + 86_400_000) });
    expect(res.code, res.stderr).toBe(5);
    expect(res.stderr).toMatch(/error: stale-source: source wms \(s3:\/\/invsrc-aged\/wms\.csv\) is 1d\S* old \(modified \S+\), older than its maxAge 1ms/);
  });

  it('an asOf column is the age of the data, whatever the file time says', async () => {
    const rows = (at: string) => `item_code,site,qty_on_hand,exported_at\nSER-001,dfw1,50,${at}\nSER-002,dfw1,20,${at}\nSER-003,dfw1,9,${at}\nSER-004,dfw1,4,${at}\n`;
    const dir = await workspace({ 'wms.csv': rows('2026-11-25T02:00:00Z'), 'web.csv': WEB }, sourcesYaml({ asOf: 'exported_at', maxAge: '26h' }));
    await expectRefused(dir, [], 5, 'stale-source: source wms (wms.csv) is 2d7h old (exported_at 2026-11-25T02:00:00Z), older than its maxAge 1d2h');
    await writeFile(path.join(dir, 'wms.csv'), rows('2026-11-27 02:00:00'));
    await utimes(path.join(dir, 'wms.csv'), hoursAgo(24 * 30), hoursAgo(24 * 30));
    expect((await cli(dir)).code).toBe(0);
    await writeFile(path.join(dir, 'wms.csv'), rows('last tuesday'));
    await expectRefused(dir, [], 2, '4 bad rows in the inputs');
  });

  it('an asOf more than 5 minutes in the future is a bad row: one such row cannot make an old export look fresh', async () => {
    const header = 'item_code,site,qty_on_hand,exported_at\n';
    const dir = await workspace(
      { 'wms.csv': `${header}SER-001,dfw1,50,2020-01-01T02:00:00Z\nSER-002,dfw1,20,2020-01-01T02:00:00Z\nSER-003,dfw1,9,2099-01-01T02:00:00Z\n`, 'web.csv': WEB },
      sourcesYaml({ asOf: 'exported_at', maxAge: '26h' }),
    );
    // the future row is left out of "newest": the 2020 rows decide
    await expectRefused(dir, ['--max-errors', '1'], 5, 'stale-source: source wms (wms.csv) is 2522d7h old (exported_at 2020-01-01T02:00:00Z)');
    // and it is a bad row like any other
    await writeFile(path.join(dir, 'wms.csv'), `${header}SER-001,dfw1,50,2026-11-27T02:00:00Z\nSER-002,dfw1,20,2026-11-27T02:00:00Z\nSER-003,dfw1,9,2099-01-01T02:00:00Z\nSER-004,dfw1,4,2026-11-27T02:00:00Z\n`);
    const res = await expectRefused(dir, [], 2, '1 bad row in the inputs');
    expect(res.stderr).toContain('wms.csv:4: exported_at is in the future: "2099-01-01T02:00:00Z" (more than 5 minutes after this run\'s clock, 2026-11-27T09:00:00.000Z)');
    // a few minutes ahead (clock skew) is taken, and the newest value still decides
    const soon = '2026-11-27T09:04:00Z';
    await writeFile(path.join(dir, 'wms.csv'), `${header}SER-001,dfw1,50,2020-01-01T02:00:00Z\nSER-002,dfw1,20,${soon}\nSER-003,dfw1,9,2026-11-27T02:00:00Z\nSER-004,dfw1,4,2026-11-27T02:00:00Z\n`);
    expect((await cli(dir)).code).toBe(0);
  });
});
