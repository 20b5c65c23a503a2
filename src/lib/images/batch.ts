/**
 * The batch engine's writes (see batch-plan.ts): the job's manifest and mapping file written to
 * the state folder in the destination bucket, the job's record (`job.json`, compare-and-set), one
 * S3 Batch Operations job created (ClientRequestToken: the run, so a retried or repeated CreateJob
 * is the same job), confirmed once S3 counted exactly the planned tasks (the job is created with
 * ConfirmationRequired: retailctl's own plan/confirm is its confirmation), followed with DescribeJob
 * (succeeded, failed, ETA), and its completion report read back into the run's results: the
 * manifest, the redirects, the journal and the invalidation then come out as for a direct run.
 *
 * A kill of retailctl never touches the job: a rerun of the same plan finds the job in `job.json`
 * and follows it (a job created but not yet recorded is found by its ClientRequestToken).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { LeanS3 } from '../aws/lean-s3.js';
import { callerIdentity } from '../aws/identity.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { makeDirs } from '../io/paths.js';
import { formatDuration } from '../util/duration.js';
import { sleep } from '../util/sleep.js';
import { batchContentType, createJobInput, decodeTaskInfo, etaMs, manifestLines, MAPPING_COLUMNS, mappingRows, parseCopyResult, reportRow, type BatchPlan, type ReportRow } from './batch-plan.js';
import { ResultStore, settledResult, type ItemResult } from './execute.js';
import { rethrowS3 } from './gather.js';
import { JournalWriter } from './journal.js';
import { invalidateReplaced, type ExecuteEnv, type Executed } from './migrate.js';
import type { MigrationPlan } from './migration-plan.js';
import type { PlanItem } from './plan.js';

/** The job's record in the state folder: what a rerun needs to find and finish the job. */
export interface JobRecord {
  run: string;
  token: string;
  manifestKey: string;
  manifestEtag: string;
  mappingKey: string;
  createdAt: string;
  by: string;
  jobId: string | null;
  /** The report has been read back into a run's results. */
  merged: boolean;
  status?: string;
}

const TERMINAL = new Set(['Complete', 'Failed', 'Cancelled']);

export async function executeBatch(plan: MigrationPlan, env: ExecuteEnv): Promise<Executed> {
  const batch = plan.batch!;
  const { ctx, aws } = env;
  const state = await aws.write().leanS3(plan.bucket, { maxSockets: 4, signal: ctx.signal, abandonSignal: ctx.signals.kill });
  try {
    const recordKey = `${batch.folder}job.json`;
    let { record, etag } = await readRecord(state, recordKey, plan.bucket);
    if (record && record.run !== batch.run) throw new RetailctlError('IMAGES_BATCH', `internal error: ${recordKey} is of another run (${record.run})`);
    const { account } = await callerIdentity(aws.read, ctx.signal);
    if (!record?.jobId) {
      if (!record) {
        const files = await writeJobFiles(plan, batch, state, env);
        record = { run: batch.run, token: `retailctl-${batch.run}`, ...files, createdAt: new Date(ctx.now()).toISOString(), by: ['retailctl', ...ctx.argv].join(' ').slice(0, 500), jobId: null, merged: false };
        etag = await putRecord(state, recordKey, record, etag, plan);
      }
      const jobId = await createJob(plan, batch, record, account, env);
      record = { ...record, jobId };
      try {
        etag = await putRecord(state, recordKey, record, etag, plan);
      } catch (err) {
        // the job exists and waits for its confirmation: the rerun finds it by its ClientRequestToken
        throw new RetailctlError('IMAGES_BATCH_RECORD', `S3 Batch Operations job ${jobId} was created, but its record s3://${plan.bucket}/${recordKey} could not be written (${(err as Error).message}): rerun the same command to confirm and follow it (CreateJob with the same token answers the same job)`, { exitCode: ExitCode.Failure });
      }
      ctx.out.info(`images: S3 Batch Operations job ${jobId} created (${batch.operation}, ${batch.objects.toLocaleString('en-US')} objects); its record is s3://${plan.bucket}/${recordKey}`);
    } else {
      ctx.out.info(`images: following S3 Batch Operations job ${record.jobId}, created ${record.createdAt} (recorded in s3://${plan.bucket}/${recordKey})`);
    }
    const jobId = record.jobId!;
    const ended = await followJob(plan, batch, jobId, account, env);
    // a job whose report an earlier run already read back (a fresh runner, no journal): its copies are unchanged now
    const results = await readResults(plan, batch, jobId, ended, env, record.merged);
    if (!record.merged || record.status !== ended.status) {
      // the record says the report was read back: a failed write of it costs only a second read later
      await putRecord(state, recordKey, { ...record, merged: true, status: ended.status }, etag, plan).catch((err: unknown) => ctx.out.warn(`the job record s3://${plan.bucket}/${recordKey} could not be updated (${(err as Error).message}); a rerun reads the report again`));
    }
    const replaced: string[] = [];
    for (const r of results) if (r.status === 'uploaded' && r.replaced) replaced.push(r.item.key);
    await env.afterUploads?.(results);
    const stopped = ended.status === 'Complete' ? undefined : new RetailctlError('IMAGES_BATCH', `S3 Batch Operations job ${jobId} ended ${ended.status}${ended.reasons ? `: ${ended.reasons}` : ''}`, { exitCode: ExitCode.Failure });
    const invalidation = await invalidateReplaced(env, plan.distributionId, replaced, stopped !== undefined);
    return { results, replaced, invalidation, stopped, retries: 0, throttled: 0 };
  } finally {
    state.close();
  }
}

