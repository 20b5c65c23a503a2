/**
 * images migrate --engine batch against moto through the shim's S3 Batch Operations: the job's
 * manifest and mapping file in the state folder, the CreateJob request as AWS documents it (created
 * for confirmation, confirmed by retailctl once S3 counted the planned tasks), the copies made by
 * the shipped copy function (LambdaInvoke) or by S3PutObjectCopy, the completion report read back
 * into the manifest, and a rerun that creates no second job.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpeg } from '../support/images.js';
import { awsErrors } from '../support/emulator.js';
import { runInProcess } from '../support/streams.js';
import { LEGACY_CATALOG, LEGACY_IMAGES, LEGACY_KEYS, LEGACY_TYPES } from '../support/legacy-images.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const LEGACY = LEGACY_IMAGES;
const CATALOG = LEGACY_CATALOG;
const KEYS = LEGACY_KEYS;
const TYPES = LEGACY_TYPES;
const ROLE = 'arn:aws:iam::123456789012:role/retailctl-batch';
const FUNCTION = 'arn:aws:lambda:us-east-1:123456789012:function:retailctl-batch-copy';

let dir: string;

async function configure(batch: Record<string, unknown>): Promise<void> {
  const lines = Object.entries({ pollInterval: '100ms', ...batch }).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
  await writeFile(path.join(dir, 'retailctl.yaml'), `images:\n  batch:\n${lines.join('\n')}\n`);
}

function migrate(source: string, bucket: string, args: string[]) {
  return runInProcess(['images', 'migrate', source, '--bucket', bucket, '--prefix', 'catalog', '--catalog', 'catalog.csv', '--endpoint-url', endpoint, ...args], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}

/** Run with the tasks of source keys matching `keys` failing in the emulator's jobs. */
async function failingTasks<T>(keys: string, run: () => Promise<T>): Promise<T> {
  await control.configure({ s3Batch: { failKeys: keys } });
  try {
    return await run();
  } finally {
    await control.configure({ s3Batch: {} });
  }
}

async function text(bucket: string, key: string): Promise<string> {
  return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
}

async function seed(bucket: string, objects: Record<string, Buffer>): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const [key, bytes] of Object.entries(objects)) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: 'binary/octet-stream' }));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-batch-'));
  await writeFile(path.join(dir, 'catalog.csv'), CATALOG);
  await seed('legacy-batch', LEGACY);
  await s3.send(new CreateBucketCommand({ Bucket: 'shop-batch' }));
});

