/**
 * images migrate from an s3:// source against moto through the shim: the objects are copied
 * server-side (CopyObject, metadata replaced) under catalogue keys, typed from a ranged GET of their
 * first 4 KB (the request log shows the Range of every source GET), with the checksum S3 computed
 * stored; the source is left exactly as it was; a rerun copies nothing; a source changed since it
 * was listed is refused by the copy's precondition (x-amz-copy-source-if-match, enforced by the shim:
 * moto ignores it).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SNIFF_BYTES } from '../../src/lib/images/content.js';
import { executePlan, Gate } from '../../src/lib/images/execute.js';
import type { PlanItem } from '../../src/lib/images/plan.js';
import { emulatorContext } from '../support/aws.js';
import { awsErrors } from '../support/emulator.js';
import { jpeg, png, webp } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { LEGACY_CATALOG, LEGACY_IMAGES, LEGACY_KEYS, LEGACY_TYPES } from '../support/legacy-images.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The legacy bucket: flat keys, no useful Content-Type or Cache-Control; a non-image and a hidden folder beside the images. */
const LEGACY: Record<string, Buffer> = { ...LEGACY_IMAGES, 'img/readme.txt': Buffer.from('not an image'), 'img/.hidden/x.jpg': jpeg(100, 5) };
const CATALOG = LEGACY_CATALOG;
const KEYS = LEGACY_KEYS;
const TYPES = LEGACY_TYPES;

let dir: string;

function migrate(source: string, bucket: string, args: string[]) {
  return runInProcess(['images', 'migrate', source, '--bucket', bucket, '--prefix', 'catalog', '--catalog', 'catalog.csv', '--endpoint-url', endpoint, ...args], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}

async function body(bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

/** Every object of a bucket with its bytes' hash, ETag, type and metadata: the state a copy must leave as it was. */
async function snapshot(bucket: string): Promise<unknown[]> {
  const listed = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [];
  return Promise.all(
    listed.map(async (o) => {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: o.Key }));
      return { key: o.Key, etag: o.ETag, sha: sha(await body(bucket, o.Key!)), type: head.ContentType, cache: head.CacheControl ?? null, meta: head.Metadata };
    }),
  );
}

async function seed(bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const [key, bytes] of Object.entries(LEGACY)) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: 'binary/octet-stream', Metadata: { legacy: 'yes' } }));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-s3-'));
  await writeFile(path.join(dir, 'catalog.csv'), CATALOG);
  await seed('legacy-images');
  await s3.send(new CreateBucketCommand({ Bucket: 'shop-images' }));
});

