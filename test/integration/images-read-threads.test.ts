/**
 * images migrate with a reader thread (RETAILCTL_READ_THREADS=1) against moto through the shim:
 * every object is byte-identical to its file, with the SHA-256 its file has (the buffers the thread
 * reads into are given back and read into again, so a mix-up would show as another file's bytes),
 * and a rerun without the journal compares by MD5 read in the thread and uploads nothing.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpeg, png } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const COUNT = 90;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
const files = new Map<string, Buffer>();

const migrate = (extra: string[]) => runInProcess(['images', 'migrate', 'media', '--bucket', 'read-threads', '--concurrency', '16', '--yes', '--json', '--endpoint-url', endpoint, ...extra], { env: { CI: 'true', AWS_REGION: 'us-east-1', RETAILCTL_READ_THREADS: '1' }, cwd: dir });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-read-threads-'));
  for (let i = 0; i < COUNT; i++) {
    // sizes that grow and shrink, so recycled buffers are reused for smaller and larger files
    const rel = `d${i % 5}/${String(i).padStart(3, '0')}.${i % 2 ? 'png' : 'jpg'}`;
    const size = 2000 + ((i * 7919) % 90_000);
    const bytes = i % 2 ? png(size, i + 1) : jpeg(size, i + 1);
    files.set(rel, bytes);
    await mkdir(path.join(dir, 'media', path.dirname(rel)), { recursive: true });
    await writeFile(path.join(dir, 'media', rel), bytes);
  }
  await s3.send(new CreateBucketCommand({ Bucket: 'read-threads' }));
});

describe('images migrate, files read by a reader thread', () => {
  it('uploads every file byte-identical, with its own SHA-256 in the manifest', async () => {
    const res = await migrate(['--manifest', 'out/manifest.csv']);
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: COUNT, failed: 0 });
    const manifest = await readFile(path.join(dir, 'out/manifest.csv'), 'utf8');
    for (const [rel, bytes] of files) {
      const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'read-threads', Key: rel }))).Body!.transformToByteArray());
      expect(sha(got), rel).toBe(sha(bytes));
      expect(manifest).toContain(`${rel},${rel},,${bytes.length},${sha(bytes)},`);
    }
  });

  it('a rerun without the journal compares each file by the MD5 the thread computed: nothing uploaded', async () => {
    await rm(path.join(dir, '.retailctl'), { recursive: true, force: true });
    await control.clearRequests();
    const res = await migrate([]);
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: 0, skipped: COUNT });
    expect((await control.requests()).filter((r) => r.method === 'PUT' && !r.path.includes('.retailctl-lock'))).toEqual([]);
  });

  it('RETAILCTL_READ_THREADS that is not 0 to 16 is exit 2 before any request', async () => {
    const res = await runInProcess(['images', 'migrate', 'media', '--bucket', 'read-threads', '--yes', '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1', RETAILCTL_READ_THREADS: 'many' }, cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('RETAILCTL_READ_THREADS=many: expected 0 to 16');
  });
});
