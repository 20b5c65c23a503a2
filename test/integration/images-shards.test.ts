/**
 * images migrate --shard K/N against moto through the shim: N = 3 shards over one tree, run at once,
 * upload every image exactly once (the shim's request log), each under its own lock; collisions and
 * the catalogue audit are the whole plan's in every shard; `images manifest merge` joins the parts
 * into exactly the manifest one run writes, and refuses parts that are not the N shards of one plan.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpeg, png } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const COUNT = 30;
let dir: string;

function run(args: string[]) {
  return runInProcess([...args, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}
const migrate = (bucket: string, extra: string[]) => run(['images', 'migrate', 'media', '--bucket', bucket, '--prefix', 'catalog', '--catalog', 'catalog.csv', '--cdn-domain', 'images.shop.example.com', '--yes', '--json', ...extra]);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-shards-'));
  const rows = ['image,sku,category,variant'];
  for (let i = 0; i < COUNT; i++) {
    const rel = `p${i % 4}/${String(i).padStart(3, '0')}.${i % 2 ? 'png' : 'jpg'}`;
    await mkdir(path.join(dir, 'media', path.dirname(rel)), { recursive: true });
    await writeFile(path.join(dir, 'media', rel), i % 2 ? png(1500 + i, i + 1) : jpeg(1500 + i, i + 1));
    rows.push(`${rel},SKU-${i},Shoes > Trail,${i % 3 ? 'side' : 'front'}`);
  }
  rows.push('p9/missing.jpg,SKU-99,Shoes,front');
  await writeFile(path.join(dir, 'catalog.csv'), `${rows.join('\n')}\n`);
  for (const b of ['sharded', 'single']) await s3.send(new CreateBucketCommand({ Bucket: b }));
});

describe('images migrate --shard K/N', () => {
  it('3 shards at once upload every image exactly once; the merged manifest equals the single run\'s', async () => {
    await control.clearRequests();
    const shards = await Promise.all([1, 2, 3].map((k) => migrate('sharded', ['--shard', `${k}/3`, '--manifest', `out/part-${k}.csv`, '--state-dir', `.state-${k}`])));
    for (const r of shards) expect(r.code, r.stderr).toBe(0);
    const docs = shards.map((r) => JSON.parse(r.stdout) as { counts: { uploaded: number }; audit: { missingImages: number } });
    expect(docs.reduce((n, d) => n + d.counts.uploaded, 0)).toBe(COUNT);
    // the audit is the whole plan's in each shard
    expect(docs.map((d) => d.audit.missingImages)).toEqual([1, 1, 1]);
    // each key written once, by one shard
    const puts = (await control.requests()).filter((r) => r.method === 'PUT' && r.path.startsWith('/sharded/catalog/') && !r.path.includes('.retailctl-lock'));
    expect(puts).toHaveLength(COUNT);
    expect(new Set(puts.map((p) => p.path)).size).toBe(COUNT);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'sharded', Prefix: 'catalog/' }))).Contents!.filter((o) => !o.Key!.includes('.retailctl-lock'))).toHaveLength(COUNT);
    // every shard's lock is its own, and all are released
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'sharded', Prefix: 'catalog/.retailctl-lock' }))).KeyCount ?? 0).toBe(0);

    const merged = await run(['images', 'manifest', 'merge', 'out/part-1.csv', 'out/part-2.csv', 'out/part-3.csv', '--out', 'out/merged.csv']);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toContain(`merged 3 shard parts into out/merged.csv: ${COUNT} rows in the plan's order`);
    const single = await migrate('single', ['--manifest', 'out/single.csv']);
    expect(single.code, single.stderr).toBe(0);
    const text = (f: string) => readFile(path.join(dir, f), 'utf8');
    expect((await text('out/merged.csv')).replaceAll(',sharded\n', ',BUCKET\n')).toBe((await text('out/single.csv')).replaceAll(',single\n', ',BUCKET\n'));
  });

  it('merge refuses (exit 2, nothing written) a missing shard, the same shard twice, and parts of different plans', async () => {
    const missing = await run(['images', 'manifest', 'merge', 'out/part-1.csv', 'out/part-2.csv', '--out', 'out/m1.csv']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('2 parts given for 3 shards');
    const twice = await run(['images', 'manifest', 'merge', 'out/part-1.csv', 'out/part-1.csv', 'out/part-3.csv', '--out', 'out/m2.csv']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('are both shard 1/3');
    const notPart = await run(['images', 'manifest', 'merge', 'out/single.csv', 'out/part-2.csv', 'out/part-3.csv', '--out', 'out/m3.csv']);
    expect(notPart.code).toBe(2);
    expect(notPart.stderr).toContain('missing columns shard, index, total');
    const { access } = await import('node:fs/promises');
    for (const f of ['m1', 'm2', 'm3']) await expect(access(path.join(dir, `out/${f}.csv`))).rejects.toThrow();
  });

  it('a bad --shard is exit 2 before any request; --plan-out with --shard is refused', async () => {
    await control.clearRequests();
    for (const bad of ['0/3', '4/3', '3', 'a/b', '1/0']) {
      const r = await migrate('sharded', ['--shard', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain('expected K/N with 1 ≤ K ≤ N ≤ 1000');
    }
    const dry = await run(['images', 'migrate', 'media', '--bucket', 'sharded', '--prefix', 'catalog', '--catalog', 'catalog.csv', '--shard', '2/3', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^\d+ images \(shard 2\/3 of 30\) → s3:\/\/sharded\/catalog\//m);
    await control.clearRequests();
    const plan = await run(['images', 'migrate', 'media', '--bucket', 'sharded', '--catalog', 'catalog.csv', '--shard', '1/2', '--plan-out', 'p.json']);
    expect(plan.code).toBe(2);
    expect((await control.requests()).filter((r) => r.service === 's3')).toEqual([]);
  });

  it('an unsharded run beside a shard\'s lock (or shards of another N) is warned that they do not exclude each other', async () => {
    const { PutObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new PutObjectCommand({ Bucket: 'sharded', Key: 'catalog/.retailctl-lock.shard-2-of-3', Body: '{}' }));
    try {
      const whole = await migrate('sharded', ['--state-dir', '.state-whole']);
      expect(whole.code, whole.stderr).toBe(0);
      expect(whole.stderr).toContain('s3://sharded/catalog/.retailctl-lock.shard-2-of-3 is the lock of a shard of 3 of images migrate on this prefix');
      const sameN = await migrate('sharded', ['--shard', '1/3', '--state-dir', '.state-1']);
      expect(sameN.stderr).not.toContain('do not exclude each other');
      const otherN = await migrate('sharded', ['--shard', '1/2', '--state-dir', '.state-x']);
      expect(otherN.stderr).toContain('is the lock of a shard of 3 of images migrate on this prefix (this is shard 1/2)');
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: 'sharded', Key: 'catalog/.retailctl-lock.shard-2-of-3' }));
    }
  });

  it('merge keeps JSON values as written (no CSV formula unescaping) and refuses parts of different plans', async () => {
    const row = (k: number, index: number, plan: string, source: string) => ({ source, key: `catalog/${index}.jpg`, url: null, size: 10 + index, sha256: null, contentType: 'image/jpeg', status: 'uploaded', reason: null, bucket: 'b', shard: `${k}/2`, index, total: 2, plan });
    await writeFile(path.join(dir, 'out/j-1.json'), JSON.stringify([row(1, 0, 'p1', "'-odd.jpg")]));
    await writeFile(path.join(dir, 'out/j-2.json'), JSON.stringify([row(2, 1, 'p1', '=eq.jpg')]));
    const merged = await run(['images', 'manifest', 'merge', 'out/j-1.json', 'out/j-2.json', '--out', 'out/j.json']);
    expect(merged.code, merged.stderr).toBe(0);
    const doc = JSON.parse(await readFile(path.join(dir, 'out/j.json'), 'utf8')) as { source: string; size: number; shard?: string }[];
    expect(doc.map((r) => [r.source, r.size, r.shard])).toEqual([["'-odd.jpg", 10, undefined], ['=eq.jpg', 11, undefined]]);
    await writeFile(path.join(dir, 'out/j-2b.json'), JSON.stringify([row(2, 1, 'p2', '=eq.jpg')]));
    const mixed = await run(['images', 'manifest', 'merge', 'out/j-1.json', 'out/j-2b.json', '--out', 'out/jx.json']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('the parts are of different plans');
  });
});