describe('images migrate s3://bucket/prefix', () => {
  it('copies server-side under catalogue keys: metadata replaced, bytes identical, checksum stored, only ranged GETs of the source, the source untouched', async () => {
    const before = await snapshot('legacy-images');
    await control.clearRequests();
    const res = await migrate('s3://legacy-images/img/', 'shop-images', ['--manifest', 'out/manifest.csv', '--yes', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout) as { counts: Record<string, number>; audit: { ignoredFiles: number } };
    expect(doc.counts).toMatchObject({ uploaded: 4, failed: 0 });
    expect(doc.audit.ignoredFiles).toBe(1); // readme.txt; the hidden directory is not listed as an image

    for (const [source, key] of Object.entries(KEYS)) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'shop-images', Key: key, ChecksumMode: 'ENABLED' }));
      expect(head.ContentType, key).toBe(TYPES[source]);
      expect(head.CacheControl, key).toBe('public, max-age=86400');
      expect(head.ServerSideEncryption).toBe('AES256');
      expect(head.Metadata?.legacy, 'the metadata is replaced, not copied').toBeUndefined();
      expect(Buffer.from(head.ChecksumSHA256!, 'base64').toString('hex')).toBe(sha(LEGACY[source]!));
      expect((await body('shop-images', key)).equals(LEGACY[source]!)).toBe(true);
    }
    const requests = (await control.requests()).filter((r) => r.service === 's3');
    const copies = requests.filter((r) => r.operation === 'CopyObject');
    expect(copies.map((c) => decodeURIComponent(c.copySource!)).sort()).toEqual(Object.keys(KEYS).map((k) => `/legacy-images/${k}`).sort());
    // the source is read only by ranged GETs of its first 4 KB (what the type detector reads), never whole, and never written
    const sourceGets = requests.filter((r) => r.method === 'GET' && r.path.startsWith('/legacy-images/img/'));
    expect(sourceGets).toHaveLength(4);
    expect(sourceGets.every((r) => r.range === `bytes=0-${SNIFF_BYTES - 1}`)).toBe(true);
    expect(requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && r.path.startsWith('/legacy-images'))).toEqual([]);
    expect(await snapshot('legacy-images')).toEqual(before);

    const manifest = (await readFile(path.join(dir, 'out/manifest.csv'), 'utf8')).trim().split('\n');
    expect(manifest).toContain(`1001-front.jpg,${KEYS['img/1001-front.jpg']},,9000,${sha(LEGACY['img/1001-front.jpg']!)},image/jpeg,uploaded,,shop-images`);
    // images verify proves the copies by S3's own SHA-256 (a copy has no x-amz-meta-sha256 unless the source had one)
    const verified = await runInProcess(['images', 'verify', '--manifest', 'out/manifest.csv', '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain('all 4 objects match the manifest');
  });

  it('a rerun copies nothing (the journal and the source ETags), and a changed source object is copied again', async () => {
    await control.clearRequests();
    const rerun = await migrate('s3://legacy-images/img/', 'shop-images', ['--yes', '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((JSON.parse(rerun.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: 0, skipped: 4 });
    expect((await control.requests()).filter((r) => r.operation === 'CopyObject')).toEqual([]);

    const changed = jpeg(9000, 42); // same size, new bytes
    await s3.send(new PutObjectCommand({ Bucket: 'legacy-images', Key: 'img/1001-front.jpg', Body: changed }));
    const again = await migrate('s3://legacy-images/img/', 'shop-images', ['--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: 1, skipped: 3 });
    expect((await body('shop-images', KEYS['img/1001-front.jpg']!)).equals(changed)).toBe(true);
    await s3.send(new PutObjectCommand({ Bucket: 'legacy-images', Key: 'img/1001-front.jpg', Body: LEGACY['img/1001-front.jpg']!, ContentType: 'binary/octet-stream', Metadata: { legacy: 'yes' } }));
  });

  it('--dry-run lists what would be copied and writes nothing', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'shop-images-dry' }));
    await control.clearRequests();
    const res = await migrate('s3://legacy-images/img/', 'shop-images-dry', ['--dry-run', '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(KEYS['img/2002.webp']);
    expect((await control.requests()).filter((r) => r.service === 's3' && r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'shop-images-dry' }))).KeyCount ?? 0).toBe(0);
  });

  it('re-keys in place in the same bucket: the copies land under the destination prefix, which the source listing then leaves out', async () => {
    await seed('same-bucket');
    // the catalogue names images relative to the source prefix: here that is the bucket's root, so img/… paths
    await writeFile(path.join(dir, 'catalog-root.csv'), CATALOG.replace(/^(\d)/gm, 'img/$1'));
    const ok = await runInProcess(['images', 'migrate', 's3://same-bucket/', '--bucket', 'same-bucket', '--prefix', 'catalog', '--catalog', 'catalog-root.csv', '--endpoint-url', endpoint, '--yes', '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    for (const [source, key] of Object.entries(KEYS)) expect((await body('same-bucket', key)).equals(LEGACY[source]!), key).toBe(true);
    // the originals are still there
    for (const [source, bytes] of Object.entries(LEGACY)) expect((await body('same-bucket', source)).equals(bytes)).toBe(true);
    const rerun = await runInProcess(['images', 'migrate', 's3://same-bucket/', '--bucket', 'same-bucket', '--prefix', 'catalog', '--catalog', 'catalog-root.csv', '--endpoint-url', endpoint, '--yes', '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(rerun.code, rerun.stderr).toBe(0);
    const doc = JSON.parse(rerun.stdout) as { counts: Record<string, number>; audit: { unreferencedImages: number } };
    expect(doc.counts).toMatchObject({ uploaded: 0, skipped: 4 });
    expect(doc.audit.unreferencedImages).toBe(0);
  });

  it('a source object changed after it was listed is not copied: the copy is conditional on the listed ETag (the item fails, saying so; nothing is written) [shim: x-amz-copy-source-if-match]', async () => {
    const aws = emulatorContext(endpoint);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'legacy-images', Key: 'img/2002.webp' }));
    const item = (etag: string): PlanItem => ({ image: { path: '2002.webp', size: LEGACY['img/2002.webp']!.length, s3: { bucket: 'legacy-images', key: 'img/2002.webp', etag } }, key: 'stale/2002.webp', cacheControl: 'public, max-age=60', action: 'upload' });
    const putter = await aws.write().leanS3('shop-images', { maxSockets: 2 });
    const sourceReader = await aws.read.leanS3('legacy-images', { maxSockets: 2 });
    try {
      const run = (etag: string) => executePlan([item(etag)], { putter, sourceReader, s3: () => aws.write().client('s3'), bucket: 'shop-images', sse: 'AES256', concurrency: 1, gate: new Gate(1) });
      const [stale] = [...(await run('0123456789abcdef0123456789abcdef'))];
      expect(stale).toMatchObject({ status: 'failed', reason: expect.stringContaining('s3://legacy-images/img/2002.webp changed since it was listed') });
      await expect(s3.send(new HeadObjectCommand({ Bucket: 'shop-images', Key: 'stale/2002.webp' }))).rejects.toThrow();
      // the copy itself carries the condition too: a source changed between the ranged GET and the copy
      const copied = await putter.copy({ key: 'stale/2002.webp', source: { bucket: 'legacy-images', key: 'img/2002.webp', etag: 'ffffffffffffffffffffffffffffffff' }, contentType: 'image/webp', cacheControl: 'public', sse: 'AES256' }).catch((e: unknown) => e as { status: number });
      expect((copied as { status: number }).status).toBe(412);
      const [fresh] = [...(await run(head.ETag!.replace(/"/g, '')))];
      expect(fresh).toMatchObject({ status: 'uploaded', contentType: 'image/webp', sha256: sha(LEGACY['img/2002.webp']!) });
    } finally {
      putter.close();
      sourceReader.close();
      await aws.destroy();
    }
  });

  it('above one CopyObject\'s limit: UploadPartCopy in ranges, the bytes identical, the metadata replaced, no upload left open; a refused part aborts the upload [limits lowered: moto cannot hold 5 GiB]', async () => {
    const big = Buffer.concat([jpeg(64, 9), Buffer.alloc(11 * 1024 * 1024 - 64, 7)]);
    await s3.send(new PutObjectCommand({ Bucket: 'legacy-images', Key: 'big/hero.jpg', Body: big, ContentType: 'binary/octet-stream', Metadata: { legacy: 'yes' } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'legacy-images', Key: 'big/hero.jpg' }));
    const aws = emulatorContext(endpoint);
    const putter = await aws.write().leanS3('shop-images', { maxSockets: 2 });
    const sourceReader = await aws.read.leanS3('legacy-images', { maxSockets: 2 });
    const item = (etag: string, key: string): PlanItem => ({ image: { path: 'hero.jpg', size: big.length, s3: { bucket: 'legacy-images', key: 'big/hero.jpg', etag } }, key, cacheControl: 'public, max-age=60', action: 'upload' });
    const run = (i: PlanItem) => executePlan([i], { putter, sourceReader, s3: () => aws.write().client('s3'), bucket: 'shop-images', sse: 'AES256', concurrency: 1, gate: new Gate(1), copyLimits: { single: 8 * 1024 * 1024, part: 5 * 1024 * 1024 } });
    try {
      await control.clearRequests();
      const [done] = [...(await run(item(head.ETag!.replace(/"/g, ''), 'big/hero.jpg')))];
      expect(done, done?.reason).toMatchObject({ status: 'uploaded', contentType: 'image/jpeg' });
      expect((await control.requests()).filter((r) => r.copySource && r.path.includes('partNumber='))).toHaveLength(3);
      const copied = await s3.send(new HeadObjectCommand({ Bucket: 'shop-images', Key: 'big/hero.jpg' }));
      expect(copied).toMatchObject({ ContentType: 'image/jpeg', CacheControl: 'public, max-age=60', ServerSideEncryption: 'AES256' });
      expect(copied.Metadata?.legacy).toBeUndefined();
      expect(sha(await body('shop-images', 'big/hero.jpg'))).toBe(sha(big));

      // the second part copy refused: the item fails and its upload is aborted (no parts left behind)
      await control.fault({ service: 's3', method: 'PUT', path: 'partNumber=2', times: 0, ...awsErrors.restXml('AccessDenied', 'Access Denied', 403) });
      let failed;
      try {
        [failed] = [...(await run(item(head.ETag!.replace(/"/g, ''), 'big/stale.jpg')))];
      } finally {
        await control.clearFaults();
      }
      expect(failed).toMatchObject({ status: 'failed', reason: expect.stringContaining('S3 UploadPartCopy was denied (AccessDenied') });
      const { ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
      expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'shop-images' }))).Uploads ?? []).toEqual([]);
      await expect(s3.send(new HeadObjectCommand({ Bucket: 'shop-images', Key: 'big/stale.jpg' }))).rejects.toThrow();
    } finally {
      putter.close();
      sourceReader.close();
      await aws.destroy();
    }
  });

  it('lists a tree of folders in parallel, one listing per folder after one by delimiter; the copies\' own folder is never listed again', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'tree' }));
    const tree: Record<string, Buffer> = { 'top.jpg': jpeg(2000, 1), 'a/1.jpg': jpeg(2100, 2), 'b/2.png': png(2200, 3), 'c/d/3.webp': webp(2300, 4) };
    for (const [key, bytes] of Object.entries(tree)) await s3.send(new PutObjectCommand({ Bucket: 'tree', Key: key, Body: bytes }));
    const args = ['images', 'migrate', 's3://tree/', '--bucket', 'tree', '--prefix', 'catalog', '--endpoint-url', endpoint, '--yes', '--json'];
    await control.clearRequests();
    const first = await runInProcess([...args, '--state-dir', '.tree-1'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as { counts: { uploaded: number } }).counts.uploaded).toBe(4);
    const listings = (await control.requests()).filter((r) => r.method === 'GET' && r.path.startsWith('/tree') && r.path.includes('list-type=2')).map((r) => decodeURIComponent(r.path));
    // the destination's own listing (prefix catalog/), the delimiter listing of the root, then a, b and c whole
    expect(listings.filter((p) => p.includes('delimiter=/'))).toHaveLength(1);
    expect(listings.filter((p) => !p.includes('delimiter') && /prefix=(a|b|c)\//.test(p))).toHaveLength(3);
    for (const [key, bytes] of Object.entries(tree)) expect((await body('tree', `catalog/${key}`)).equals(bytes), key).toBe(true);
    await control.clearRequests();
    const rerun = await runInProcess([...args, '--state-dir', '.tree-2'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((JSON.parse(rerun.stdout) as { counts: { skipped: number } }).counts.skipped).toBe(4);
    const sourceListings = (await control.requests()).filter((r) => r.method === 'GET' && r.path.includes('list-type=2') && r.path.includes('delimiter') === false).map((r) => decodeURIComponent(r.path));
    // catalog/ is listed once, as the destination; never as a source folder
    expect(sourceListings.filter((p) => p.includes('prefix=catalog/'))).toHaveLength(1);
  });
});
