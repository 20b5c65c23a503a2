/**
 * images migrate's plan as data, against moto through the shim: a dry run's --json `plan` is the
 * plan (kind images.migrate, version 1) with the preconditions seen in S3 and the source files, and
 * its actions; a plan made by the same steps, written to JSON and read back, executed
 * (executeMigration) does exactly its actions: no listing, nothing added to the source or the
 * bucket since is touched.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandContext } from '../../src/lib/context.js';
import { gatherMigration } from '../../src/lib/images/gather.js';
import { executeMigration } from '../../src/lib/images/migrate.js';
import { planMigration, type MigrationPlan } from '../../src/lib/images/migration-plan.js';
import { resolveMigration, type MigrateRequest } from '../../src/lib/images/options.js';
import { RunSignals } from '../../src/lib/interrupt.js';
import { Output } from '../../src/lib/io/output.js';
import { png } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const BUCKET = 'planned';
const A = png(1200, 1); // new
const B = png(1300, 2); // replaces a smaller object
const C = png(1400, 3); // already there, same bytes (a dry run compares and finds it unchanged)
const D = png(1500, 4); // same size as what is there, other bytes
const OLD_B = png(900, 9);
const OLD_D = png(1500, 8);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
let uploadId: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-plan-data-'));
  await mkdir(path.join(dir, 'media'), { recursive: true });
  await writeFile(path.join(dir, 'media', 'a.png'), A);
  await writeFile(path.join(dir, 'media', 'b.png'), B);
  await writeFile(path.join(dir, 'media', 'c.png'), C);
  await writeFile(path.join(dir, 'media', 'd.png'), D);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p/b.png', Body: OLD_B }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p/c.png', Body: C }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p/d.png', Body: OLD_D }));
  expect(OLD_D.length).toBe(D.length);
  expect(OLD_B.length).not.toBe(B.length);
  uploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'p/a.png' }))).UploadId!;
});

async function dryRun(): Promise<{ plan: Omit<MigrationPlan, 'items'> } & Record<string, unknown>> {
  const r = await runInProcess(['images', 'migrate', 'media', '--bucket', BUCKET, '--prefix', 'p', '--endpoint-url', endpoint, '--dry-run', '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { plan: Omit<MigrationPlan, 'items'> };
}

async function etag(key: string): Promise<string> {
  return (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag!.replace(/"/g, '');
}

describe('a dry run\'s --json plan', () => {
  it('keeps today\'s fields and adds kind, version, the preconditions seen in S3 and on disk, and the actions', async () => {
    const doc = await dryRun();
    const plan = doc.plan;
    expect(plan).toMatchObject({ kind: 'images.migrate', version: 1, source: 'media', bucket: BUCKET, prefix: 'p/', keyTemplate: '{dir}/{name}.{ext}', cacheControl: 'public, max-age=86400', sse: 'AES256', unfinishedUploads: 1, lock: null });
    expect(plan.counts).toEqual({ upload: 1, replace: 2, skip: 1, check: 0, empty: 0 });
    expect(plan.sampleKeys).toEqual([
      { source: 'a.png', key: 'p/a.png', action: 'upload' },
      { source: 'b.png', key: 'p/b.png', action: 'replace' },
      { source: 'c.png', key: 'p/c.png', action: 'skip' },
      { source: 'd.png', key: 'p/d.png', action: 'replace' },
    ]);
    expect(doc.audit).toMatchObject({ missingImages: 0, symlinksSkipped: 0 });
    expect(plan.preconditions.objects).toEqual([
      { key: 'p/a.png', listed: 'absent' },
      { key: 'p/b.png', listed: { size: OLD_B.length, etag: await etag('p/b.png') } },
      { key: 'p/c.png', listed: { size: C.length, etag: await etag('p/c.png') } },
      { key: 'p/d.png', listed: { size: OLD_D.length, etag: await etag('p/d.png') } },
    ]);
    // the files the content comparison read have their sha256; the others were not read for it
    expect(plan.preconditions.sources).toEqual([
      { path: 'a.png', size: A.length, mtimeMs: expect.any(Number), sha256: null },
      { path: 'b.png', size: B.length, mtimeMs: expect.any(Number), sha256: null },
      { path: 'c.png', size: C.length, mtimeMs: expect.any(Number), sha256: sha256(C) },
      { path: 'd.png', size: D.length, mtimeMs: expect.any(Number), sha256: sha256(D) },
    ]);
    expect(plan.actions).toEqual({
      uploads: [
        { key: 'p/a.png', source: 'a.png', contentType: null, cacheControl: 'public, max-age=86400', action: 'upload' },
        { key: 'p/b.png', source: 'b.png', contentType: null, cacheControl: 'public, max-age=86400', action: 'replace' },
        { key: 'p/d.png', source: 'd.png', contentType: 'image/png', cacheControl: 'public, max-age=86400', action: 'replace' },
      ],
      abortMultipartUploads: [{ key: 'p/a.png', uploadId }],
      invalidation: null,
    });
    expect(plan).not.toHaveProperty('items'); // the executor's copy of the same: not in the review document
  });
});

/** A command context as the CLI makes one, writing its messages to `messages`. */
function commandContext(dryRun: boolean, messages: string[]): CommandContext {
  const sink = { write: (s: string) => messages.push(s) };
  return new CommandContext({
    argv: [],
    options: { config: 'retailctl.yaml', configExplicit: false, endpointUrl: endpoint, region: 'us-east-1', json: false, yes: true, dryRun, verbose: 0, color: false },
    out: new Output({ stdout: sink, stderr: sink, json: false, verbose: 0, interactive: false, color: false }),
    env: { AWS_REGION: 'us-east-1' },
    cwd: dir,
    signals: new RunSignals(10_000),
    version: '0.0.0-test',
    canPrompt: false,
    now: () => new Date(),
    stdin: new PassThrough(),
    stderr: new PassThrough(),
  });
}

