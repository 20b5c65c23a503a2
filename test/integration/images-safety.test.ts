/**
 * images migrate against moto through the shim: the bucket lock (`<prefix>.retailctl-lock`) seen in
 * the emulator — refused, broken, lost mid-run — and giving up on a lost S3 endpoint (every
 * connection dropped by the shim) without mistaking throttling for an outage. moto 5.2 enforces
 * `If-None-Match: *` and `If-Match` on PutObject and `If-Match` on DeleteObject (412) as AWS does;
 * test/integration/emulator-stack.test.ts checks that.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpeg, png } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const LOCK = '.retailctl-lock';
const FILES = 40;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-lock-'));
  await mkdir(path.join(dir, 'media'), { recursive: true });
  for (let i = 0; i < FILES; i++) await writeFile(path.join(dir, 'media', `i${String(i).padStart(2, '0')}.png`), png(1200 + i, i + 1));
  for (const b of ['held', 'expired', 'taken', 'refresh', 'lost', 'throttled', 'manifest', 'namespace', 'skewed', 'hung', 'storm-xml', 'storm-html', 'unreleased', 'garbage', 'nested', 'mp-lost', 'mp-hung', 'mp-slow', 'late', 'unconfirmed']) await s3.send(new CreateBucketCommand({ Bucket: b }));
  // a tree with one image big enough to go multipart (40 MiB: three parts)
  await mkdir(path.join(dir, 'big'), { recursive: true });
  await writeFile(path.join(dir, 'big', 'a-big.jpg'), jpeg(40 * 1024 * 1024, 7));
  for (let i = 0; i < 5; i++) await writeFile(path.join(dir, 'big', `s${i}.png`), png(1500 + i, i + 70));
});

/** `now`: the lock's timestamps; tests that depend on the lock's expiry passing use the real clock. */
function migrate(bucket: string, args: string[], now?: () => Date, source = 'media') {
  return runInProcess(['images', 'migrate', source, '--bucket', bucket, '--prefix', 'catalog', '--endpoint-url', endpoint, '--state-dir', `state-${bucket}`, '--yes', ...args], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir, ...(now ? { now } : {}) });
}
const realClock = () => new Date();

/** The image keys in a bucket (the lock object is not an image). */
async function images(bucket: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => o.Key!).filter((k) => !k.endsWith(LOCK)).sort();
}

async function lockBody(bucket: string): Promise<Record<string, unknown> | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `catalog/${LOCK}` }));
    return JSON.parse(await got.Body!.transformToString()) as Record<string, unknown>;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

/** A lock another run holds, written by hand. */
async function seedLock(bucket: string, expiresAt: string): Promise<string> {
  const body = { holder: 'ci-bot', host: 'runner-7', pid: 4242, startedAt: '2026-11-27T08:00:00.000Z', expiresAt, command: 'retailctl images migrate media --bucket x', runId: 'someone-else' };
  return (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `catalog/${LOCK}`, Body: JSON.stringify(body), ContentType: 'application/json' }))).ETag!;
}

