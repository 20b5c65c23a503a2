/**
 * images migrate from an s3:// source through the built binary: killed with SIGKILL in the middle of
 * the copies, then rerun to completion (nothing copied twice, every object byte-identical, the source
 * untouched); and two runs at once on one destination (one copies, the other is refused by the lock).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpeg } from '../support/images.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const N = 80;
const legacy = new Map<string, Buffer>();
for (let i = 0; i < N; i++) legacy.set(`flat/${String(i).padStart(3, '0')}.jpg`, jpeg(3000 + i * 7, i + 1));
let dir: string;

async function keys(bucket: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (!o.Key!.endsWith('.retailctl-lock')) out.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return out.sort();
}

const bytesOf = async (bucket: string, key: string) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
const copies = async () => (await control.requests()).filter((r) => r.operation === 'CopyObject').map((r) => r.path);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-s3-e2e-'));
  await writeFile(path.join(dir, 'catalog.csv'), `image,sku,category\n${[...legacy.keys()].map((k, i) => `${k.slice('flat/'.length)},SKU-${i},Shoes > Running`).join('\n')}\n`);
  for (const b of ['legacy-e2e', 'killed-copy', 'twice-copy']) await s3.send(new CreateBucketCommand({ Bucket: b }));
  for (const [key, body] of legacy) await s3.send(new PutObjectCommand({ Bucket: 'legacy-e2e', Key: key, Body: body }));
});

const migrate = (bucket: string, extra: string[] = []) => ['images', 'migrate', 's3://legacy-e2e/flat/', '--bucket', bucket, '--catalog', 'catalog.csv', '--concurrency', '4', '--yes', ...extra];

describe('images migrate s3://, killed and rerun', () => {
  it('SIGKILL in the middle of the copies, then the same command: every object copied once, byte-identical, the source as it was', async () => {
    await control.clearRequests();
    // every copy takes 40 ms longer: slow enough to kill the run half-way
    await control.fault({ service: 's3', method: 'PUT', path: '/killed-copy/shoes/', times: 0, delayMs: 40, forward: true });
    let killed;
    try {
      killed = await spawnCli(migrate('killed-copy', ['--lock-expiry', '2s']), { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env }, signalWhen: async () => (await copies()).length >= 10, whenSignal: 'SIGKILL' });
    } finally {
      await control.clearFaults();
    }
    expect(killed.code, 'killed by the signal, not exited').toBeNull();
    await new Promise((r) => setTimeout(r, 1000)); // copies already sent land
    const first = await keys('killed-copy');
    expect(first.length).toBeGreaterThanOrEqual(10);
    expect(first.length).toBeLessThan(N);
    const sentBefore = new Set(await copies());

    // the killed run's lock expires (2 s, on S3's clock) before the rerun may take it over
    await new Promise((r) => setTimeout(r, 4000));
    await control.clearRequests();
    const rerun = await spawnCli(migrate('killed-copy', ['--json']), { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } });
    expect(rerun.code, rerun.stderr).toBe(0);
    const doc = JSON.parse(rerun.stdout) as { counts: { uploaded: number; skipped: number; failed: number } };
    expect(doc.counts.failed).toBe(0);
    expect(doc.counts.uploaded + doc.counts.skipped).toBe(N);
    // copies in flight at the kill landed unjournaled: they are settled by ETag, not copied again
    expect(doc.counts.skipped).toBe(first.length);
    // nothing the killed run had finished is copied again
    const again = (await copies()).filter((p) => sentBefore.has(p) && first.includes(decodeURIComponent(p.replace('/killed-copy/', '').split('?')[0]!)));
    expect(again).toEqual([]);
    const all = await keys('killed-copy');
    expect(all).toHaveLength(N);
    const catalogue = [...legacy.keys()];
    for (const key of all) {
      const i = Number(/sku-(\d+)/.exec(key)![1]);
      expect(sha(await bytesOf('killed-copy', key)), key).toBe(sha(legacy.get(catalogue[i]!)!));
    }
    for (const [key, body] of legacy) expect((await bytesOf('legacy-e2e', key)).equals(body)).toBe(true);
  }, 90_000);

  it('two runs at once on one destination: one copies everything, the other is refused by the lock and writes nothing', async () => {
    await control.fault({ service: 's3', method: 'PUT', path: '/twice-copy/shoes/', times: 0, delayMs: 20, forward: true });
    try {
      const [a, b] = await Promise.all([spawnCli(migrate('twice-copy'), { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } }), spawnCli(migrate('twice-copy', ['--state-dir', '.retailctl-b']), { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } })]);
      const codes = [a.code, b.code].sort();
      expect(codes, a.stderr + b.stderr).toEqual([0, 1]);
      expect((a.code === 1 ? a : b).stderr).toMatch(/lock/);
    } finally {
      await control.clearFaults();
    }
    expect(await keys('twice-copy')).toHaveLength(N);
  }, 60_000);
});
