/**
 * images migrate from an s3:// source, the hard cases, against moto through the shim: a destination
 * that would land among the sources (refused, the source untouched), a rerun without the journal of
 * a copy of a multipart source (not copied again), headers the metadata REPLACE must keep
 * (Content-Encoding), `images verify` of a manifest with a row that has no SHA-256, source keys that
 * differ only in their Unicode form, and keys with an empty segment.
 */
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executePlan, Gate } from '../../src/lib/images/execute.js';
import type { PlanItem } from '../../src/lib/images/plan.js';
import { manifestRows, writeManifest } from '../../src/lib/images/report.js';
import { emulatorContext } from '../support/aws.js';
import { jpeg } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let dir: string;
const run = (args: string[]) => runInProcess([...args, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
const migrate = (source: string, bucket: string, extra: string[]) => run(['images', 'migrate', source, '--bucket', bucket, '--yes', '--json', ...extra]);
const bytesOf = async (bucket: string, key: string) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray();
/** 11 MiB, uploaded in two parts: its ETag is not an MD5. */
const big = Buffer.concat([jpeg(64, 9), Buffer.alloc(11 * 1024 * 1024 - 64, 7)]);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-s3-edges-'));
  for (const b of ['edge-one', 'edge-src', 'edge-dst', 'edge-names']) await s3.send(new CreateBucketCommand({ Bucket: b }));
  await s3.send(new PutObjectCommand({ Bucket: 'edge-one', Key: 'img/raw/x.jpg', Body: jpeg(3000, 1) }));
  await s3.send(new PutObjectCommand({ Bucket: 'edge-one', Key: 'img/raw/raw/x.jpg', Body: jpeg(4000, 2) }));
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'edge-src', Key: 'img/hero.jpg' }));
  const parts = [];
  for (const [i, body] of [big.subarray(0, 6 * 1024 * 1024), big.subarray(6 * 1024 * 1024)].entries()) parts.push({ PartNumber: i + 1, ETag: (await s3.send(new UploadPartCommand({ Bucket: 'edge-src', Key: 'img/hero.jpg', UploadId: up.UploadId, PartNumber: i + 1, Body: body }))).ETag });
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'edge-src', Key: 'img/hero.jpg', UploadId: up.UploadId, MultipartUpload: { Parts: parts } }));
  await s3.send(new PutObjectCommand({ Bucket: 'edge-src', Key: 'img/logo.svg', Body: gzipSync(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>')), ContentType: 'image/svg+xml', ContentEncoding: 'gzip' }));
});

describe('images migrate s3://: a destination among the sources', () => {
  it('a key under the source prefix in the same bucket (the destination above it, or the same prefix) is exit 2 before any write; the source is untouched', async () => {
    const before = sha(await bytesOf('edge-one', 'img/raw/x.jpg'));
    await control.clearRequests();
    const above = await migrate('s3://edge-one/img/raw/', 'edge-one', ['--prefix', 'img', '--state-dir', '.above']);
    expect(above.code).toBe(2);
    expect(above.stderr).toContain('the key img/raw/x.jpg is under the source prefix s3://edge-one/img/raw/: the copy would land among the sources');
    const same = await migrate('s3://edge-one/img/raw/', 'edge-one', ['--prefix', 'img/raw', '--state-dir', '.same']);
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('rewrite that source object');
    expect((await control.requests()).filter((r) => r.service === 's3' && r.method !== 'GET' && r.method !== 'HEAD')).toEqual([]);
    expect(sha(await bytesOf('edge-one', 'img/raw/x.jpg'))).toBe(before);
  });
});

describe('images migrate s3://: copies', () => {
  it('a rerun without the journal does not copy again a copy of a multipart source (its ETag is no MD5): the copy records the source ETag it was made from', async () => {
    const first = await migrate('s3://edge-src/img/', 'edge-dst', ['--prefix', 'img', '--state-dir', '.a']);
    expect(first.code, first.stderr).toBe(0);
    await control.clearRequests();
    const fresh = await migrate('s3://edge-src/img/', 'edge-dst', ['--prefix', 'img', '--state-dir', '.b']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect((JSON.parse(fresh.stdout) as { counts: { uploaded: number; skipped: number } }).counts).toMatchObject({ uploaded: 0, skipped: 2 });
    expect((await control.requests()).filter((r) => r.operation === 'CopyObject')).toEqual([]);
    expect(sha(await bytesOf('edge-dst', 'img/hero.jpg'))).toBe(sha(big));
  });

  it('the metadata REPLACE keeps the source\'s Content-Encoding: a gzip-encoded SVG stays servable', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'edge-dst', Key: 'img/logo.svg' }));
    expect(head).toMatchObject({ ContentType: 'image/svg+xml', ContentEncoding: 'gzip' });
  });

  it('images verify of a manifest with a copy in parts whose source carried no SHA-256: the others by SHA-256, that one by size, exit 0', async () => {
    const aws = emulatorContext(endpoint);
    const putter = await aws.write().leanS3('edge-dst', { maxSockets: 2 });
    const sourceReader = await aws.read.leanS3('edge-src', { maxSockets: 2 });
    const etag = (await s3.send(new HeadObjectCommand({ Bucket: 'edge-src', Key: 'img/hero.jpg' }))).ETag!.replace(/"/g, '');
    const item: PlanItem = { image: { path: 'hero.jpg', size: big.length, s3: { bucket: 'edge-src', key: 'img/hero.jpg', etag } }, key: 'parts/hero.jpg', cacheControl: 'public, max-age=60', action: 'upload' };
    try {
      const results = await executePlan([item], { putter, sourceReader, s3: () => aws.write().client('s3'), bucket: 'edge-dst', sse: 'AES256', concurrency: 1, gate: new Gate(1), copyLimits: { single: 8 * 1024 * 1024, part: 5 * 1024 * 1024 } });
      expect([...results][0]).toMatchObject({ status: 'uploaded' });
      expect([...results][0]!.sha256).toBeUndefined();
      await writeManifest(path.join(dir, 'parts.csv'), manifestRows(results, undefined, 'edge-dst'));
    } finally {
      putter.close();
      sourceReader.close();
      await aws.destroy();
    }
    const verified = await run(['images', 'verify', '--manifest', 'parts.csv']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('1 by size only: the manifest has no sha256 for them');
  });
});

describe('images migrate s3://: source keys', () => {
  it('two keys that differ only in their Unicode form are exit 2 naming both; a key with an empty segment is counted as ignored', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'edge-names', Key: 'img/caf\u00e9.jpg', Body: jpeg(3000, 4) }));
    await s3.send(new PutObjectCommand({ Bucket: 'edge-names', Key: 'img/cafe\u0301.jpg', Body: jpeg(3100, 5) }));
    const twice = await migrate('s3://edge-names/img/', 'edge-dst', ['--prefix', 'names', '--state-dir', '.n']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('2 source objects differ only in their Unicode form');
    await s3.send(new PutObjectCommand({ Bucket: 'edge-names', Key: 'dbl/a//b.jpg', Body: jpeg(3000, 6) }));
    await s3.send(new PutObjectCommand({ Bucket: 'edge-names', Key: 'dbl/ok.jpg', Body: jpeg(3000, 7) }));
    const res = await migrate('s3://edge-names/dbl/', 'edge-dst', ['--prefix', 'dbl', '--state-dir', '.d']);
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout) as { counts: { uploaded: number }; audit: { ignoredFiles: number } };
    expect(doc.counts.uploaded).toBe(1);
    expect(doc.audit.ignoredFiles).toBe(1);
  });
});
