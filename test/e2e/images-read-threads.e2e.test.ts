/**
 * images migrate of a tree big enough for the reader threads (100 files), through the built binary:
 * SIGINT in the middle lets the uploads in flight finish and exits 130; SIGKILL leaves what was
 * uploaded; each time the same command finishes the job, every object byte-identical to its file.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpeg } from '../support/images.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const COUNT = 100;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const files = new Map<string, Buffer>();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-read-threads-e2e-'));
  for (let i = 0; i < COUNT; i++) {
    const rel = `d${i % 4}/${String(i).padStart(3, '0')}.jpg`;
    const bytes = jpeg(1500 + ((i * 4111) % 30_000), i + 1);
    files.set(rel, bytes);
    await mkdir(path.join(dir, 'media', path.dirname(rel)), { recursive: true });
    await writeFile(path.join(dir, 'media', rel), bytes);
  }
  for (const b of ['threads-int', 'threads-kill']) await s3.send(new CreateBucketCommand({ Bucket: b }));
});

const migrate = (bucket: string) => ['images', 'migrate', 'media', '--bucket', bucket, '--concurrency', '4', '--lock-expiry', '2s', '--state-dir', `.state-${bucket}`, '--yes', '--json'];
const run = (args: string[], extra: Parameters<typeof spawnCli>[1] = {}) => spawnCli(args, { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env, RETAILCTL_READ_THREADS: '2' }, ...extra });
const keys = async (bucket: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).filter((k) => !k.endsWith('.retailctl-lock'));

async function sameBytes(bucket: string): Promise<void> {
  for (const [rel, bytes] of files) {
    const got = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: rel }))).Body!.transformToByteArray();
    expect(sha(got), rel).toBe(sha(bytes));
  }
}

describe('images migrate with reader threads, interrupted and rerun', () => {
  it.each([
    ['SIGINT', 'threads-int', 130],
    ['SIGKILL', 'threads-kill', null],
  ] as const)('%s in the middle: the rerun finishes, every object byte-identical', async (signal, bucket, code) => {
    await control.fault({ service: 's3', method: 'PUT', path: `/${bucket}/d`, times: 0, delayMs: 40, forward: true });
    let stopped;
    try {
      stopped = await run(migrate(bucket), { signalWhen: async () => (await keys(bucket)).length >= 10, whenSignal: signal });
    } finally {
      await control.clearFaults();
    }
    expect(stopped.code).toBe(code);
    expect((await keys(bucket)).length).toBeLessThan(COUNT);
    if (signal === 'SIGKILL') await new Promise((r) => setTimeout(r, 4500)); // the killed run's lock expires
    const rerun = await run(migrate(bucket));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await keys(bucket)).toHaveLength(COUNT);
    await sameBytes(bucket);
  });
});