async function readRecord(state: LeanS3, key: string, bucket: string): Promise<{ record: JobRecord | undefined; etag: string | undefined }> {
  const got = await state.get(key).catch((err: unknown) => rethrowS3(err, state, bucket, 'GetObject'));
  if (!got) return { record: undefined, etag: undefined };
  try {
    return { record: JSON.parse(got.body.toString('utf8')) as JobRecord, etag: got.etag };
  } catch {
    throw new RetailctlError('IMAGES_BATCH', `s3://${bucket}/${key} is not a job record retailctl wrote (not JSON)`, { exitCode: ExitCode.Failure, hint: 'look at the object; delete it only if no job of it is running' });
  }
}

/** The record written over exactly the version read (If-Match), or created only where none is (If-None-Match): a second operator's record is never overwritten. */
async function putRecord(state: LeanS3, key: string, record: JobRecord, etag: string | undefined, plan: MigrationPlan): Promise<string> {
  const body = Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
  try {
    return await state.put({ key, body, size: body.length, sha256: createHash('sha256').update(body).digest(), contentType: 'application/json', cacheControl: 'no-store', sse: plan.sse, ...(plan.kmsKeyId ? { kmsKeyId: plan.kmsKeyId } : {}), ...(etag ? { ifMatch: etag } : { ifNoneMatch: '*' as const }) });
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 412 || status === 409) throw new RetailctlError('IMAGES_BATCH_RACE', `another run wrote the job record s3://${plan.bucket}/${key} at the same time: rerun to follow the job it recorded`, { exitCode: ExitCode.Failure });
    return rethrowS3(err, state, plan.bucket, 'PutObject');
  }
}

/** The manifest and the mapping file, written locally first (streamed, hashed) and then uploaded. */
async function writeJobFiles(plan: MigrationPlan, batch: BatchPlan, state: LeanS3, env: ExecuteEnv): Promise<Pick<JobRecord, 'manifestKey' | 'manifestEtag' | 'mappingKey'>> {
  const dir = path.join(path.dirname(env.stateFile), 'batch', batch.run);
  await makeDirs(dir);
  const manifestFile = path.join(dir, 'manifest.csv');
  const mappingFile = path.join(dir, 'mapping.csv');
  const { writeRowsFile } = await import('../io/rows.js');
  const manifestSha = await writeLines(manifestFile, manifestLines(batch, plan.items, batchContentType));
  await writeRowsFile(mappingFile, mappingRows(plan.items, batchContentType), MAPPING_COLUMNS);
  const upload = async (file: string, key: string, sha256?: Buffer) => {
    const size = (await stat(file)).size;
    const sha = sha256 ?? (await fileSha256(file));
    return state.put({ key, body: () => createReadStream(file), size, sha256: sha, contentType: 'text/csv', cacheControl: 'no-store', sse: plan.sse, ...(plan.kmsKeyId ? { kmsKeyId: plan.kmsKeyId } : {}) }).catch((err: unknown) => rethrowS3(err, state, plan.bucket, 'PutObject'));
  };
  const manifestKey = `${batch.folder}manifest.csv`;
  const mappingKey = `${batch.folder}mapping.csv`;
  const manifestEtag = await upload(manifestFile, manifestKey, manifestSha);
  await upload(mappingFile, mappingKey);
  return { manifestKey, manifestEtag, mappingKey };
}

async function writeLines(file: string, lines: Iterable<string>): Promise<Buffer> {
  const out = createWriteStream(file, { mode: 0o600 });
  const hash = createHash('sha256');
  for (const line of lines) {
    hash.update(line);
    if (!out.write(line)) await once(out, 'drain');
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return hash.digest();
}

async function fileSha256(file: string): Promise<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest();
}

