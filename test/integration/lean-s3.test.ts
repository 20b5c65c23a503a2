/**
 * The lean S3 client (src/lib/aws/lean-s3.ts) is one of the AwsContext's clients like the SDK ones,
 * against moto through the shim: a read-only one refuses writes before anything is sent (the shim's
 * request log stays empty), a writing one sends no write once the run is stopping (side writes
 * excepted), `-vv` gets the SDK clients' trace line for each request, and an S3 error becomes the
 * same translated message as the same error through the SDK (also in `images migrate`'s output).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsContext, type AwsSettings } from '../../src/lib/aws/context.js';
import type { LeanS3 } from '../../src/lib/aws/lean-s3.js';
import { RetailctlError } from '../../src/lib/errors.js';
import { RunSignals } from '../../src/lib/interrupt.js';
import { awsErrors } from '../support/emulator.js';
import { png } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const BUCKET = 'lean';
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
const contexts: AwsContext[] = [];
const clients: LeanS3[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(contexts.map((c) => c.destroy()));
  s3.destroy();
});

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'there.txt', Body: 'already here' }));
});

/** An AWS context as a command gets it, with the -vv trace collected. */
function context(options: { dryRun?: boolean; signals?: RunSignals } = {}): { aws: AwsContext; trace: string[] } {
  const trace: string[] = [];
  const settings: AwsSettings = { region: 'us-east-1', endpointUrl: endpoint, maxAttempts: 1, userAgent: 'retailctl/0.0.0-test', env: {}, trace: (line) => trace.push(line), ...(options.signals ? { signals: options.signals } : {}) };
  const aws = new AwsContext(settings, options.dryRun ?? false);
  contexts.push(aws);
  return { aws, trace };
}

async function lean(clientsOf: { leanS3: AwsContext['read']['leanS3'] }, signal?: AbortSignal): Promise<LeanS3> {
  const client = await clientsOf.leanS3(BUCKET, { maxSockets: 2, maxAttempts: 1, ...(signal ? { signal } : {}) });
  clients.push(client);
  return client;
}

const body = Buffer.from('new bytes');
const object = (key: string) => ({ key, body, size: body.length, sha256: createHash('sha256').update(body).digest(), contentType: 'text/plain', cacheControl: 'no-store', sse: 'AES256' as const });

async function exists(key: string): Promise<boolean> {
  return s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })).then(
    () => true,
    (err: { name?: string }) => {
      if (err.name === 'NoSuchKey') return false;
      throw err;
    },
  );
}

async function s3Requests(): Promise<string[]> {
  return (await control.requests()).filter((r) => r.service === 's3').map((r) => `${r.method} ${r.path}`);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: Error) => err,
  );
}