/** The plan a dry run makes (the same steps: resolve, gather, plan), as a plan file holds it. */
async function planFile(): Promise<string> {
  const ctx = commandContext(true, []);
  const request: MigrateRequest = { source: 'media', bucket: BUCKET, prefix: 'p', columns: [], force: false, redirectFrom: '/media', stateDir: '.retailctl' };
  const m = await resolveMigration(ctx, request);
  const aws = await ctx.aws();
  try {
    return JSON.stringify(planMigration({ migration: m, ...(await gatherMigration(ctx, request, m, aws, undefined, Date.now())) }));
  } finally {
    await aws.destroy();
  }
}

describe('executing a plan read back from JSON', () => {
  it('does exactly its actions: no listing, and an image added to the source or an object added to the bucket since is left alone', async () => {
    const text = await planFile();
    const plan = JSON.parse(text) as MigrationPlan;
    // the plan file is the dry run's plan, with the executor's items
    const { items, ...reviewed } = plan;
    expect(reviewed).toEqual((await dryRun()).plan);
    expect(items.map((i) => [i.key, i.action])).toEqual([['p/a.png', 'upload'], ['p/b.png', 'replace'], ['p/c.png', 'skip'], ['p/d.png', 'replace']]);
    // the world moves on after the review
    await writeFile(path.join(dir, 'media', 'e.png'), png(1600, 5));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p/later.png', Body: 'someone else' }));

    const err: string[] = [];
    const ctx = commandContext(false, err);
    const aws = await ctx.aws();
    await control.clearRequests();
    let executed;
    try {
      executed = await executeMigration(plan, { ctx, aws, lock: undefined, stateFile: path.join(dir, 'state', 'planned.jsonl'), giveUpAfterMs: 30_000, waitMs: undefined, started: Date.now() });
    } finally {
      await aws.destroy();
    }
    const sent = (await control.requests()).filter((q) => q.service === 's3').map((q) => `${q.method} ${q.path}`);
    expect(sent.filter((q) => /list-type|[?&]uploads(=|&|$)/.test(q))).toEqual([]);
    expect(sent.filter((q) => q.startsWith('PUT ')).sort()).toEqual(['PUT /planned/p/a.png', 'PUT /planned/p/b.png', 'PUT /planned/p/d.png']);
    expect(sent.filter((q) => q.startsWith('DELETE '))).toEqual([`DELETE /planned/p/a.png?uploadId=${uploadId}`]);
    expect([...executed.results].map((r) => [r.item.key, r.status])).toEqual([['p/a.png', 'uploaded'], ['p/b.png', 'uploaded'], ['p/c.png', 'skipped'], ['p/d.png', 'uploaded']]);
    expect(executed.replaced.sort()).toEqual(['p/b.png', 'p/d.png']);
    expect(err.join('')).toContain(`aborted an unfinished multipart upload of p/a.png`);

    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key).sort();
    expect(keys).toEqual(['p/a.png', 'p/b.png', 'p/c.png', 'p/d.png', 'p/later.png']);
    const body = async (key: string) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
    expect((await body('p/a.png')).equals(A)).toBe(true);
    expect((await body('p/b.png')).equals(B)).toBe(true);
    expect((await body('p/d.png')).equals(D)).toBe(true);
    expect((await body('p/later.png')).toString()).toBe('someone else');
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? []).toEqual([]);
    // the journal has what was uploaded, and only that
    const journal = (await readFile(path.join(dir, 'state', 'planned.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { key: string });
    expect(journal.map((e) => e.key).sort()).toEqual(['p/a.png', 'p/b.png', 'p/d.png']);
  });
});
