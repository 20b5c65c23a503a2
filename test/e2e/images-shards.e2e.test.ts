/**
 * images migrate --shard K/N through the built binary: a shard killed with SIGKILL in the middle of
 * its uploads is rerun alone and finishes (every image of the plan written once, the merged manifest
 * whole); the same shard started twice at once is refused by its own lock while another shard runs
 * beside it; and a shard whose manifest part cannot be written (a directory in its place) says so,
 * with its uploads kept, and its rerun writes the part without uploading again.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpeg } from '../support/images.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const COUNT = 60;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-shards-e2e-'));
  const rows = ['image,sku,category'];
  for (let i = 0; i < COUNT; i++) {
    const rel = `p${i % 3}/${String(i).padStart(3, '0')}.jpg`;
    await mkdir(path.join(dir, 'media', path.dirname(rel)), { recursive: true });
    await writeFile(path.join(dir, 'media', rel), jpeg(2000 + i, i + 1));
    rows.push(`${rel},SKU-${i},Shoes > Trail`);
  }
  await writeFile(path.join(dir, 'catalog.csv'), `${rows.join('\n')}\n`);
  for (const b of ['shard-killed', 'shard-twice', 'shard-part']) await s3.send(new CreateBucketCommand({ Bucket: b }));
});

const migrate = (bucket: string, shard: string, extra: string[] = []) => ['images', 'migrate', 'media', '--bucket', bucket, '--prefix', 'catalog', '--catalog', 'catalog.csv', '--shard', shard, '--concurrency', '2', '--lock-expiry', '2s', '--state-dir', `.state-${bucket}-${shard.replace('/', '-')}`, '--yes', ...extra];
const run = (args: string[], extra: Parameters<typeof spawnCli>[1] = {}) => spawnCli(args, { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env }, ...extra });
const objects = async (bucket: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'catalog/' }))).Contents ?? []).map((o) => o.Key!).filter((k) => !k.includes('.retailctl-lock'));
const puts = async (bucket: string) => (await control.requests()).filter((r) => r.method === 'PUT' && r.path.startsWith(`/${bucket}/catalog/`) && !r.path.includes('.retailctl-lock'));

describe('images migrate --shard K/N, killed, twice and with a refused manifest part', () => {
  it('SIGKILL in the middle of shard 2: its rerun finishes it, every image is written once, and the parts merge whole', async () => {
    await control.clearRequests();
    for (const k of [1, 3]) expect((await run(migrate('shard-killed', `${k}/3`, ['--manifest', `killed/part-${k}.csv`]))).code).toBe(0);
    const before = (await objects('shard-killed')).length;
    await control.fault({ service: 's3', method: 'PUT', path: '/shard-killed/catalog/', times: 0, delayMs: 60, forward: true });
    let killed;
    try {
      killed = await run(migrate('shard-killed', '2/3', ['--manifest', 'killed/part-2.csv']), { signalWhen: async () => (await objects('shard-killed')).length >= before + 4, whenSignal: 'SIGKILL' });
    } finally {
      await control.clearFaults();
    }
    expect(killed.code).toBeNull();
    expect((await objects('shard-killed')).length).toBeLessThan(COUNT);
    await new Promise((r) => setTimeout(r, 4500)); // the killed shard's lock expires
    const rerun = await run(migrate('shard-killed', '2/3', ['--manifest', 'killed/part-2.csv']));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((await objects('shard-killed')).sort()).toHaveLength(COUNT);
    const written = await puts('shard-killed');
    // a PUT in flight at the kill may have landed and been sent again by nobody: each key once, or twice at most for the one in flight
    expect(new Set(written.map((p) => p.path)).size).toBe(COUNT);
    expect(written.length - COUNT).toBeLessThanOrEqual(2);
    const merged = await run(['images', 'manifest', 'merge', 'killed/part-1.csv', 'killed/part-2.csv', 'killed/part-3.csv', '--out', 'killed/merged.csv']);
    expect(merged.code, merged.stderr).toBe(0);
    expect((await readFile(path.join(dir, 'killed/merged.csv'), 'utf8')).trim().split('\n')).toHaveLength(COUNT + 1);
  });

  it('the same shard twice at once: one runs, the other is refused by the shard\'s lock (exit 1); another shard runs beside them', async () => {
    await control.fault({ service: 's3', method: 'PUT', path: '/shard-twice/catalog/', times: 0, delayMs: 20, forward: true });
    let results;
    try {
      results = await Promise.all([run(migrate('shard-twice', '1/2')), run(migrate('shard-twice', '1/2', ['--state-dir', '.state-other-host'])), run(migrate('shard-twice', '2/2'))]);
    } finally {
      await control.clearFaults();
    }
    const [a, b, other] = results;
    expect([a!.code, b!.code].sort()).toEqual([0, 1]);
    expect([a, b].find((r) => r!.code === 1)!.stderr).toContain('.retailctl-lock.shard-1-of-2');
    expect(other!.code, other!.stderr).toBe(0);
    expect(await objects('shard-twice')).toHaveLength(COUNT);
  });

  it('a manifest part that cannot be written: the shard says so and keeps its uploads; its rerun uploads nothing and writes the part', async () => {
    await control.clearRequests();
    await control.fault({ service: 's3', method: 'PUT', path: '/shard-part/catalog/', times: 0, delayMs: 20, forward: true });
    let first;
    try {
      const started = run(migrate('shard-part', '1/2', ['--manifest', 'part/part-1.csv']));
      // once uploads have begun, a directory takes the part's place
      for (let i = 0; i < 200 && (await puts('shard-part')).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      await rm(path.join(dir, 'part'), { recursive: true, force: true });
      await mkdir(path.join(dir, 'part', 'part-1.csv'), { recursive: true });
      first = await started;
    } finally {
      await control.clearFaults();
    }
    expect(first.code).not.toBe(0);
    expect(first.stderr).toContain('part/part-1.csv');
    const uploaded = (await puts('shard-part')).length;
    expect(uploaded).toBeGreaterThan(0);
    await rm(path.join(dir, 'part'), { recursive: true, force: true });
    await control.clearRequests();
    await new Promise((r) => setTimeout(r, 2500));
    const rerun = await run(migrate('shard-part', '1/2', ['--manifest', 'part/part-1.csv']));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await puts('shard-part')).toEqual([]);
    const rows = (await readFile(path.join(dir, 'part/part-1.csv'), 'utf8')).trim().split('\n');
    expect(rows.length - 1).toBe(uploaded);
    expect(rows.slice(1).every((r) => r.includes(',skipped,'))).toBe(true);
  });
});