describe('a LeanS3 client from the read-only side (dry run, planning)', () => {
  it('refuses PutObject, DeleteObject and AbortMultipartUpload before any request reaches S3, as the SDK read client refuses PutObject', async () => {
    const { aws } = context();
    const reader = await lean(aws.read);
    await control.clearRequests();
    const refused = [await rejection(reader.put(object('ro/new.txt'))), await rejection(reader.delete('there.txt')), await rejection(reader.abortMultipartUpload('there.txt', 'upload-1'))];
    for (const err of refused) {
      expect(err).toBeInstanceOf(RetailctlError);
      expect((err as RetailctlError).code).toBe('READ_ONLY_VIOLATION');
    }
    expect(refused.map((e) => e.message)).toEqual([
      'internal error: S3 PutObject is a write and this client is read-only (dry run or planning)',
      'internal error: S3 DeleteObject is a write and this client is read-only (dry run or planning)',
      'internal error: S3 AbortMultipartUpload is a write and this client is read-only (dry run or planning)',
    ]);
    const sdk = await rejection((await aws.read.client('s3')).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ro/sdk.txt', Body: 'x' })));
    expect((sdk as RetailctlError).code).toBe('READ_ONLY_VIOLATION');
    expect(sdk.message).toBe('internal error: S3 PutObject is a write and this client is read-only (dry run or planning)');
    expect(await s3Requests()).toEqual([]);
    expect(await exists('ro/new.txt')).toBe(false);
    expect(await exists('there.txt')).toBe(true);
  });

  it('still reads (the listing and GET a dry run needs)', async () => {
    const { aws } = context();
    const reader = await lean(aws.read);
    expect([...(await reader.list('')).keys()]).toContain('there.txt');
    expect((await reader.get('there.txt'))?.body.toString()).toBe('already here');
  });

  it('in a dry run there is no writing side to take one from', () => {
    const { aws } = context({ dryRun: true });
    expect(() => aws.write()).toThrow('internal error: write access requested during --dry-run');
    expect(() => aws.write({ side: true })).toThrow('internal error: write access requested during --dry-run');
  });
});

describe('a LeanS3 client from the writing side', () => {
  it('sends no write once the run is stopping (first Ctrl-C); a side write (the lock release) still goes', async () => {
    const signals = new RunSignals(10_000);
    const { aws } = context({ signals });
    const writer = await lean(aws.write(), signals.stop);
    const side = await lean(aws.write({ side: true }), signals.kill);
    await writer.put(object('w/before.txt'));
    signals.interrupt('SIGINT');
    await control.clearRequests();
    const err = await rejection(writer.put(object('w/after.txt')));
    expect((err as RetailctlError).code).toBe('INTERRUPTED');
    expect(err.message).toBe('interrupted by SIGINT before S3 PutObject was sent: it was not applied');
    expect(await s3Requests()).toEqual([]);
    await side.delete('w/before.txt');
    expect(await s3Requests()).toEqual(['DELETE /lean/w/before.txt']);
    expect(await exists('w/after.txt')).toBe(false);
    expect(await exists('w/before.txt')).toBe(false);
  });
});

const TRACE = /^aws: S3 (\w+) (ok|failed) in \d+ ms( after \d+ attempts)?( \(request id [^)\s]+\)|: \w+)?$/;

describe('-vv', () => {
  it('prints one trace line per LeanS3 request, shaped as the SDK clients print theirs', async () => {
    const { aws, trace } = context();
    const writer = await lean(aws.write());
    await writer.put(object('t/a.txt'));
    await writer.list('t/');
    await (await aws.read.client('s3')).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 't/' }));
    await control.fault({ service: 's3', method: 'GET', path: '^/lean/t/denied\\.txt', times: 2, ...awsErrors.restXml('AccessDenied', 'Access Denied', 403) });
    try {
      await rejection(writer.get('t/denied.txt'));
      await rejection((await aws.read.client('s3')).send(new GetObjectCommand({ Bucket: BUCKET, Key: 't/denied.txt' })));
    } finally {
      await control.clearFaults();
    }
    expect(trace).toHaveLength(5);
    for (const line of trace) expect(line).toMatch(TRACE);
    expect(trace.map((l) => l.replace(/ in \d+ ms.*?(: \w+)?$/, ' in N ms$1'))).toEqual([
      'aws: S3 PutObject ok in N ms', // LeanS3
      'aws: S3 ListObjectsV2 ok in N ms', // LeanS3
      'aws: S3 ListObjectsV2 ok in N ms', // SDK
      'aws: S3 GetObject failed in N ms: AccessDenied', // LeanS3
      'aws: S3 GetObject failed in N ms: AccessDenied', // SDK
    ]);
    expect(trace.join('\n')).not.toMatch(/Signature|AWS4-HMAC|Credential=|testing/);
  });
});