async function createJob(plan: MigrationPlan, batch: BatchPlan, record: JobRecord, accountId: string, env: ExecuteEnv): Promise<string> {
  const control = await env.aws.write().client('s3control');
  const { CreateJobCommand } = await import('@aws-sdk/client-s3-control');
  const input = createJobInput(batch, { accountId, bucket: plan.bucket, sse: plan.sse, kmsKeyId: plan.kmsKeyId, manifestKey: record.manifestKey, manifestEtag: record.manifestEtag, description: `retailctl images migrate ${plan.source} -> s3://${plan.bucket}/${plan.prefix}` });
  const res = await control.send(new CreateJobCommand({ ...input, ClientRequestToken: record.token }), { abortSignal: env.ctx.signal });
  if (!res.JobId) throw new RetailctlError('IMAGES_BATCH', 'S3 Control CreateJob answered without a job id');
  return res.JobId;
}

interface Ended {
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  reasons: string;
}

/**
 * DescribeJob until the job ends. A job waiting for confirmation is confirmed (Ready) when S3 counted
 * exactly the planned tasks, and cancelled otherwise. Ctrl-C stops following, never the job.
 */
async function followJob(plan: MigrationPlan, batch: BatchPlan, jobId: string, accountId: string, env: ExecuteEnv): Promise<Ended> {
  const { ctx } = env;
  const read = await env.aws.read.client('s3control');
  const { DescribeJobCommand, UpdateJobStatusCommand } = await import('@aws-sdk/client-s3-control');
  const started = Date.now();
  let firstDone: { at: number; done: number } | undefined;
  let lastLine = 0;
  try {
    for (;;) {
      const { Job: job } = await read.send(new DescribeJobCommand({ AccountId: accountId, JobId: jobId }), { abortSignal: ctx.signal });
      const status = job?.Status ?? 'Unknown';
      const p = job?.ProgressSummary;
      const total = p?.TotalNumberOfTasks ?? 0;
      const succeeded = p?.NumberOfTasksSucceeded ?? 0;
      const failed = p?.NumberOfTasksFailed ?? 0;
      if (TERMINAL.has(status)) {
        const reasons = (job?.FailureReasons ?? []).map((f) => `${f.FailureCode ?? ''} ${f.FailureReason ?? ''}`.trim()).join('; ');
        ctx.out.info(`images: job ${jobId} ${status}: ${succeeded.toLocaleString('en-US')} copied, ${failed.toLocaleString('en-US')} failed of ${total.toLocaleString('en-US')}${reasons ? ` (${reasons})` : ''}`);
        return { status, total, succeeded, failed, reasons };
      }
      if (status === 'Suspended') {
        const write = await env.aws.write().client('s3control');
        if (total !== batch.objects) {
          await write.send(new UpdateJobStatusCommand({ AccountId: accountId, JobId: jobId, RequestedJobStatus: 'Cancelled', StatusUpdateReason: `retailctl: ${total} tasks, the plan has ${batch.objects}` }), { abortSignal: ctx.signal });
          throw new RetailctlError('IMAGES_BATCH', `S3 Batch Operations counted ${total.toLocaleString('en-US')} tasks in job ${jobId}'s manifest, the plan has ${batch.objects.toLocaleString('en-US')}: the job was cancelled before it copied anything`, { exitCode: ExitCode.Failure, hint: `the manifest is s3://${plan.bucket}/${batch.folder}manifest.csv` });
        }
        await write.send(new UpdateJobStatusCommand({ AccountId: accountId, JobId: jobId, RequestedJobStatus: 'Ready', StatusUpdateReason: 'retailctl: the plan was confirmed' }), { abortSignal: ctx.signal });
        ctx.out.info(`images: job ${jobId} confirmed: ${total.toLocaleString('en-US')} tasks, as planned`);
      }
      const done = succeeded + failed;
      if (done > 0 && !firstDone) firstDone = { at: Date.now(), done };
      if (Date.now() - lastLine >= Math.max(5000, batch.pollMs) || lastLine === 0) {
        lastLine = Date.now();
        const eta = firstDone ? etaMs(done - firstDone.done, total - firstDone.done, Date.now() - firstDone.at) : undefined;
        ctx.out.info(`images: job ${jobId} ${status}: ${succeeded.toLocaleString('en-US')} copied, ${failed.toLocaleString('en-US')} failed of ${total.toLocaleString('en-US')}, ETA ${eta === undefined ? '-' : formatDuration(eta)} (${formatDuration(Date.now() - started)} so far)`);
      }
      await sleep(batch.pollMs, ctx.signal);
    }
  } catch (err) {
    if (ctx.signal.aborted) ctx.out.warn(`job ${jobId} goes on in S3 Batch Operations (retailctl only stopped following it): rerun the same command to follow it and write the manifest and redirects`);
    throw err;
  }
}