describe('images migrate --engine batch', () => {
  it('hands the copies to one LambdaInvoke job, confirms it once S3 counted the planned tasks, and reads its report into the manifest', async () => {
    await configure({ roleArn: ROLE, functionArn: FUNCTION });
    await control.clearRequests();
    const res = await migrate('s3://legacy-batch/img/', 'shop-batch', ['--engine', 'batch', '--manifest', 'out/images.csv', '--yes', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout) as { counts: Record<string, number> };
    expect(doc.counts).toMatchObject({ uploaded: 4, failed: 0 });

    for (const [source, key] of Object.entries(KEYS)) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'shop-batch', Key: key, ChecksumMode: 'ENABLED' }));
      expect(head.ContentType, key).toBe(TYPES[source]);
      expect(head.CacheControl).toBe('public, max-age=86400');
      expect(head.ServerSideEncryption).toBe('AES256');
      expect(Buffer.from(head.ChecksumSHA256!, 'base64').toString('hex')).toBe(sha(LEGACY[source]!));
    }
    // the copies were made by the job (its own caller), never by retailctl
    const requests = await control.requests();
    expect(requests.filter((r) => r.operation === 'CopyObject' && r.accessKeyId !== 'batch-operations')).toEqual([]);
    expect(requests.filter((r) => r.operation === 'CopyObject')).toHaveLength(4);

    const [job] = await control.s3BatchJobs();
    expect(job).toMatchObject({ status: 'Complete', operation: 'LambdaInvoke', total: 4, succeeded: 4, failed: 0 });
    expect(job!.statusUpdates).toEqual(['Ready: retailctl: the plan was confirmed']);
    const request = job!.request as Record<string, any>;
    expect(request).toMatchObject({ ConfirmationRequired: 'true', RoleArn: ROLE, Priority: '10', Operation: { LambdaInvoke: { FunctionArn: FUNCTION, InvocationSchemaVersion: '2.0' } }, Report: { Enabled: 'true', Format: 'Report_CSV_20180820', ReportScope: 'AllTasks' } });
    expect(request.ClientRequestToken).toMatch(/^retailctl-[0-9a-f]{20}-1$/);
    const run = request.ClientRequestToken.slice('retailctl-'.length, -'-1'.length);
    const folder = `catalog/.retailctl-batch/${run}/1/`;
    expect(request.Manifest.Location.ObjectArn).toBe(`arn:aws:s3:::shop-batch/${folder}manifest.csv`);
    expect(request.Report.Prefix).toBe(`${folder}report`);

    // the manifest: bucket,key with each task's JSON in the key column; the mapping names every copy
    const manifest = (await text('shop-batch', `${folder}manifest.csv`)).trim().split('\n');
    expect(manifest).toHaveLength(4);
    const first = JSON.parse(decodeURIComponent(manifest.find((l) => l.includes('front'))!.split(',')[1]!));
    expect(first).toMatchObject({ s: 'img/1001-front.jpg', k: KEYS['img/1001-front.jpg'], c: 'public, max-age=86400', t: 'image/jpeg' });
    expect(await text('shop-batch', `${folder}mapping.csv`)).toContain(`${KEYS['img/1001-front.jpg']},legacy-batch,img/1001-front.jpg,`);
    const record = JSON.parse(await text('shop-batch', `catalog/.retailctl-batch/${run}/job.json`)) as { run: string; attempts: Record<string, unknown>[] };
    expect(record.run).toBe(run);
    expect(record.attempts).toHaveLength(1);
    expect(record.attempts[0]).toMatchObject({ n: 1, jobId: job!.id, merged: true, status: 'Complete', objects: 4, operation: 'LambdaInvoke' });

    const rows = (await readFile(path.join(dir, 'out/images.csv'), 'utf8')).trim().split('\n');
    expect(rows).toContain(`1001-front.jpg,${KEYS['img/1001-front.jpg']},,9000,${sha(LEGACY['img/1001-front.jpg']!)},image/jpeg,uploaded,,shop-batch`);
    const listed = (await s3.send(new ListObjectsV2Command({ Bucket: 'shop-batch', Prefix: 'catalog/' }))).Contents!.map((o) => o.Key!);
    expect(listed.filter((k) => !k.startsWith('catalog/.')).sort()).toEqual(Object.values(KEYS).sort());
  });

  it('a rerun creates no second job: the journal has the report\'s copies', async () => {
    const rerun = await migrate('s3://legacy-batch/img/', 'shop-batch', ['--engine', 'batch', '--yes', '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((JSON.parse(rerun.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: 0, skipped: 4 });
    expect(await control.s3BatchJobs()).toHaveLength(1);
  });

  it('a fresh runner (no journal) finds every object a copy of its source (one HEAD each): nothing copied, no second job, the manifest written again', async () => {
    await control.clearRequests();
    const fresh = await migrate('s3://legacy-batch/img/', 'shop-batch', ['--engine', 'batch', '--state-dir', 'fresh-state', '--manifest', 'out/again.csv', '--yes', '--json']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect((JSON.parse(fresh.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: 0, skipped: 4 });
    expect(await control.s3BatchJobs()).toHaveLength(1);
    expect((await control.requests()).filter((r) => r.operation === 'CopyObject')).toEqual([]);
    const rows = await readFile(path.join(dir, 'out/again.csv'), 'utf8');
    expect(rows).toContain(`${KEYS['img/2002.webp']},,5000,${sha(LEGACY['img/2002.webp']!)},image/webp,skipped,unchanged`);
  });

  it('--dry-run shows the job it would create (operation, role, folder, cost) and writes nothing', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'shop-batch-dry' }));
    await control.clearRequests();
    const dry = await migrate('s3://legacy-batch/img/', 'shop-batch-dry', ['--engine', 'batch', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('engine: S3 Batch Operations (--engine batch): attempt 1, one LambdaInvoke job of 4 objects');
    expect(dry.stdout).toContain(`role ${ROLE}, copy function ${FUNCTION}`);
    expect(dry.stdout).toContain('s3://shop-batch-dry/catalog/.retailctl-batch/');
    expect(dry.stdout).toMatch(/about \$0\.25 for the job/);
    const writes = (await control.requests()).filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
    expect(writes).toEqual([]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'shop-batch-dry' }))).KeyCount).toBe(0);
  });

  it('tasks that fail are failed rows with the job\'s reason (exit 4), and the rerun\'s job copies only those', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'shop-batch-fail' }));
    const res = await failingTasks('2002', () => migrate('s3://legacy-batch/img/', 'shop-batch-fail', ['--engine', 'batch', '--manifest', 'out/fail.csv', '--yes', '--json']));
    expect(res.code, res.stderr).toBe(4);
    expect((JSON.parse(res.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: 3, failed: 1 });
    const rows = await readFile(path.join(dir, 'out/fail.csv'), 'utf8');
    expect(rows).toMatch(/img\/2002\.webp|2002\.webp,catalog\/skincare\/creams\/sku-2002\/1\.webp,.*,failed,"?job [0-9a-f-]+: .*AccessDenied/);
    const rerun = await migrate('s3://legacy-batch/img/', 'shop-batch-fail', ['--engine', 'batch', '--yes', '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((JSON.parse(rerun.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: 1, skipped: 3 });
    const jobs = (await control.s3BatchJobs()).filter((j) => JSON.stringify(j.request).includes('shop-batch-fail'));
    expect(jobs.map((j) => j.total)).toEqual([4, 1]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'shop-batch-fail', Key: KEYS['img/2002.webp'] }));
    expect(head.ContentType).toBe('image/webp');
  });

  it('keys that are one prefix in front of the source keys, with one type, take one S3PutObjectCopy job (no function needed)', async () => {
    await seed('legacy-flat', { 'a/1.jpg': jpeg(4000, 7), 'a/2.jpg': jpeg(4100, 8), 'b/3.jpg': jpeg(4200, 9) });
    await s3.send(new CreateBucketCommand({ Bucket: 'shop-batch-copy' }));
    await configure({ roleArn: ROLE });
    const res = await runInProcess(['images', 'migrate', 's3://legacy-flat/', '--bucket', 'shop-batch-copy', '--prefix', 'products', '--engine', 'batch', '--yes', '--json', '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    const job = (await control.s3BatchJobs()).find((j) => JSON.stringify(j.request).includes('shop-batch-copy'))!;
    expect(job.operation).toBe('S3PutObjectCopy');
    expect((job.request as Record<string, any>).Operation.S3PutObjectCopy).toMatchObject({ TargetResource: 'arn:aws:s3:::shop-batch-copy', TargetKeyPrefix: 'products/', MetadataDirective: 'REPLACE', NewObjectMetadata: { ContentType: 'image/jpeg', CacheControl: 'public, max-age=86400', SSEAlgorithm: 'AES256' }, ChecksumAlgorithm: 'SHA256' });
    for (const key of ['products/a/1.jpg', 'products/a/2.jpg', 'products/b/3.jpg']) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'shop-batch-copy', Key: key }));
      expect(head.ContentType, key).toBe('image/jpeg');
      expect(head.CacheControl, key).toBe('public, max-age=86400');
    }
  });

  it('refuses, before any write, a batch engine it cannot run: no role, no copy function where one is needed, a local source', async () => {
    await configure({ functionArn: FUNCTION });
    const noRole = await migrate('s3://legacy-batch/img/', 'shop-batch', ['--engine', 'batch', '--yes']);
    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toContain('set images.batch.roleArn');
    await configure({ roleArn: ROLE });
    const noFunction = await migrate('s3://legacy-batch/img/', 'shop-batch', ['--engine', 'batch', '--force', '--yes']);
    expect(noFunction.code).toBe(2);
    expect(noFunction.stderr).toContain('set images.batch.functionArn to the copy function (examples/batch-copy-function)');
    const local = await migrate('.', 'shop-batch', ['--engine', 'batch', '--yes']);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('--engine batch copies objects already in S3');
    await configure({ roleArn: 'arn:aws:iam::123:role/x' });
    const badRole = await migrate('s3://legacy-batch/img/', 'shop-batch', ['--engine', 'batch', '--yes']);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('images.batch.roleArn');
  });

  describe('reruns after a job has ended', () => {
    const catalogued = (bucket: string, args: string[]) => migrate('s3://legacy-batch/img/', bucket, ['--engine', 'batch', '--yes', '--json', ...args]);
    const jobsOf = async (bucket: string) => (await control.s3BatchJobs()).filter((j) => JSON.stringify(j.request).includes(`arn:aws:s3:::${bucket}/`));
    const counts = (stdout: string) => (JSON.parse(stdout) as { counts: Record<string, number> }).counts;

    beforeAll(async () => {
      await configure({ roleArn: ROLE, functionArn: FUNCTION });
      for (const b of ['batch-deleted', 'batch-fresh-fail', 'batch-cancelled', 'batch-new-image', 'batch-planted', 'batch-auto']) await s3.send(new CreateBucketCommand({ Bucket: b }));
    });

    it('objects deleted since a finished job are copied again by the next attempt, not reported unchanged', async () => {
      expect((await catalogued('batch-deleted', ['--state-dir', 'st-deleted'])).code).toBe(0);
      await s3.send(new DeleteObjectCommand({ Bucket: 'batch-deleted', Key: KEYS['img/2002.webp'] }));
      await s3.send(new DeleteObjectCommand({ Bucket: 'batch-deleted', Key: KEYS['img/1001-back.png'] }));
      for (const stateDir of ['st-deleted', 'st-deleted-fresh']) {
        const rerun = await catalogued('batch-deleted', ['--state-dir', stateDir]);
        expect(rerun.code, rerun.stderr).toBe(0);
        if (stateDir === 'st-deleted') expect(counts(rerun.stdout)).toMatchObject({ uploaded: 2, skipped: 2 });
        else expect(counts(rerun.stdout)).toMatchObject({ uploaded: 0, skipped: 4 });
      }
      for (const key of Object.values(KEYS)) expect((await s3.send(new HeadObjectCommand({ Bucket: 'batch-deleted', Key: key }))).ContentLength).toBeGreaterThan(0);
      expect((await jobsOf('batch-deleted')).map((j) => j.total)).toEqual([4, 2]);
    });

    it('a failed task is copied by the next attempt from a fresh runner too (the others are a copy of their source: one HEAD each)', async () => {
      expect((await failingTasks('2002', () => catalogued('batch-fresh-fail', ['--state-dir', 'st-ff-1']))).code).toBe(4);
      await control.clearRequests();
      const fresh = await catalogued('batch-fresh-fail', ['--state-dir', 'st-ff-2']);
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(counts(fresh.stdout)).toMatchObject({ uploaded: 1, skipped: 3 });
      expect((await jobsOf('batch-fresh-fail')).map((j) => j.total)).toEqual([4, 1]);
      const copies = (await control.requests()).filter((r) => r.operation === 'CopyObject');
      expect(copies.map((r) => decodeURIComponent(r.copySource!))).toEqual(['legacy-batch/img/2002.webp']);
    });

    it('a job cancelled before it copied anything: exit 1 saying so, and the rerun\'s next attempt copies everything', async () => {
      // the job waits in Preparing until it is cancelled there, as by hand from the console
      await control.configure({ s3Batch: { holdPreparing: true } });
      const cancel = (async () => {
        for (let i = 0; i < 500; i++) {
          const [job] = await jobsOf('batch-cancelled');
          if (job?.status === 'Preparing') return control.s3BatchCancel(job.id);
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error('no job was created');
      })();
      let first;
      try {
        first = await catalogued('batch-cancelled', ['--state-dir', 'st-cancel']);
      } finally {
        await control.configure({ s3Batch: {} });
        await cancel;
      }
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(/ended Cancelled: a rerun plans a new job/);
      const rerun = await catalogued('batch-cancelled', ['--state-dir', 'st-cancel']);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(counts(rerun.stdout)).toMatchObject({ uploaded: 4 });
      expect((await jobsOf('batch-cancelled')).map((j) => j.status)).toEqual(['Cancelled', 'Complete']);
    });

    it('one image more in the source: a fresh runner\'s job copies only it, and nothing unchanged is reported replaced', async () => {
      expect((await catalogued('batch-new-image', ['--state-dir', 'st-new-1'])).code).toBe(0);
      await s3.send(new PutObjectCommand({ Bucket: 'legacy-batch', Key: 'img/4004.jpg', Body: jpeg(2000, 11) }));
      await writeFile(path.join(dir, 'catalog.csv'), `${CATALOG}4004.jpg,SKU-4004,Home > Mugs,Red,1\n`);
      try {
        await control.clearRequests();
        const res = await catalogued('batch-new-image', ['--state-dir', 'st-new-2']);
        expect(res.code, res.stderr).toBe(0);
        const doc = JSON.parse(res.stdout) as { counts: Record<string, number>; replaced?: unknown[] };
        expect(doc.counts).toMatchObject({ uploaded: 1, skipped: 4 });
        const copies = (await control.requests()).filter((r) => r.operation === 'CopyObject');
        expect(copies.map((r) => decodeURIComponent(r.copySource!))).toEqual(['legacy-batch/img/4004.jpg']);
        expect(res.stdout).not.toContain('"replaced": true');
      } finally {
        await writeFile(path.join(dir, 'catalog.csv'), CATALOG);
        await s3.send(new DeleteObjectCommand({ Bucket: 'legacy-batch', Key: 'img/4004.jpg' }));
      }
    });

    it('a job record that is not as retailctl writes it (another manifest) is refused: exit 1, no job created', async () => {
      const dry = await catalogued('batch-planted', ['--dry-run']);
      const folder = (JSON.parse(dry.stdout) as { plan: { batch: { folder: string; run: string } } }).plan.batch;
      const planted = { run: folder.run, attempts: [{ n: 1, token: `retailctl-${folder.run}-1`, operation: 'LambdaInvoke', objects: 4, manifestKey: 'elsewhere/manifest.csv', manifestEtag: 'x', mappingKey: `${folder.folder}1/mapping.csv`, request: {}, createdAt: 'now', by: 'someone', jobId: null, merged: false }] };
      await s3.send(new PutObjectCommand({ Bucket: 'batch-planted', Key: `${folder.folder}job.json`, Body: JSON.stringify(planted) }));
      const res = await catalogued('batch-planted', ['--state-dir', 'st-planted']);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`s3://batch-planted/${folder.folder}job.json is not a record retailctl wrote for this migration (attempt 1 is not as retailctl writes it)`);
      expect(await jobsOf('batch-planted')).toEqual([]);
    });

    it('--engine auto past minObjects without a copy function for catalogue keys copies directly, saying why', async () => {
      await configure({ roleArn: ROLE, minObjects: 1 });
      try {
        await control.clearRequests();
        const res = await migrate('s3://legacy-batch/img/', 'batch-auto', ['--state-dir', 'st-auto', '--yes']);
        expect(res.code, res.stderr).toBe(0);
        expect(res.stderr).toContain('engine: direct (images.batch.minObjects reached, but the planned keys are not one prefix in front of the source keys');
        expect(await jobsOf('batch-auto')).toEqual([]);
        expect((await control.requests()).filter((r) => r.operation === 'CopyObject' && r.accessKeyId !== 'batch-operations')).toHaveLength(4);
      } finally {
        await configure({ roleArn: ROLE, functionArn: FUNCTION });
      }
    });
  });

  describe('a record as a kill, an expired job or a refused CreateJob leaves it', () => {
    const go = (bucket: string, args: string[]) => migrate('s3://legacy-batch/img/', bucket, ['--engine', 'batch', '--yes', '--json', ...args]);
    const jobsOf = async (bucket: string) => (await control.s3BatchJobs()).filter((j) => JSON.stringify(j.request).includes(`arn:aws:s3:::${bucket}/`));
    async function edit(bucket: string, change: (attempt: Record<string, unknown>) => void): Promise<void> {
      const listed = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents!.map((o) => o.Key!);
      const key = listed.find((k) => k.includes('.retailctl-batch/') && k.endsWith('/job.json'))!;
      const doc = JSON.parse(await text(bucket, key)) as { attempts: Record<string, unknown>[] };
      change(doc.attempts.at(-1)!);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(doc) }));
    }
    /** As a run killed after the report was read, before the record said so. */
    const unmerged = (a: Record<string, unknown>) => {
      a.merged = false;
      delete a.status;
    };

    beforeAll(async () => {
      await configure({ roleArn: ROLE, functionArn: FUNCTION });
      for (const b of ['rec-gone', 'rec-absent', 'rec-fresh', 'rec-copy', 'rec-refused']) await s3.send(new CreateBucketCommand({ Bucket: b }));
    });

    it('a job S3 no longer knows (its records expire): the rerun closes that attempt as Gone and the next copies what is missing', async () => {
      expect((await go('rec-gone', ['--state-dir', 'st-rg'])).code).toBe(0);
      await s3.send(new DeleteObjectCommand({ Bucket: 'rec-gone', Key: KEYS['img/2002.webp'] }));
      await edit('rec-gone', (a) => {
        unmerged(a);
        a.jobId = '00000000-0000-0000-0000-00000000dead';
      });
      const rerun = await go('rec-gone', ['--state-dir', 'st-rg']);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect((await jobsOf('rec-gone')).map((j) => j.total)).toEqual([4, 1]);
      const listed = (await s3.send(new ListObjectsV2Command({ Bucket: 'rec-gone' }))).Contents!.map((o) => o.Key!);
      const record = JSON.parse(await text('rec-gone', listed.find((k) => k.endsWith('/job.json'))!)) as { attempts: { status: string; merged: boolean }[] };
      expect(record.attempts.map((a) => [a.status, a.merged])).toEqual([['Gone', true], ['Complete', true]]);
    });

    it('following an attempt: an item it did not copy and that is gone from the bucket is not reported unchanged (exit 4, the next run copies it)', async () => {
      expect((await failingTasks('2002', () => go('rec-absent', ['--state-dir', 'st-ra']))).code).toBe(4);
      expect((await go('rec-absent', ['--state-dir', 'st-ra'])).code).toBe(0);
      await edit('rec-absent', unmerged);
      await s3.send(new DeleteObjectCommand({ Bucket: 'rec-absent', Key: KEYS['img/3003-blue.gif'] }));
      const res = await go('rec-absent', ['--state-dir', 'st-ra-2', '--manifest', 'out/absent.csv']);
      expect(res.code).toBe(4);
      const row = (await readFile(path.join(dir, 'out/absent.csv'), 'utf8')).split('\n').find((l) => l.startsWith('3003-blue.gif'))!;
      expect(row).toContain(',failed,"not copied: not a task of attempt 2');
      const next = await go('rec-absent', ['--state-dir', 'st-ra-2']);
      expect(next.code, next.stderr).toBe(0);
      expect((await s3.send(new HeadObjectCommand({ Bucket: 'rec-absent', Key: KEYS['img/3003-blue.gif'] }))).ContentType).toBe('image/png');
    });

    it('a fresh runner following an attempt writes the rows of what earlier attempts copied as a run of its own would (SHA-256 and type)', async () => {
      expect((await failingTasks('2002', () => go('rec-fresh', ['--state-dir', 'st-rf-1']))).code).toBe(4);
      expect((await go('rec-fresh', ['--state-dir', 'st-rf-2'])).code).toBe(0);
      await edit('rec-fresh', unmerged);
      const res = await go('rec-fresh', ['--state-dir', 'st-rf-3', '--manifest', 'out/fresh.csv']);
      expect(res.code, res.stderr).toBe(0);
      expect(await jobsOf('rec-fresh')).toHaveLength(2);
      const rows = await readFile(path.join(dir, 'out/fresh.csv'), 'utf8');
      expect(rows).toContain(`${KEYS['img/1001-front.jpg']},,9000,${sha(LEGACY['img/1001-front.jpg']!)},image/jpeg,skipped`);
      expect(rows).toContain(`${KEYS['img/2002.webp']},,5000,${sha(LEGACY['img/2002.webp']!)},image/webp,uploaded`);
    });

    it('following an S3PutObjectCopy attempt reads its report under the recorded TargetKeyPrefix: uploaded, not failed', async () => {
      await seed('legacy-prefixed', { 'a/1.jpg': jpeg(4000, 17), 'a/2.jpg': jpeg(4100, 18) });
      await configure({ roleArn: ROLE });
      try {
        const run = () => runInProcess(['images', 'migrate', 's3://legacy-prefixed/', '--bucket', 'rec-copy', '--prefix', 'products', '--engine', 'batch', '--yes', '--json', '--state-dir', 'st-rc', '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
        expect((await run()).code).toBe(0);
        await edit('rec-copy', unmerged);
        const rerun = await run();
        expect(rerun.code, rerun.stderr).toBe(0);
        expect((JSON.parse(rerun.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: 2, failed: 0 });
        expect(await jobsOf('rec-copy')).toHaveLength(1);
      } finally {
        await configure({ roleArn: ROLE, functionArn: FUNCTION });
      }
    });

    it('CreateJob refused (a wrong role): exit 1, the attempt closed as NotCreated, and with the role fixed the next run creates its job', async () => {
      await configure({ roleArn: 'arn:aws:iam::123456789012:role/typo', functionArn: FUNCTION });
      await control.fault({ method: 'POST', path: '^/v20180820/jobs/?$', times: 1, ...awsErrors.restXml('AccessDenied', 'S3 Batch Operations cannot assume role/typo', 403) });
      try {
        const refused = await go('rec-refused', ['--state-dir', 'st-rr']);
        expect(refused.code).toBe(1);
      } finally {
        await control.clearFaults();
        await configure({ roleArn: ROLE, functionArn: FUNCTION });
      }
      const rerun = await go('rec-refused', ['--state-dir', 'st-rr']);
      expect(rerun.code, rerun.stderr).toBe(0);
      const [job] = await jobsOf('rec-refused');
      expect((job!.request as { RoleArn: string }).RoleArn).toBe(ROLE);
      expect((job!.request as { ClientRequestToken: string }).ClientRequestToken).toMatch(/-2$/);
    });
  });
});