describe('S3 errors', () => {
  it('an AccessDenied through LeanS3 becomes the SDK path\'s message, code and hint', async () => {
    const { aws } = context();
    const reader = await lean(aws.read);
    await control.fault({ service: 's3', method: 'GET', path: '^/lean/?\\?', times: 2, ...awsErrors.restXml('AccessDenied', 'Access Denied', 403) });
    let viaLean: Error;
    let viaSdk: RetailctlError;
    try {
      viaLean = reader.translate(await rejection(reader.list('x/')));
      viaSdk = (await rejection((await aws.read.client('s3')).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'x/' })))) as RetailctlError;
    } finally {
      await control.clearFaults();
    }
    expect(viaSdk.message).toBe('S3 ListObjectsV2 was denied (AccessDenied, HTTP 403, request id req-AccessDenied)');
    expect(viaLean).toBeInstanceOf(RetailctlError);
    const got = viaLean as RetailctlError;
    expect({ code: got.code, message: got.message, hint: got.hint, exitCode: got.exitCode }).toEqual({ code: viaSdk.code, message: viaSdk.message, hint: viaSdk.hint, exitCode: viaSdk.exitCode });
    expect(got.hint).toContain('grant s3:ListBucket');
  });

  it('an answer of moto itself (PreconditionFailed on a conditional PUT) reads the same both ways, request ids aside', async () => {
    const { aws } = context();
    const writer = await lean(aws.write());
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'e/one.txt', Body: 'one' }));
    const viaLean = writer.translate(await rejection(writer.put({ ...object('e/one.txt'), ifMatch: '0123456789abcdef0123456789abcdef' }))) as RetailctlError;
    const viaSdk = (await rejection((await aws.write().client('s3')).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'e/one.txt', Body: body, IfMatch: '"0123456789abcdef0123456789abcdef"' })))) as RetailctlError;
    const plain = (e: RetailctlError) => ({ code: e.code, message: e.message.replace(/, request id [^)]+/, ''), hint: e.hint });
    expect(viaSdk.code).toBe('AWS_ERROR');
    expect(viaSdk.message).toMatch(/^S3 PutObject failed: .*\(PreconditionFailed, HTTP 412/);
    expect(plain(viaLean)).toEqual(plain(viaSdk));
  });

  it('no credentials (a --profile in neither AWS file) is the SDK path\'s error too, not an S3 failure', async () => {
    const files = await mkdtemp(path.join(os.tmpdir(), 'retailctl-lean-profiles-'));
    const config = path.join(files, 'config');
    const credentials = path.join(files, 'credentials');
    await writeFile(config, '[profile shop]\nregion = us-east-1\n');
    await writeFile(credentials, '');
    const saved = { AWS_CONFIG_FILE: process.env.AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE: process.env.AWS_SHARED_CREDENTIALS_FILE };
    Object.assign(process.env, { AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials });
    try {
      const env = { AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials };
      const aws = new AwsContext({ region: 'us-east-1', endpointUrl: endpoint, profile: 'shopp', maxAttempts: 1, userAgent: 'retailctl/0.0.0-test', env }, false);
      contexts.push(aws);
      const reader = await lean(aws.read);
      await control.clearRequests();
      const viaLean = reader.translate(await rejection(reader.list(''))) as RetailctlError;
      const viaSdk = (await rejection((await aws.read.client('s3')).send(new ListObjectsV2Command({ Bucket: BUCKET })))) as RetailctlError;
      expect(viaSdk.code).toBe('AWS_PROFILE_UNKNOWN');
      expect({ code: viaLean.code, message: viaLean.message, hint: viaLean.hint, exitCode: viaLean.exitCode }).toEqual({ code: viaSdk.code, message: viaSdk.message, hint: viaSdk.hint, exitCode: viaSdk.exitCode });
      expect(viaLean.message).toContain('--profile shopp: no such profile');
      expect(await s3Requests()).toEqual([]);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('images migrate says what the SDK would when S3 denies its listing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-lean-'));
    await mkdir(path.join(dir, 'media'));
    await writeFile(path.join(dir, 'media', 'a.png'), png(900, 1));
    await control.fault({ service: 's3', method: 'GET', path: '^/lean/?\\?.*list-type=2', times: 1, ...awsErrors.restXml('AccessDenied', 'Access Denied', 403) });
    let r;
    try {
      r = await runInProcess(['images', 'migrate', 'media', '--bucket', BUCKET, '--prefix', 'denied', '--dry-run', '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    } finally {
      await control.clearFaults();
    }
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: S3 ListObjectsV2 was denied (AccessDenied, HTTP 403, request id req-AccessDenied)');
    expect(r.stderr).toContain('grant s3:ListBucket to the caller');
  });
});