/** The run's results: every item that needs no write as settled, every task as the completion report says. */
async function readResults(plan: MigrationPlan, batch: BatchPlan, jobId: string, ended: Ended, env: ExecuteEnv, merged: boolean): Promise<ResultStore> {
  const results = new ResultStore(plan.items);
  const byKey = new Map<string, number>();
  plan.items.forEach((item, i) => {
    const settled = settledResult(item);
    if (settled) results.set(i, settled);
    else byKey.set(item.key, i);
  });
  const journal = await JournalWriter.open(env.stateFile, path.relative(env.ctx.cwd, env.stateFile));
  try {
    for await (const row of reportRows(plan, batch, jobId, env)) {
      const key = plannedKey(batch, row);
      const i = key === undefined ? undefined : byKey.get(key);
      if (i === undefined) continue;
      const item = plan.items[i]!;
      const copied = taskResult(item, row, jobId);
      const r: ItemResult = merged && copied.status === 'uploaded' ? { ...copied, status: 'skipped', reason: `unchanged (copied by S3 Batch Operations job ${jobId})`, replaced: false } : copied;
      results.set(i, r);
      if (r.status !== 'failed' && r.etag && item.image.s3) journal.append({ key: item.key, source: item.image.path, size: r.size ?? 0, sha256: r.sha256 ?? '', etag: r.etag, contentType: r.contentType ?? batchContentType(item), originEtag: item.image.s3.etag });
      byKey.delete(key!);
    }
  } finally {
    await journal.close().catch(() => {});
  }
  for (const i of byKey.values()) results.set(i, { item: plan.items[i]!, status: 'failed', reason: `not copied: job ${jobId} ended ${ended.status} before this task ran (or its report has no row of it): rerun to copy it` });
  return results;
}

function plannedKey(batch: BatchPlan, row: ReportRow): string | undefined {
  if (batch.operation === 'LambdaInvoke') return decodeTaskInfo(row.key)?.k;
  let source = row.key;
  try {
    source = decodeURIComponent(row.key);
  } catch {
    // a key that is not percent-encoded
  }
  return `${batch.targetKeyPrefix ?? ''}${source}`;
}

function taskResult(item: PlanItem, row: ReportRow, jobId: string): ItemResult {
  const size = item.image.size;
  const base = { item, ...(size !== undefined ? { size } : {}) };
  if (row.status === 'failed') {
    const changed = row.httpStatus === '412' || /PreconditionFailed/.test(row.errorCode + row.message);
    return { ...base, status: 'failed', reason: changed ? `s3://${item.image.s3!.bucket}/${item.image.s3!.key} changed since it was listed (job ${jobId}: ${row.errorCode || row.httpStatus}); not copied: rerun to copy it as it is now` : `job ${jobId}: ${[row.errorCode, row.httpStatus, row.message].filter(Boolean).join(' ')}` };
  }
  const copied = parseCopyResult(row.message);
  const sha256 = copied?.sha256 && /^[0-9a-f]{64}$/.test(copied.sha256) ? copied.sha256 : undefined;
  return { ...base, status: 'uploaded', ...(sha256 ? { sha256 } : {}), contentType: copied?.contentType ?? batchContentType(item), ...(copied?.etag ? { etag: copied.etag } : {}), ...(copied?.size !== undefined ? { size: copied.size } : {}), replaced: item.existing !== undefined };
}

/** The completion report's rows: its manifest.json, then each result CSV, streamed. */
async function* reportRows(plan: MigrationPlan, batch: BatchPlan, jobId: string, env: ExecuteEnv): AsyncGenerator<ReportRow> {
  const s3 = await env.aws.read.client('s3');
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const { parse } = await import('csv-parse');
  const reportKey = `${batch.folder}report/job-${jobId}/manifest.json`;
  let manifest: { Results?: { Bucket?: string; Key?: string }[] };
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: plan.bucket, Key: reportKey }), { abortSignal: env.ctx.signal });
    manifest = JSON.parse(await res.Body!.transformToString()) as typeof manifest;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey' || (err as { aws?: { name?: string } }).aws?.name === 'NoSuchKey') return;
    throw err;
  }
  for (const result of manifest.Results ?? []) {
    if (!result.Key) continue;
    const res = await s3.send(new GetObjectCommand({ Bucket: result.Bucket?.replace(/^arn:aws[a-z-]*:s3:::/, '') || plan.bucket, Key: result.Key }), { abortSignal: env.ctx.signal });
    const parser = (res.Body as NodeJS.ReadableStream).pipe(parse({ relax_column_count: true }));
    for await (const cells of parser as AsyncIterable<string[]>) {
      const row = reportRow(cells);
      if (row) yield row;
    }
  }
}