/** Image writes the shim saw (the lock object's own writes are not counted). */
async function imagePuts(): Promise<number> {
  return (await control.requests()).filter((r) => r.service === 's3' && (r.method === 'PUT' || r.method === 'POST') && !r.path.includes(LOCK)).length;
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

describe('images migrate: a lock another run holds', () => {
  it('is refused with exit 1 naming holder, host, pid, start and expiry, and no image written; --break-lock refuses a live lock; --dry-run reports it and writes nothing', async () => {
    const etag = await seedLock('held', '2099-01-01T00:00:00.000Z');
    await control.clearRequests();
    const r = await migrate('held', []);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('error: s3://held/catalog/.retailctl-lock is held by ci-bot on runner-7 (pid 4242) since 2026-11-27T08:00:00.000Z, expires 2099-01-01T00:00:00.000Z: another images migrate runs on this bucket and prefix; nothing was uploaded');
    expect(r.stderr).toContain('hint: wait for it to finish; if that run is dead, rerun with --break-lock after 2099-01-01T00:00:00.000Z');
    expect(await imagePuts()).toBe(0);

    const broken = await migrate('held', ['--break-lock']);
    expect(broken.code, broken.stderr).toBe(1);
    expect(broken.stderr).toContain('error: --break-lock: s3://held/catalog/.retailctl-lock is live, held by ci-bot on runner-7 (pid 4242)');
    expect(await imagePuts()).toBe(0);
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'held', Key: `catalog/${LOCK}` }))).ETag).toBe(etag); // untouched
    expect(await images('held')).toEqual([]);
    expect(existsSync(path.join(dir, 'state-held', 'images', 'held@catalog.lock'))).toBe(false); // the local lock is not left behind

    await control.clearRequests();
    const dry = await runInProcess(['images', 'migrate', 'media', '--bucket', 'held', '--prefix', 'catalog', '--endpoint-url', endpoint, '--dry-run'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('s3://held/catalog/.retailctl-lock is held by ci-bot on runner-7 (pid 4242)');
    expect((await control.requests()).filter((q) => q.method !== 'GET' && q.method !== 'HEAD')).toEqual([]);
  });

  it('--break-lock breaks an expired lock, says what it broke, and the run proceeds; without it the expired lock is refused', async () => {
    await seedLock('expired', '2020-01-01T00:00:00.000Z');
    await control.clearRequests();
    const refused = await migrate('expired', []);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is held by ci-bot on runner-7 (pid 4242) since 2026-11-27T08:00:00.000Z, expires 2020-01-01T00:00:00.000Z');
    expect(refused.stderr).toContain('hint: the lock has expired: if that run is gone, rerun with --break-lock');
    expect(await imagePuts()).toBe(0);

    const r = await migrate('expired', ['--break-lock', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('s3://expired/catalog/.retailctl-lock: broke the expired lock of ci-bot on runner-7 (pid 4242) since 2026-11-27T08:00:00.000Z, expires 2020-01-01T00:00:00.000Z');
    expect(JSON.parse(r.stdout).counts).toMatchObject({ uploaded: FILES, failed: 0 });
    expect(await images('expired')).toHaveLength(FILES);
    expect(await lockBody('expired')).toBeUndefined(); // released at the end
  });
});

describe('images migrate: --break-lock on a machine whose clock runs fast', () => {
  it('a live lock (written just now, 2 min to live) is refused even 3 min ahead: expiry is judged on S3\'s clock (Last-Modified + ttlMs against its Date)', async () => {
    const body = { holder: 'ci-bot', host: 'runner-7', pid: 4242, startedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 120_000).toISOString(), ttlMs: 120_000, command: 'retailctl images migrate media --bucket skewed', runId: 'live' };
    const etag = (await s3.send(new PutObjectCommand({ Bucket: 'skewed', Key: `catalog/${LOCK}`, Body: JSON.stringify(body), ContentType: 'application/json' }))).ETag!;
    await control.clearRequests();
    const r = await migrate('skewed', ['--break-lock'], () => new Date(Date.now() + 180_000));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('error: --break-lock: s3://skewed/catalog/.retailctl-lock is live, held by ci-bot on runner-7 (pid 4242)');
    expect(await imagePuts()).toBe(0);
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'skewed', Key: `catalog/${LOCK}` }))).ETag).toBe(etag);
  });
});

describe('images migrate: a live lock of this host whose pid is not visible', () => {
  it.each([
    ['a pid that does not run here (another PID namespace)', 4_194_000],
    ['our own pid (another PID namespace)', process.pid],
  ])('held with %s and refreshed just now: refused (exit 1), no image written, both locks untouched', async (_what, pid) => {
    // a live run in a container with the same hostname, sharing this state directory
    const body = { holder: 'ci-bot', host: os.hostname(), pid, startedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 120_000).toISOString(), ttlMs: 120_000, command: 'retailctl images migrate media --bucket namespace', runId: 'live-elsewhere' };
    const etag = (await s3.send(new PutObjectCommand({ Bucket: 'namespace', Key: `catalog/${LOCK}`, Body: JSON.stringify(body), ContentType: 'application/json' }))).ETag!;
    const localFile = path.join(dir, 'state-namespace', 'images', 'namespace@catalog.lock');
    await mkdir(path.dirname(localFile), { recursive: true });
    const local = JSON.stringify({ pid, host: os.hostname(), runId: 'live-elsewhere', startedAt: body.startedAt, target: 's3://namespace/catalog/', expiryMs: 120_000 });
    await writeFile(localFile, local);
    await control.clearRequests();
    const r = await migrate('namespace', []);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`is held by pid ${pid} on ${os.hostname()}`);
    expect(r.stderr).toContain('it may run in another PID namespace');
    expect(await imagePuts()).toBe(0);
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'namespace', Key: `catalog/${LOCK}` }))).ETag).toBe(etag);
    expect(await readFile(localFile, 'utf8')).toBe(local);
    expect(await images('namespace')).toEqual([]);
  });
});

