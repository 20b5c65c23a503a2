/**
 * images migrate --engine batch through the built binary: a kill (SIGKILL, then SIGINT) while the
 * S3 Batch Operations job runs leaves the job running, and the same command then follows that very
 * job to its end (no second job, one confirmation); two runs at once create one job; and a job
 * record that S3 refused to update after CreateJob (a failed side write) costs nothing: the rerun
 * finds the job by its ClientRequestToken.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jpeg } from '../support/images.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const N = 40;
let dir: string;
const ROLE = 'arn:aws:iam::123456789012:role/retailctl-batch';
const FUNCTION = 'arn:aws:lambda:us-east-1:123456789012:function:retailctl-batch-copy';

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-batch-e2e-'));
  await writeFile(path.join(dir, 'catalog.csv'), `image,sku,category\n${Array.from({ length: N }, (_, i) => `${String(i).padStart(3, '0')}.jpg,SKU-${i},Shoes > Running`).join('\n')}\n`);
  await writeFile(path.join(dir, 'retailctl.yaml'), `images:\n  batch:\n    roleArn: ${ROLE}\n    functionArn: ${FUNCTION}\n    pollInterval: 100ms\n`);
  for (const b of ['legacy-batch-e2e', 'batch-killed', 'batch-twice', 'batch-record', 'batch-int']) await s3.send(new CreateBucketCommand({ Bucket: b }));
  for (let i = 0; i < N; i++) await s3.send(new PutObjectCommand({ Bucket: 'legacy-batch-e2e', Key: `flat/${String(i).padStart(3, '0')}.jpg`, Body: jpeg(3000 + i, i + 1) }));
});

const migrate = (bucket: string, extra: string[] = []) => ['images', 'migrate', 's3://legacy-batch-e2e/flat/', '--bucket', bucket, '--catalog', 'catalog.csv', '--engine', 'batch', '--lock-expiry', '2s', '--yes', ...extra];
const jobsOf = async (bucket: string) => (await control.s3BatchJobs()).filter((j) => JSON.stringify(j.request).includes(`arn:aws:s3:::${bucket}/`));
const run = (args: string[], extra: Parameters<typeof spawnCli>[1] = {}) => spawnCli(args, { cwd: dir, env: { AWS_REGION: 'us-east-1', ...env }, ...extra });
async function until(what: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('images migrate --engine batch, killed and rerun', () => {
  it('SIGKILL while the job runs: the job goes on to the end, and the same command follows it (one job, one confirmation) and writes the manifest', async () => {
    await control.configure({ s3Batch: { tasksPerSecond: 20 } });
    try {
      const killed = await run(migrate('batch-killed', ['--state-dir', 'state-killed']), { signalWhen: async () => ((await jobsOf('batch-killed'))[0]?.succeeded ?? 0) >= 5, whenSignal: 'SIGKILL' });
      expect(killed.code, 'killed by the signal').toBeNull();
      const [job] = await jobsOf('batch-killed');
      expect(job!.status).toBe('Active');
      expect(job!.succeeded).toBeLessThan(N);
      await new Promise((r) => setTimeout(r, 5000)); // the killed run's lock expires
      const rerun = await run(migrate('batch-killed', ['--state-dir', 'state-killed', '--manifest', 'killed.csv', '--json']));
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stderr).toContain(`following S3 Batch Operations job ${job!.id}`);
      expect((JSON.parse(rerun.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: N, failed: 0 });
      const jobs = await jobsOf('batch-killed');
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ status: 'Complete', succeeded: N });
      expect(jobs[0]!.statusUpdates).toHaveLength(1);
      const rows = (await readFile(path.join(dir, 'killed.csv'), 'utf8')).trim().split('\n');
      expect(rows.filter((r) => r.includes(',uploaded,'))).toHaveLength(N);
    } finally {
      await control.configure({ s3Batch: {} });
    }
  });

  it('SIGINT while following: exit 130, the job is not cancelled, and the rerun reads its report', async () => {
    await control.configure({ s3Batch: { tasksPerSecond: 20 } });
    try {
      const interrupted = await run(migrate('batch-int', ['--state-dir', 'state-int']), { signalWhen: async () => ((await jobsOf('batch-int'))[0]?.succeeded ?? 0) >= 3 });
      expect(interrupted.code).toBe(130);
      expect(interrupted.stderr).toContain('goes on in S3 Batch Operations (retailctl only stopped following it)');
      const [job] = await jobsOf('batch-int');
      expect(job!.statusUpdates.filter((u) => u.startsWith('Cancelled'))).toEqual([]);
      await until(async () => (await jobsOf('batch-int'))[0]!.status === 'Complete');
      await new Promise((r) => setTimeout(r, 2500));
      const rerun = await run(migrate('batch-int', ['--state-dir', 'state-int', '--json']));
      expect(rerun.code, rerun.stderr).toBe(0);
      expect((JSON.parse(rerun.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: N });
      expect(await jobsOf('batch-int')).toHaveLength(1);
    } finally {
      await control.configure({ s3Batch: {} });
    }
  });

  it('two runs at once create one job: the second is refused by the lock (exit 1)', async () => {
    const [a, b] = await Promise.all([run(migrate('batch-twice', ['--state-dir', 'state-a'])), run(migrate('batch-twice', ['--state-dir', 'state-b']))]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    expect([a, b].find((r) => r.code === 1)!.stderr).toMatch(/lock/i);
    expect(await jobsOf('batch-twice')).toHaveLength(1);
  });

  it('the job record refused after CreateJob: the run fails, the rerun finds the job by its token (no second job)', async () => {
    // the second write of job.json (the one naming the job) is refused by S3
    await control.fault({ service: 's3', method: 'PUT', path: '/batch-record/.*job\\.json', every: 2, times: 1, status: 403, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>' });
    let failed;
    try {
      failed = await run(migrate('batch-record', ['--state-dir', 'state-record']));
    } finally {
      await control.clearFaults();
    }
    expect(failed.code).toBe(1);
    const [job] = await jobsOf('batch-record');
    expect(failed.stderr).toContain(`S3 Batch Operations job ${job!.id} was created, but its record s3://batch-record/.retailctl-batch/`);
    await until(async () => (await jobsOf('batch-record'))[0]!.status !== 'Preparing');
    expect((await jobsOf('batch-record'))[0]!.status, 'created, never confirmed: waiting for its confirmation').toBe('Suspended');
    await new Promise((r) => setTimeout(r, 2500));
    const rerun = await run(migrate('batch-record', ['--state-dir', 'state-record', '--json']));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((JSON.parse(rerun.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ uploaded: N });
    expect(await jobsOf('batch-record')).toHaveLength(1);
    expect((await jobsOf('batch-record'))[0]!.status).toBe('Complete');
  });
});
