/**
 * images migrate through the built binary, as CI runs it: killed with SIGKILL in the middle of a
 * run (a multipart upload in flight), then rerun to completion; and an unreadable file among
 * readable ones (exit 4, the rest uploaded, the manifest says which and why).
 */
import { spawn } from 'node:child_process';
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

async function listAll(bucket: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.set(o.Key!, o.Size!);
    token = page.NextContinuationToken;
  } while (token);
  return out;
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
    const args = [BIN, 'images', 'migrate', 'media', '--bucket', 'killed', '--concurrency', '4', '--yes'];
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
    const before = await listAll('killed');
    expect(before.size).toBeGreaterThanOrEqual(10);
    expect(before.size).toBeLessThan(121);
    expect(before.has('a-hero.jpg')).toBe(false);
    expect(await pendingUploads('killed')).toHaveLength(1); // what the killed run left behind

    const rerun = await spawnCli(['images', 'migrate', 'media', '--bucket', 'killed', '--concurrency', '4', '--yes', '--json'], { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env } });
    expect(rerun.code, rerun.stderr).toBe(0);
    const doc = JSON.parse(rerun.stdout);
    expect(doc.counts.failed).toBe(0);
    expect(doc.counts.uploaded).toBe(121 - before.size); // completed objects were not uploaded again
    expect(doc.counts.skipped).toBe(before.size);
    expect(rerun.stderr).toContain('aborted an unfinished multipart upload of a-hero.jpg (from an interrupted run)');

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
    expect(JSON.parse(second.stdout).counts).toEqual({ uploaded: 1, skipped: 2, failed: 0, missing: 0 });
    expect((await control.requests()).filter((r) => r.method === 'PUT')).toHaveLength(1);
  });
});