describe('images migrate: the lock lost mid-run', () => {
  it('taken by someone else: the run stops (exit 1) without starting more uploads, leaves their lock alone, and a rerun resumes', async () => {
    await slowImagePuts('taken', 150);
    const theirLocal = JSON.stringify({ pid: 99, host: 'other-host', runId: 'theirs', startedAt: new Date().toISOString(), target: 's3://taken/catalog/' });
    const running = migrate('taken', ['--lock-expiry', '2s', '--concurrency', '1'], realClock);
    let atTakeover = 0;
    try {
      await until(async () => (await images('taken')).length >= 4 && (await lockBody('taken')) !== undefined);
      atTakeover = (await images('taken')).length;
      await s3.send(new PutObjectCommand({ Bucket: 'taken', Key: `catalog/${LOCK}`, Body: JSON.stringify({ holder: 'intruder', host: 'other-host', pid: 99, startedAt: new Date().toISOString(), expiresAt: '2099-01-01T00:00:00.000Z', command: 'x', runId: 'theirs' }) }));
      // and the local lock file now belongs to another run too
      await writeFile(path.join(dir, 'state-taken', 'images', 'taken@catalog.lock'), theirLocal);
    } finally {
      await running.catch(() => {});
      await control.clearFaults();
    }
    const r = await running;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('error: lost the lock s3://taken/catalog/.retailctl-lock: it is now held by intruder on other-host (pid 99)');
    const landed = await images('taken');
    expect(landed.length).toBeLessThan(FILES);
    expect(landed.length - atTakeover).toBeLessThanOrEqual(10); // noticed at the next refresh (every 500 ms); none started after
    expect((await lockBody('taken'))?.holder).toBe('intruder'); // their lock is not deleted
    expect(await readFile(path.join(dir, 'state-taken', 'images', 'taken@catalog.lock'), 'utf8')).toBe(theirLocal); // nor their lock file
    await unlink(path.join(dir, 'state-taken', 'images', 'taken@catalog.lock'));
    expect(await journalKeys('taken')).toEqual(landed);

    await s3.send(new DeleteObjectCommand({ Bucket: 'taken', Key: `catalog/${LOCK}` }));
    await control.clearRequests();
    const again = await migrate('taken', ['--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ uploaded: FILES - landed.length, skipped: landed.length, failed: 0 });
    expect(await imagePuts()).toBe(FILES - landed.length);
    expect(await images('taken')).toHaveLength(FILES);
  }, 60_000);

  it('its refresh failing (S3 refuses every write of the lock): the run stops before the lock would expire, exit 1, and removes its lock', async () => {
    await slowImagePuts('refresh', 150);
    const running = migrate('refresh', ['--lock-expiry', '2s', '--concurrency', '1'], realClock);
    try {
      await until(async () => (await images('refresh')).length >= 2);
      await control.fault({ service: 's3', method: 'PUT', path: `^/refresh/catalog/\\${LOCK}`, times: 0, status: 500, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>' });
    } finally {
      await running.catch(() => {});
      await control.clearFaults();
    }
    const r = await running;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error: lost the lock s3:\/\/refresh\/catalog\/\.retailctl-lock: it(s refresh has not answered| could not be refreshed \(InternalError)/);
    const landed = await images('refresh');
    expect(landed.length).toBeLessThan(FILES);
    expect(await journalKeys('refresh')).toEqual(landed);
    expect(await lockBody('refresh')).toBeUndefined(); // still ours, so removed (conditional delete)
  }, 60_000);
});

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
    expect(r.stderr).toContain('could not remove the lock s3://lost/catalog/.retailctl-lock'); // S3 was gone for that too
    const landed = await images('lost');
    expect(landed.length).toBeGreaterThanOrEqual(6);
    expect(landed.length).toBeLessThan(FILES);
    expect(await journalKeys('lost')).toEqual(landed);
    const manifest = (await readFile(path.join(dir, 'lost.csv'), 'utf8')).trim().split('\n').slice(1);
    expect(manifest.filter((row) => row.includes(',uploaded,')).map((row) => row.split(',')[1]).sort()).toEqual(landed);

    await control.clearRequests();
    const again = await migrate('lost', ['--give-up-after', '1s', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('s3://lost/catalog/.retailctl-lock: took over the lock of an earlier run from this host');
    expect(JSON.parse(again.stdout).counts).toMatchObject({ uploaded: FILES - landed.length, skipped: landed.length, failed: 0 });
    expect(await imagePuts()).toBe(FILES - landed.length);
    expect(await images('lost')).toHaveLength(FILES);
    expect(await lockBody('lost')).toBeUndefined();
  }, 60_000);

  it('an endpoint that stops answering (image PUTs held 10 min): exit 1 "S3 unreachable since <last success>" within seconds of --give-up-after 2s, not after the per-request timeout', async () => {
    await slowImagePuts('hung', 100);
    const running = migrate('hung', ['--give-up-after', '2s', '--concurrency', '2', '--json'], realClock);
    let cut = 0;
    try {
      await until(async () => (await images('hung')).length >= 4);
      await control.clearFaults();
      await control.fault({ service: 's3', method: 'PUT', path: '^/hung/catalog/i', times: 0, delayMs: 600_000 });
      cut = Date.now();
    } finally {
      await running.catch(() => {});
      await control.clearFaults();
    }
    const r = await running;
    const took = Date.now() - cut;
    expect(r.code, r.stderr).toBe(1);
    expect(took).toBeLessThan(10_000);
    const m = /error: S3 unreachable since (\S+) \(/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(Date.parse(m![1]!)).toBeLessThanOrEqual(cut + 500); // the last success, not a failure after it
    expect(JSON.parse(r.stdout).unreachableSince).toBe(m![1]);
    const landed = await images('hung');
    expect(await journalKeys('hung')).toEqual(landed);
    expect(await lockBody('hung')).toBeUndefined(); // the lock's own requests still answer: released
  }, 60_000);

  it.each([
    ['storm-xml', 'application/xml', '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>Service is unable to handle request.</Message></Error>'],
    ['storm-html', 'text/html', '<html><body><h1>503 Service Unavailable</h1></body></html>'],
  ])('a storm of 503 without SlowDown (%s) is an outage, not throttling: exit 1 "S3 unreachable" soon after --give-up-after 2s', async (bucket, type, body) => {
    await control.fault({ service: 's3', method: 'PUT', path: `^/${bucket}/catalog/i`, times: 0, status: 503, headers: { 'content-type': type }, body });
    const started = Date.now();
    let r;
    try {
      r = await migrate(bucket, ['--give-up-after', '2s', '--concurrency', '4', '--json'], realClock);
    } finally {
      await control.clearFaults();
    }
    expect(r.code, r.stderr).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.stderr).toMatch(/error: S3 unreachable since \S+ \(\d+ failed attempts, last error (ServiceUnavailable|HTTP503|ECONNRESET)/); // a storm can drop connections too
    expect(JSON.parse(r.stdout).throttled).toBe(0);
    expect(await images(bucket)).toEqual([]);
  }, 40_000);

  it('503 SlowDown on a third of the PUTs is throttling, not an outage: even with --give-up-after 1s (shorter than its backoff waits) the run completes', async () => {
    await control.fault({ service: 's3', method: 'PUT', path: '^/throttled/catalog/i', times: 0, every: 3, status: 503, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>' });
    let r;
    try {
      r = await migrate('throttled', ['--give-up-after', '1s', '--concurrency', '4', '--json']);
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

describe('images migrate: --lock-expiry and --give-up-after values', () => {
  it('a lock expiry beyond 1h (flag or config key) or not a duration is exit 2 naming it, before any request; the wording says what 0 means for each flag', async () => {
    await control.clearRequests();
    const huge = await migrate('held', ['--lock-expiry', '1000d']);
    expect(huge.code, huge.stderr).toBe(2);
    expect(huge.stderr).toContain('error: --lock-expiry: at most 1h');
    await writeFile(path.join(dir, 'long-lock.yaml'), 'images:\n  lockExpiry: 2h\n');
    const fromConfig = await migrate('held', ['--config', 'long-lock.yaml']);
    expect(fromConfig.code, fromConfig.stderr).toBe(2);
    expect(fromConfig.stderr).toContain('images.lockExpiry: at most 1h');
    const bad = await migrate('held', ['--lock-expiry', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error: --lock-expiry: expected a duration like 90s, 15m or 1h30m, got "soon"');
    const zero = await migrate('held', ['--lock-expiry', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('error: --lock-expiry: expected a duration like 90s, 15m or 1h30m, got "0"');
    const giveUp = await migrate('held', ['--give-up-after', 'soon']);
    expect(giveUp.code).toBe(2);
    expect(giveUp.stderr).toContain('error: --give-up-after: expected a duration like 90s, 15m or 1h30m (0 = never give up), got "soon"');
    expect(await control.requests()).toEqual([]);
  });
});

describe('images migrate: the lock, odd cases', () => {
  it('--state-dir pointing at a file: exit 2 naming the flag, before any request (dry run too)', async () => {
    await writeFile(path.join(dir, 'state-file'), 'x');
    await control.clearRequests();
    for (const extra of [[], ['--dry-run']]) {
      const r = await runInProcess(['images', 'migrate', 'media', '--bucket', 'held', '--endpoint-url', endpoint, '--state-dir', 'state-file', '--yes', ...extra], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('error: --state-dir state-file: state-file is a file, not a directory');
    }
    expect(await control.requests()).toEqual([]);
  });

  it('the lock DELETE failing on an otherwise good run: exit 0, a warning with the key and expiry, and --json says lock.released false', async () => {
    await control.fault({ service: 's3', method: 'DELETE', path: `^/unreleased/catalog/\\${LOCK}`, times: 0, status: 500, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>' });
    let r;
    try {
      r = await migrate('unreleased', ['--json']);
    } finally {
      await control.clearFaults();
    }
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.lock).toEqual({ released: false, key: `catalog/${LOCK}`, expiresAt: (await lockBody('unreleased'))!.expiresAt });
    expect(r.stderr).toMatch(/warning: could not remove the lock s3:\/\/unreleased\/catalog\/\.retailctl-lock \(InternalError[^\n]*\): it expires at \d{4}-/);
    await s3.send(new DeleteObjectCommand({ Bucket: 'unreleased', Key: `catalog/${LOCK}` }));
    const again = await migrate('unreleased', ['--json']);
    expect(JSON.parse(again.stdout).lock).toEqual({ released: true, key: `catalog/${LOCK}` });
  });

  it('a lock whose body cannot be read counts as held, even with --break-lock, and the message says how to delete it by hand', async () => {
    const etag = (await s3.send(new PutObjectCommand({ Bucket: 'garbage', Key: `catalog/${LOCK}`, Body: '{"holder":"x"}' }))).ETag!;
    await control.clearRequests();
    for (const extra of [[], ['--break-lock']]) {
      const r = await migrate('garbage', extra);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('error: s3://garbage/catalog/.retailctl-lock is held by an unreadable lock ({"holder":"x"}): it counts as held');
      expect(r.stderr).toContain('hint: if no run of retailctl images migrate holds it (it is garbage), delete it by hand: aws s3 rm s3://garbage/catalog/.retailctl-lock');
    }
    expect(await imagePuts()).toBe(0);
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'garbage', Key: `catalog/${LOCK}` }))).ETag).toBe(etag);
  });

  it('a lock above or below the prefix (nested prefixes): the run warns naming it, and goes on', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'nested', Key: LOCK, Body: '{}' }));
    await s3.send(new PutObjectCommand({ Bucket: 'nested', Key: `catalog/eu/${LOCK}`, Body: '{}' }));
    const r = await migrate('nested', ['--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: s3://nested/.retailctl-lock is the lock of another images migrate on a nested prefix');
    expect(r.stderr).toContain('warning: s3://nested/catalog/eu/.retailctl-lock is the lock of another images migrate on a nested prefix');
    expect(JSON.parse(r.stdout).counts).toMatchObject({ uploaded: FILES, failed: 0 });
  });
});

describe('images migrate: a manifest that cannot be written', () => {
  it('is exit 2 naming --manifest before the lock is taken and before any upload (not a failure after the uploads, which lost the record of them)', async () => {
    await writeFile(path.join(dir, 'not-a-dir'), 'x');
    await control.clearRequests();
    const r = await migrate('manifest', ['--manifest', 'not-a-dir/images.csv']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error: --manifest not-a-dir\/images\.csv: .*not-a-dir is not a directory/);
    expect((await control.requests()).filter((q) => q.service === 's3')).toEqual([]);
    expect(await images('manifest')).toHaveLength(0);
    expect(await lockBody('manifest')).toBeUndefined();
    expect(existsSync(path.join(dir, 'state-manifest', 'images', 'manifest@catalog.lock'))).toBe(false);
  });
});

const sha256 = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
async function bytesOf(bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

describe('images migrate: multipart uploads under the lock', () => {
  it('the lock taken over while a multipart upload is being created: no part nor Complete is sent after that, the upload is aborted, the newer object stays, exit 1 and the counts say it was not uploaded', async () => {
    const bucket = 'mp-lost';
    // CreateMultipartUpload takes 3 s: the lock changes hands meanwhile
    await control.fault({ service: 's3', method: 'POST', path: `^/${bucket}/catalog/a-big\\.jpg\\?uploads`, times: 1, delayMs: 3000, forward: true });
    await control.clearRequests();
    const running = migrate(bucket, ['--lock-expiry', '2s', '--concurrency', '2', '--json'], realClock, 'big');
    const newer = png(3000, 999);
    let takenAt = 0;
    try {
      await until(async () => (await control.requests()).some((r) => r.method === 'POST' && r.path.includes('a-big.jpg?uploads')));
      // another run (its lock expired meanwhile, say) holds the lock now and has written the object
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `catalog/${LOCK}`, Body: JSON.stringify({ holder: 'newer', host: 'other-host', pid: 7, startedAt: new Date().toISOString(), expiresAt: '2099-01-01T00:00:00.000Z', command: 'x', runId: 'newer' }) }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'catalog/a-big.jpg', Body: newer }));
      takenAt = (await control.requests()).length;
    } finally {
      await running.catch(() => {});
      await control.clearFaults();
    }
    const r = await running;
    await new Promise((res) => setTimeout(res, 500));
    expect(sha256(await bytesOf(bucket, 'catalog/a-big.jpg'))).toBe(sha256(newer)); // not overwritten by the run that lost its lock
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`error: lost the lock s3://${bucket}/catalog/.retailctl-lock: it is now held by newer on other-host (pid 7)`);
    expect(r.stderr).toContain('multipart uploads in progress were aborted');
    const after = (await control.requests()).slice(takenAt).filter((q) => q.path.includes('a-big.jpg') && (q.method === 'PUT' || q.method === 'POST'));
    expect(after.map((q) => `${q.method} ${q.path}`)).toEqual([]); // no UploadPart, no CompleteMultipartUpload
    expect(sha256(await bytesOf(bucket, 'catalog/a-big.jpg'))).toBe(sha256(newer));
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
    const doc = JSON.parse(r.stdout);
    expect(doc.counts.uploaded).toBe((await journalKeys(bucket)).length);
    expect(await journalKeys(bucket)).not.toContain('catalog/a-big.jpg');
    expect(doc.notStarted).toBeGreaterThanOrEqual(1);
    expect(doc.lock).toMatchObject({ key: `catalog/${LOCK}` });
  }, 60_000);

  it('an UploadPart that never answers trips the breaker: exit 1 "S3 unreachable" soon after --give-up-after 2s, the upload aborted, the lock released and in --json', async () => {
    const bucket = 'mp-hung';
    await control.fault({ service: 's3', method: 'PUT', path: `^/${bucket}/catalog/a-big\\.jpg\\?partNumber=`, times: 0, delayMs: 600_000 });
    const started = Date.now();
    let r;
    try {
      r = await migrate(bucket, ['--give-up-after', '2s', '--concurrency', '2', '--json'], realClock, 'big');
    } finally {
      await control.clearFaults();
    }
    expect(r.code, r.stderr).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.stderr).toMatch(/error: S3 unreachable since \S+ \(/);
    const doc = JSON.parse(r.stdout);
    expect(doc.lock).toEqual({ released: true, key: `catalog/${LOCK}` });
    expect(await lockBody(bucket)).toBeUndefined();
    expect(await images(bucket)).not.toContain('catalog/a-big.jpg');
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
  }, 40_000);
});

describe('images migrate: a CompleteMultipartUpload slower than the lock allows', () => {
  it('is cut at a quarter of --lock-expiry and reported as that (not as an interruption): exit 4, the upload aborted, and the rerun with a longer expiry uploads it', async () => {
    const bucket = 'mp-slow';
    // CompleteMultipartUpload (POST ?uploadId=) answers after 3 s; --lock-expiry 2s lets a write live 0.5 s
    await control.fault({ service: 's3', method: 'POST', path: `^/${bucket}/catalog/a-big\\.jpg\\?uploadId=`, times: 1, delayMs: 3000, forward: true });
    let r;
    try {
      r = await migrate(bucket, ['--lock-expiry', '2s', '--concurrency', '2', '--json'], realClock, 'big');
    } finally {
      await control.clearFaults();
    }
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('CompleteMultipartUpload got no answer within 0.50 s, the longest a write may live under the run\'s lock');
    expect(r.stderr).not.toContain('interrupted');
    const doc = JSON.parse(r.stdout);
    expect(doc.counts.failed).toBe(1);
    expect(doc.counts.uploaded).toBe(5);
    // the held Complete was forwarded late and may have landed: either way no part is left behind
    await until(async () => ((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).length === 0, 10_000);
    const again = await migrate(bucket, ['--lock-expiry', '1m', '--json'], realClock, 'big');
    expect(again.code, again.stderr).toBe(0);
    expect(sha256(await bytesOf(bucket, 'catalog/a-big.jpg'))).toBe(sha256(await readFile(path.join(dir, 'big', 'a-big.jpg'))));
  }, 60_000);
});

describe('images migrate: a write that outlives the lock', () => {
  it('a PUT held in transit while the lock is lost and taken over is destroyed before the lock expires: it never lands over the newer run\'s object', async () => {
    const bucket = 'late';
    // i05.png's first PUT is held 9 s on the way; the others take 300 ms
    await control.fault({ service: 's3', method: 'PUT', path: `^/${bucket}/catalog/i05\\.png`, times: 1, delayMs: 9000, forward: true, inTransit: true });
    await slowImagePuts(bucket, 300);
    const running = migrate(bucket, ['--lock-expiry', '4s', '--concurrency', '4'], realClock);
    const newer = png(4000, 555);
    try {
      await until(async () => (await control.requests()).some((q) => q.path.includes('i05.png')));
      const heldSince = Date.now();
      // every write of the lock fails from now on: the run loses it, and it expires on S3
      await control.fault({ service: 's3', method: 'PUT', path: `^/${bucket}/catalog/\\${LOCK}`, times: 0, status: 500, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>InternalError</Code></Error>' });
      await new Promise((res) => setTimeout(res, 5500));
      // another run broke the expired lock and wrote the object
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'catalog/i05.png', Body: newer }));
      await new Promise((res) => setTimeout(res, Math.max(0, heldSince + 10_000 - Date.now()))); // the held PUT would have landed by now
    } finally {
      await running.catch(() => {});
      await control.clearFaults();
    }
    const r = await running;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`error: lost the lock s3://${bucket}/catalog/.retailctl-lock`);
    expect(sha256(await bytesOf(bucket, 'catalog/i05.png'))).toBe(sha256(newer));
  }, 60_000);
});

describe('images migrate: a refresh whose answer is lost, then a failed read of the lock', () => {
  it('is not "the lock was deleted": the read is retried, the lock (still ours) adopted, the run completes (exit 0) and removes both locks', async () => {
    const bucket = 'unconfirmed';
    await slowImagePuts(bucket, 150);
    const running = migrate(bucket, ['--lock-expiry', '4s', '--concurrency', '2', '--json'], realClock);
    try {
      await until(async () => (await images(bucket)).length >= 3);
      await control.fault({ service: 's3', method: 'PUT', path: `^/${bucket}/catalog/\\${LOCK}`, times: 1, loseAnswer: true });
      await control.fault({ service: 's3', method: 'GET', path: `^/${bucket}/catalog/\\${LOCK}`, times: 3, status: 500, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>InternalError</Code></Error>' });
    } finally {
      await running.catch(() => {});
      await control.clearFaults();
    }
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('lost the lock');
    expect(JSON.parse(r.stdout).counts).toMatchObject({ uploaded: FILES, failed: 0 });
    expect(JSON.parse(r.stdout).lock).toEqual({ released: true, key: `catalog/${LOCK}` });
    expect(await lockBody(bucket)).toBeUndefined();
    expect(existsSync(path.join(dir, `state-${bucket}`, 'images', `${bucket}@catalog.lock`))).toBe(false);
  }, 60_000);
});
