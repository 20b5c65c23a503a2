/**
 * images migrate through the built binary, as CI runs it: killed with SIGKILL in the middle of a
 * run (a multipart upload in flight), then rerun to completion; an unreadable file among readable
 * ones (exit 4, the rest uploaded, the manifest says which and why); two runs at once on one bucket
 * and prefix (one uploads, the other is refused by the lock); Ctrl-C and SIGTERM removing the lock.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpeg, png } from '../support/images.js';
import { BIN, spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const sha = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-e2e-'));
  await chmod(dir, 0o777);
  for (const b of ['killed', 'unreadable']) await s3.send(new CreateBucketCommand({ Bucket: b }));
});

const LOCK = '.retailctl-lock';

/** The images in a bucket (the run's lock object, `<prefix>.retailctl-lock`, is not one). */
async function listAll(bucket: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (!o.Key!.endsWith(LOCK)) out.set(o.Key!, o.Size!);
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

/** The lock object's body under `prefix` (undefined when there is none). */
async function lockOf(bucket: string, prefix = ''): Promise<Record<string, unknown> | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${LOCK}` }));
    return JSON.parse(await got.Body!.transformToString()) as Record<string, unknown>;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

const pendingUploads = async (bucket: string) => (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];

describe('images migrate, killed and rerun', () => {
  it('SIGKILL mid-run (a multipart upload in flight), then the same command: every object present and byte-identical, no upload left open, nothing uploaded twice', async () => {
    const src = path.join(dir, 'media');
    const tree: Record<string, Buffer> = { 'a-hero.jpg': jpeg(40 * 1024 * 1024, 1) };
    for (let i = 0; i < 120; i++) tree[`p/${String(i).padStart(3, '0')}.png`] = png(2000 + i * 10, i + 2);
    for (const [rel, b] of Object.entries(tree)) {
      await mkdir(path.dirname(path.join(src, rel)), { recursive: true });
      await writeFile(path.join(src, rel), b);
    }
    // every S3 PUT (objects and parts) takes 60 ms longer: slow enough to kill the run half-way
    await control.fault({ service: 's3', method: 'PUT', times: 0, delayMs: 60, forward: true });
    // 6 s: refreshed every 1.5 s, so the killed run's lock is still live ≥ 4.5 s after the kill, well past
    // the early rerun below even on a slow runner (with 2 s the early rerun could already find it expired)
    const args = [BIN, 'images', 'migrate', 'media', '--bucket', 'killed', '--concurrency', '4', '--lock-expiry', '6s', '--yes'];
    const child = spawn(process.execPath, args, { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, CI: 'true', AWS_REGION: 'us-east-1', ...env }, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        if ((await pendingUploads('killed')).length > 0 && (await listAll('killed')).size >= 10) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
    } finally {
      await control.clearFaults();
    }
    // requests the killed process had already sent still land (the shim forwards them): let them settle
    await new Promise((r) => setTimeout(r, 1000));
    const killedAt = Date.now();
    const before = await listAll('killed');
    expect(before.size).toBeGreaterThanOrEqual(10);
    expect(before.size).toBeLessThan(121);
    expect(before.has('a-hero.jpg')).toBe(false);
    expect(await pendingUploads('killed')).toHaveLength(1); // what the killed run left behind
    expect(await lockOf('killed')).toMatchObject({ command: expect.stringContaining('images migrate media --bucket killed') }); // kill -9 leaves the lock

    // a pid that is gone proves nothing (it may run in another PID namespace): the rerun is refused
    // until the killed run's lock has gone unrefreshed for its expiry (6 s)
    const early = await spawnCli(['images', 'migrate', 'media', '--bucket', 'killed', '--lock-expiry', '6s', '--yes'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } });
    expect(early.code, early.stderr).toBe(1);
    expect(early.stderr).toContain('it may run in another PID namespace');
    // expired on S3's clock: its last write (at the kill at the latest, a second before killedAt) + 6 s,
    // + up to 2 s for Last-Modified's and Date's whole seconds
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 8000 - Date.now())));
    // the killed run's own expiry (6 s) decides when its lock may be taken over; the rerun holds a
    // longer one so a 40 MB CompleteMultipartUpload on a busy machine is not cut short by its lock
    const rerun = await spawnCli(['images', 'migrate', 'media', '--bucket', 'killed', '--concurrency', '4', '--lock-expiry', '30s', '--yes', '--json'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } });
    expect(rerun.code, rerun.stderr).toBe(0);
    const doc = JSON.parse(rerun.stdout);
    expect(doc.counts.failed).toBe(0);
    expect(doc.counts.uploaded).toBe(121 - before.size); // completed objects were not uploaded again
    expect(doc.counts.skipped).toBe(before.size);
    expect(rerun.stderr).toContain('aborted an unfinished multipart upload of a-hero.jpg (from an interrupted run)');
    // the same state directory: the expired lock of the killed run is taken over without --break-lock
    expect(rerun.stderr).toMatch(/s3:\/\/killed\/\.retailctl-lock: took over the lock of an earlier run from this host \(pid \d+, no longer running: the lock expired at /);
    expect(await lockOf('killed')).toBeUndefined();

    const after = await listAll('killed');
    expect([...after.keys()].sort()).toEqual(Object.keys(tree).sort());
    for (const [rel, b] of Object.entries(tree)) {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'killed', Key: rel }));
      expect(sha(await got.Body!.transformToByteArray()), rel).toBe(sha(b));
    }
    expect(await pendingUploads('killed')).toEqual([]);
  }, 120_000);
});

describe('images migrate, Ctrl-C', () => {
  it('SIGINT stops the run with exit 130 and no stack trace; the same command then finishes the job', async () => {
    const src = path.join(dir, 'interrupted');
    for (let i = 0; i < 60; i++) {
      await mkdir(src, { recursive: true });
      await writeFile(path.join(src, `i${String(i).padStart(2, '0')}.png`), png(1500 + i, i + 7));
    }
    await s3.send(new CreateBucketCommand({ Bucket: 'interrupted' }));
    await control.fault({ service: 's3', method: 'PUT', times: 0, delayMs: 100, forward: true });
    let first;
    try {
      first = await spawnCli(['images', 'migrate', 'interrupted', '--bucket', 'interrupted', '--concurrency', '2', '--yes'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env }, signalAfterMs: 1200 });
    } finally {
      await control.clearFaults();
    }
    expect(first.code).toBe(130);
    expect(first.stderr).not.toMatch(/\n\s+at /);
    await new Promise((r) => setTimeout(r, 500)); // requests already sent still land through the shim
    const partial = (await listAll('interrupted')).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(60);
    const second = await spawnCli(['images', 'migrate', 'interrupted', '--bucket', 'interrupted', '--yes', '--json'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } });
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).counts).toMatchObject({ failed: 0, skipped: partial, uploaded: 60 - partial });
    expect((await listAll('interrupted')).size).toBe(60);
  });
});

describe('images migrate, Ctrl-C while uploads are on the wire', () => {
  it('lets the uploads already sent finish and journals them (none abandoned); the rerun uploads only the rest', async () => {
    const src = path.join(dir, 'inflight');
    await mkdir(src, { recursive: true });
    for (let i = 0; i < 12; i++) await writeFile(path.join(src, `f${String(i).padStart(2, '0')}.png`), png(1200 + i, i + 3));
    await s3.send(new CreateBucketCommand({ Bucket: 'inflight' }));
    // S3 answers each image PUT after 2 s (the lock PUT is not held)
    await control.fault({ service: 's3', method: 'PUT', path: '^/inflight/f', times: 0, delayMs: 2000, forward: true });
    const started = Date.now();
    let first;
    try {
      first = await spawnCli(['images', 'migrate', 'inflight', '--bucket', 'inflight', '--concurrency', '3', '--yes'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env }, signalAfterMs: 1000 });
    } finally {
      await control.clearFaults();
    }
    expect(first.code).toBe(130);
    // it waited for the PUTs that were on the wire instead of dropping them
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    const inBucket = [...(await listAll('inflight')).keys()].sort();
    expect(inBucket.length).toBeGreaterThanOrEqual(3);
    const journal = (await readFile(path.join(dir, '.retailctl', 'images', 'inflight.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key);
    expect([...new Set(journal)].sort()).toEqual(inBucket);
    expect(await lockOf('inflight')).toBeUndefined();
    await control.clearRequests();
    const second = await spawnCli(['images', 'migrate', 'inflight', '--bucket', 'inflight', '--yes', '--json'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } });
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).counts).toMatchObject({ failed: 0, skipped: inBucket.length, uploaded: 12 - inBucket.length });
  });
});

describe('images migrate, an unreadable file', () => {
  it('is reported with its reason, the rest are uploaded, exit 4; a rerun after fixing it uploads only that one', async () => {
    const root = os.userInfo().uid === 0;
    const src = path.join(dir, 'shop');
    await mkdir(src, { recursive: true });
    await chmod(src, 0o755);
    const good = { 'a.jpg': jpeg(900, 1), 'c.png': png(900, 3) };
    for (const [rel, b] of Object.entries(good)) await writeFile(path.join(src, rel), b, { mode: 0o644 });
    await writeFile(path.join(src, 'b.jpg'), jpeg(900, 2), { mode: 0o000 });
    // root reads anything: run the binary as `nobody` then, so the permission really applies
    const asUser = root ? { uid: 65534, gid: 65534 } : {};
    const run = () =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, 'images', 'migrate', 'shop', '--bucket', 'unreadable', '--manifest', 'manifest.json', '--state-dir', 'state-unreadable', '--yes', '--json'], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '', HOME: dir, CI: 'true', AWS_REGION: 'us-east-1', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
          ...asUser,
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const first = await run();
    expect(first.code, first.stderr).toBe(4);
    expect(first.stderr).toContain('warning: failed: b.jpg → b.jpg: cannot read b.jpg: permission denied');
    expect(first.stdout).toContain('"failed": 1');
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { source: string; status: string; reason: string | null }[];
    expect(manifest.map((m) => [m.source, m.status, m.reason])).toEqual([
      ['a.jpg', 'uploaded', null],
      ['b.jpg', 'failed', 'cannot read b.jpg: permission denied'],
      ['c.png', 'uploaded', null],
    ]);
    expect([...(await listAll('unreadable')).keys()].sort()).toEqual(['a.jpg', 'c.png']);

    await chmod(path.join(src, 'b.jpg'), 0o644);
    await control.clearRequests();
    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).counts).toEqual({ uploaded: 1, skipped: 2, failed: 0, missing: 0, empty: 0, symlinks: 0 });
    expect((await control.requests()).filter((r) => r.method === 'PUT' && !r.path.endsWith(LOCK))).toHaveLength(1);
  });
});

/** `count` small PNGs in `dir/name`. */
async function pngTree(name: string, count: number): Promise<void> {
  await mkdir(path.join(dir, name), { recursive: true });
  for (let i = 0; i < count; i++) await writeFile(path.join(dir, name, `i${String(i).padStart(2, '0')}.png`), png(1500 + i, i + 11));
}

describe('images migrate, two runs at once', () => {
  it('on the same bucket and prefix from two machines: exactly one uploads; the other exits 1 naming the holder and sends no image PUT; then the lock is gone and a rerun works', async () => {
    await pngTree('twice', 40);
    await s3.send(new CreateBucketCommand({ Bucket: 'twice' }));
    // each image PUT takes 60 ms longer, so the first run is still uploading when the second asks for the lock
    await control.fault({ service: 's3', method: 'PUT', path: '^/twice/catalog/i', times: 0, delayMs: 60, forward: true });
    await control.clearRequests();
    // two machines: their own state directories, their own credentials (told apart in the shim's log)
    const run = (who: string) => spawnCli(['images', 'migrate', 'twice', '--bucket', 'twice', '--prefix', 'catalog', '--concurrency', '2', '--state-dir', `state-${who}`, '--yes', '--json'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env, AWS_ACCESS_KEY_ID: `testing-${who}` } });
    let a, b;
    try {
      [a, b] = await Promise.all([run('a'), run('b')]);
    } finally {
      await control.clearFaults();
    }
    expect([a.code, b.code].sort(), `${a.stderr}\n${b.stderr}`).toEqual([0, 1]);
    const [winner, loser, loserKey] = a.code === 0 ? [a, b, 'testing-b'] : [b, a, 'testing-a'];
    expect(JSON.parse(winner.stdout).counts).toMatchObject({ uploaded: 40, failed: 0 });
    expect(loser.stderr).toMatch(/error: s3:\/\/twice\/catalog\/\.retailctl-lock is held by \S+ on \S+ \(pid \d+\) since \d{4}-[\d-]+T[\d:.]+Z, expires \d{4}-[\d-]+T[\d:.]+Z: another images migrate runs on this bucket and prefix; nothing was uploaded/);
    expect(loser.stderr).toContain('rerun with --break-lock after');
    expect(JSON.parse(loser.stdout).error.code).toBe('IMAGES_LOCKED');
    const writes = (await control.requests()).filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
    // the refused run's only write was its attempt to create the lock
    expect(writes.filter((r) => r.accessKeyId === loserKey).map((r) => `${r.method} ${r.path}`)).toEqual([`PUT /twice/catalog/${LOCK}`]);
    expect(writes.filter((r) => r.method === 'PUT' && !r.path.endsWith(LOCK))).toHaveLength(40);
    expect(await lockOf('twice', 'catalog/')).toBeUndefined();
    expect((await listAll('twice')).size).toBe(40);

    const again = await run('b');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ uploaded: 0, skipped: 40 });
  }, 60_000);

  it('from one state directory: the second is refused by the local lock before any request, naming the pid', async () => {
    await pngTree('local', 30);
    await s3.send(new CreateBucketCommand({ Bucket: 'local' }));
    await control.fault({ service: 's3', method: 'PUT', path: '^/local/i', times: 0, delayMs: 60, forward: true });
    const args = ['images', 'migrate', 'local', '--bucket', 'local', '--concurrency', '2', '--state-dir', 'state-local', '--yes'];
    try {
      const first = spawnCli(args, { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env, AWS_ACCESS_KEY_ID: 'testing-first' } });
      const lockFile = path.join(dir, 'state-local', 'images', 'local.lock');
      const deadline = Date.now() + 20_000;
      while (!existsSync(lockFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await control.clearRequests();
      const second = await spawnCli(args, { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env, AWS_ACCESS_KEY_ID: 'testing-second' } });
      expect(second.code, second.stderr).toBe(1);
      expect(second.stderr).toMatch(/error: state-local\/images\/local\.lock is held by pid \d+ on \S+ since \S+: another images migrate to s3:\/\/local\/ runs from this state directory; nothing was uploaded/);
      expect((await control.requests()).filter((r) => r.accessKeyId === 'testing-second')).toEqual([]);
      expect((await first).code).toBe(0);
      expect(existsSync(lockFile)).toBe(false);
    } finally {
      await control.clearFaults();
    }
  }, 60_000);
});

describe('images migrate, Ctrl-C and SIGTERM release the lock', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s mid-run: exit 130, the lock object and the local lock file are gone, the rerun finishes', async (signal) => {
    const bucket = `stop-${signal.toLowerCase()}`;
    await pngTree(bucket, 60);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await control.fault({ service: 's3', method: 'PUT', path: `^/${bucket}/i`, times: 0, delayMs: 100, forward: true });
    const localLock = path.join(dir, `state-${bucket}`, 'images', `${bucket}.lock`);
    const args = [BIN, 'images', 'migrate', bucket, '--bucket', bucket, '--concurrency', '2', '--state-dir', `state-${bucket}`, '--yes'];
    const child = spawn(process.execPath, args, { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, CI: 'true', AWS_REGION: 'us-east-1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      // while it uploads, both locks are held
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !((await listAll(bucket)).size >= 3 && (await lockOf(bucket)) && existsSync(localLock))) await new Promise((r) => setTimeout(r, 25));
      expect(await lockOf(bucket)).toMatchObject({ pid: child.pid });
      expect(existsSync(localLock)).toBe(true);
      child.kill(signal);
      expect(await exited, stderr).toBe(130);
    } finally {
      await control.clearFaults();
    }
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(await lockOf(bucket)).toBeUndefined();
    expect(existsSync(localLock)).toBe(false);
    await new Promise((r) => setTimeout(r, 300)); // requests already sent still land through the shim
    const partial = (await listAll(bucket)).size;
    expect(partial).toBeLessThan(60);
    const rerun = await spawnCli(['images', 'migrate', bucket, '--bucket', bucket, '--state-dir', `state-${bucket}`, '--yes', '--json'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).not.toContain('took over'); // nothing was left to take over
    expect(JSON.parse(rerun.stdout).counts).toMatchObject({ failed: 0, skipped: partial, uploaded: 60 - partial });
    expect((await listAll(bucket)).size).toBe(60);
  }, 60_000);
});

describe('images migrate, paused past its lock expiry', () => {
  it('SIGSTOP longer than --lock-expiry, another run breaks the lock and uploads, SIGCONT: the paused run sends no upload after the break, exits 1 "lost the lock", and the bucket holds the second run\'s bytes', async () => {
    const bucket = 'paused';
    await pngTree('paused-a', 40);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    // every image PUT takes 200 ms longer, so both runs are mid-way when they overlap
    await control.fault({ service: 's3', method: 'PUT', path: `^/${bucket}/catalog/i`, times: 0, delayMs: 200, forward: true });
    await control.clearRequests();
    const args = (src: string, who: string, more: string[] = []) => ['images', 'migrate', src, '--bucket', bucket, '--prefix', 'catalog', '--concurrency', '2', '--lock-expiry', '2s', '--state-dir', `state-${bucket}-${who}`, '--yes', '--json', ...more];
    const envOf = (who: string) => ({ PATH: process.env.PATH ?? '', HOME: dir, CI: 'true', AWS_REGION: 'us-east-1', ...env, AWS_ACCESS_KEY_ID: `testing-${who}` });
    const a = spawn(process.execPath, [BIN, ...args('paused-a', 'a')], { cwd: dir, env: envOf('a'), stdio: ['ignore', 'pipe', 'pipe'] });
    let aErr = '';
    a.stderr!.on('data', (c: Buffer) => (aErr += c.toString()));
    a.stdout!.resume();
    const aExit = new Promise<number | null>((resolve) => a.on('close', (code) => resolve(code)));
    let b;
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && (await listAll(bucket)).size < 6) await new Promise((r) => setTimeout(r, 25));
      a.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 500)); // what it had on the wire lands
      // the second run's source: the same bytes for what is in the bucket, new bytes for the rest
      const landed = await listAll(bucket);
      await mkdir(path.join(dir, 'paused-b'), { recursive: true });
      for (let i = 0; i < 40; i++) {
        const name = `i${String(i).padStart(2, '0')}.png`;
        await writeFile(path.join(dir, 'paused-b', name), landed.has(`catalog/${name}`) ? await readFile(path.join(dir, 'paused-a', name)) : png(1500 + i, i + 500));
      }
      await new Promise((r) => setTimeout(r, 3500)); // the paused run's lock expires (2 s after its last refresh)
      const second = spawnCli(args('paused-b', 'b', ['--break-lock', '--manifest', 'paused-b.csv']), { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env, AWS_ACCESS_KEY_ID: 'testing-b' } });
      // resume the paused run once the second has uploaded a few objects
      const resumeBy = Date.now() + 30_000;
      while (Date.now() < resumeBy && (await control.requests()).filter((r) => r.accessKeyId === 'testing-b' && r.method === 'PUT' && !r.path.endsWith(LOCK)).length < 6) await new Promise((r) => setTimeout(r, 25));
      a.kill('SIGCONT');
      b = await second;
      expect(await aExit, aErr).toBe(1);
    } finally {
      a.kill('SIGCONT');
      await control.clearFaults();
    }
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toContain(`s3://${bucket}/catalog/.retailctl-lock: broke the expired lock`);
    expect(aErr).toContain(`error: lost the lock s3://${bucket}/catalog/.retailctl-lock: it is now held by`);
    const log = await control.requests();
    const firstOfB = log.findIndex((r) => r.accessKeyId === 'testing-b');
    const lateUploadsOfA = log.slice(firstOfB).filter((r) => r.accessKeyId === 'testing-a' && r.method === 'PUT' && !r.path.endsWith(LOCK));
    // SIGSTOP can freeze a PUT on its way out (at most --concurrency of them): it arrives after SIGCONT,
    // conditional, and must not replace the second run's bytes (verify below); no other upload follows
    expect(lateUploadsOfA.length, JSON.stringify(lateUploadsOfA.map((r) => r.path))).toBeLessThanOrEqual(2);
    const verify = await spawnCli(['images', 'verify', '--manifest', 'paused-b.csv'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 90_000);
});
