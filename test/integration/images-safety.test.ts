/**
 * images migrate against moto through the shim: giving up on a lost S3 endpoint (every connection
 * dropped by the shim) without mistaking throttling for an outage.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const FILES = 40;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-lock-'));
  await mkdir(path.join(dir, 'media'), { recursive: true });
  for (let i = 0; i < FILES; i++) await writeFile(path.join(dir, 'media', `i${String(i).padStart(2, '0')}.png`), png(1200 + i, i + 1));
  for (const b of ['lost', 'throttled']) await s3.send(new CreateBucketCommand({ Bucket: b }));
});

function migrate(bucket: string, args: string[], now?: () => Date) {
  return runInProcess(['images', 'migrate', 'media', '--bucket', bucket, '--prefix', 'catalog', '--endpoint-url', endpoint, '--state-dir', `state-${bucket}`, '--yes', ...args], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir, ...(now ? { now } : {}) });
}
const realClock = () => new Date();

async function images(bucket: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

async function imagePuts(): Promise<number> {
  return (await control.requests()).filter((r) => r.service === 's3' && (r.method === 'PUT' || r.method === 'POST')).length;
}

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Keys the journal recorded as uploaded. */
async function journalKeys(bucket: string): Promise<string[]> {
  const text = await readFile(path.join(dir, `state-${bucket}`, 'images', `${bucket}.jsonl`), 'utf8');
  return [...new Set(text.trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key))].sort();
}

const slowImagePuts = (bucket: string, delayMs: number) => control.fault({ service: 's3', method: 'PUT', path: `^/${bucket}/catalog/i`, times: 0, delayMs, forward: true });

describe('images migrate: a lost S3 endpoint', () => {
  it('every connection dropped after some uploads: exit 1 "S3 unreachable since …" within a bounded time, the journal holds what succeeded, and the rerun uploads only the rest', async () => {
    await slowImagePuts('lost', 100);
    const running = migrate('lost', ['--give-up-after', '1s', '--concurrency', '2', '--manifest', 'lost.csv'], realClock);
    let cut = 0;
    try {
      await until(async () => (await images('lost')).length >= 6);
      await control.clearFaults();
      await control.fault({ service: 's3', times: 0, reset: true });
      cut = Date.now();
    } finally {
      await running.catch(() => {});
      await control.clearFaults();
    }
    const r = await running;
    const took = Date.now() - cut;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error: S3 unreachable since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(\d+ failed attempts?, last error [^\n]+\); nothing more was sent; rerun the same command to resume/);
    expect(took).toBeLessThan(15_000); // not minutes of retries
    const landed = await images('lost');
    expect(landed.length).toBeGreaterThanOrEqual(6);
    expect(landed.length).toBeLessThan(FILES);
    expect(await journalKeys('lost')).toEqual(landed);
    const manifest = (await readFile(path.join(dir, 'lost.csv'), 'utf8')).trim().split('\n').slice(1);
    expect(manifest.filter((row) => row.includes(',uploaded,')).map((row) => row.split(',')[1]).sort()).toEqual(landed);

    await control.clearRequests();
    const again = await migrate('lost', ['--give-up-after', '1s', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ uploaded: FILES - landed.length, skipped: landed.length, failed: 0 });
    expect(await imagePuts()).toBe(FILES - landed.length);
    expect(await images('lost')).toHaveLength(FILES);
  }, 60_000);

  it('503 SlowDown on a third of the PUTs is throttling, not an outage: even with --give-up-after 1ms the run completes', async () => {
    await control.fault({ service: 's3', method: 'PUT', path: '^/throttled/catalog/i', times: 0, every: 3, status: 503, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>' });
    let r;
    try {
      r = await migrate('throttled', ['--give-up-after', '1ms', '--concurrency', '4', '--json']);
    } finally {
      await control.clearFaults();
    }
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.counts).toMatchObject({ uploaded: FILES, failed: 0 });
    expect(doc.throttled).toBeGreaterThan(0);
    expect(await images('throttled')).toHaveLength(FILES);
  }, 60_000);
});
