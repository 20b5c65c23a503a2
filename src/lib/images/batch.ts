/**
 * The batch engine's writes (see batch-plan.ts, batch-record.ts): for a new attempt, its manifest
 * and mapping file in the run's folder in the destination bucket and the attempt in the run's
 * record (`job.json`, compare-and-set, the CreateJob request recorded before it is sent); one S3
 * Batch Operations job created (ClientRequestToken `retailctl-<run>-<attempt>`: a repeated CreateJob
 * is the same job), confirmed once S3 counted exactly the planned tasks (the job is created with
 * ConfirmationRequired: retailctl's own plan/confirm is its confirmation), followed with DescribeJob
 * (succeeded, failed, ETA), and its completion report read back into the run's results: the
 * manifest, the redirects, the journal and the invalidation then come out as for a direct run; the
 * attempt is then marked merged.
 *
 * A kill of retailctl never touches the job: a rerun finds the attempt in `job.json` and follows it
 * (a job created but not yet recorded is found by sending its recorded request and token again).
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
import { batchContentType, batchItems, batchToken, createJobInput, decodeTaskInfo, etaMs, manifestLines, MAPPING_COLUMNS, mappingRows, parseCopyResult, reportRow, type BatchPlan, type ReportRow } from './batch-plan.js';
import { attemptFiles, describeAttempt, isTerminal, readRecord, recordKeyOf, withLatest, type Attempt, type JobRecord } from './batch-record.js';
import { ResultStore, settledResult, type ItemResult } from './execute.js';
import { rethrowS3 } from './gather.js';
import { JournalWriter } from './journal.js';
import { abortUnfinishedUploads, invalidateReplaced, type ExecuteEnv, type Executed } from './migrate.js';
import type { MigrationPlan } from './migration-plan.js';
import type { PlanItem } from './plan.js';

export async function executeBatch(plan: MigrationPlan, env: ExecuteEnv): Promise<Executed> {
  const batch = plan.batch!;
  const { ctx, aws, lock } = env;
  // every write waits until the lock is known valid, as the direct engine's do
  const beforeWrite = lock ? () => lock.writable() : undefined;
  const state = await aws.write().leanS3(plan.bucket, { maxSockets: 4, signal: ctx.signal, abandonSignal: ctx.signals.kill, ...(beforeWrite ? { beforeWrite } : {}) });
  try {
    await abortUnfinishedUploads(plan, state, ctx);
    const recordKey = recordKeyOf(batch.folder);
    let { record, etag } = await readRecord(state, plan.bucket, batch.folder, batch.run);
    const latest = record?.attempts.at(-1);
    // the record moved since planning (another operator's run): follow what it says now, in a rerun
    const unmergedOk = batch.supersedes !== null && latest?.n === batch.supersedes;
    if ((latest?.n ?? 0) !== (batch.follow ? batch.attempt : batch.attempt - 1) || (batch.follow ? !latest || latest.merged : latest && !latest.merged && !unmergedOk)) {
      throw new RetailctlError('IMAGES_BATCH_RACE', `another run changed s3://${plan.bucket}/${recordKey} since this run was planned: rerun to follow the attempt it recorded`, { exitCode: ExitCode.Failure });
    }
    const { account } = await callerIdentity(aws.read, ctx.signal);
    if (!batch.follow) {
      const files = await writeJobFiles(plan, batch, state, env);
      const { AccountId: _account, ClientRequestToken: _token, ...request } = createJobInput(batch, { accountId: account, bucket: plan.bucket, sse: plan.sse, kmsKeyId: plan.kmsKeyId, ...files, description: `retailctl images migrate ${plan.source} -> s3://${plan.bucket}/${plan.prefix}` });
      const attempt: Attempt = { n: batch.attempt, token: batchToken(batch), operation: batch.operation, objects: batch.objects, ...files, request, createdAt: new Date(ctx.now()).toISOString(), by: ['retailctl', ...ctx.argv].join(' ').slice(0, 500), jobId: null, merged: false };
      // an attempt whose job S3 no longer knows is closed as Gone: this one takes its place
      const earlier = (record?.attempts ?? []).map((a) => (a.n === batch.supersedes ? { ...a, merged: true, status: 'Gone' } : a));
      record = { run: batch.run, attempts: [...earlier, attempt] };
      etag = await putRecord(state, recordKey, record, etag, plan);
    }
    let attempt = record!.attempts.at(-1)!;
    if (!attempt.jobId) {
      checkRecordedRequest(attempt, batch, plan.bucket);
      await lock?.writable();
      let jobId: string;
      try {
        jobId = await createJob(attempt, account, env);
      } catch (err) {
        // refused (a wrong role, a missing permission): no job exists, so the attempt is closed and
        // the next run plans a new one with the config as it is then
        const aws4xx = err instanceof RetailctlError && err.aws && !ctx.signal.aborted && (err.aws.httpStatus ?? 0) >= 400 && (err.aws.httpStatus ?? 0) < 500 && err.aws.name !== 'IdempotencyException';
        if (aws4xx) {
          const closed = { ...attempt, merged: true, status: 'NotCreated' };
          await putRecord(state, recordKey, withLatest(record!, closed), etag, plan).catch(() => {});
        }
        throw err;
      }
      attempt = { ...attempt, jobId };
      record = withLatest(record!, attempt);
      try {
        etag = await putRecord(state, recordKey, record, etag, plan);
      } catch (err) {
        // the job exists and waits for its confirmation: the rerun finds it by its ClientRequestToken
        throw new RetailctlError('IMAGES_BATCH_RECORD', `S3 Batch Operations job ${jobId} was created, but its record s3://${plan.bucket}/${recordKey} could not be written (${(err as Error).message}): rerun the same command to confirm and follow it (CreateJob with the same token answers the same job)`, { exitCode: ExitCode.Failure });
      }
      ctx.out.info(`images: S3 Batch Operations job ${jobId} created (attempt ${attempt.n}: ${attempt.operation}, ${attempt.objects.toLocaleString('en-US')} objects); its record is s3://${plan.bucket}/${recordKey}`);
    } else {
      ctx.out.info(`images: following S3 Batch Operations job ${attempt.jobId} (attempt ${attempt.n}, created ${attempt.createdAt}; recorded in s3://${plan.bucket}/${recordKey})`);
    }
    const ended = await followJob(plan, batch, attempt, account, env);
    const results = await readResults(plan, batch, attempt, ended, env);
    // the record says the report was read back: a failed write of it costs only a second read later
    const merged = { ...attempt, merged: true, status: ended.status };
    await putRecord(state, recordKey, withLatest(record!, merged), etag, plan).catch((err: unknown) => ctx.out.warn(`the job record s3://${plan.bucket}/${recordKey} could not be updated (${(err as Error).message}); a rerun reads the report again`));
    const replaced: string[] = [];
    for (const r of results) if (r.status === 'uploaded' && r.replaced) replaced.push(r.item.key);
    await env.afterUploads?.(results);
    const stopped = ended.status === 'Complete' ? undefined : new RetailctlError('IMAGES_BATCH', `S3 Batch Operations job ${attempt.jobId} ended ${ended.status}${ended.reasons ? `: ${ended.reasons}` : ''}: a rerun plans a new job for what it did not copy`, { exitCode: ExitCode.Failure });
    const invalidation = await invalidateReplaced(env, plan.distributionId, replaced, stopped !== undefined);
    return { results, replaced, invalidation, stopped, retries: 0, throttled: 0 };
  } finally {
    state.close();
  }
}

/** A request recorded by an earlier run is sent again only as this run would send it: the configured role and function, this bucket. */
function checkRecordedRequest(attempt: Attempt, batch: BatchPlan, bucket: string): void {
  const r = attempt.request as { RoleArn?: string; Operation?: { LambdaInvoke?: { FunctionArn?: string }; S3PutObjectCopy?: { TargetResource?: string } } };
  const op = r.Operation ?? {};
  const ok = r.RoleArn === batch.roleArn && (op.LambdaInvoke ? op.LambdaInvoke.FunctionArn === batch.functionArn : op.S3PutObjectCopy?.TargetResource === `arn:aws:s3:::${bucket}`);
  if (!ok) throw new RetailctlError('IMAGES_BATCH_RECORD', `attempt ${attempt.n} of s3://${bucket}/${recordKeyOf(batch.folder)} was recorded with another role or function than images.batch configures now, and a run was stopped before it knew whether S3 created that job: nothing was written`, { exitCode: ExitCode.Failure, hint: `set images.batch as it was for that attempt (its request is in the record) to follow it; or, once aws s3control list-jobs shows no job with token ${attempt.token}, move the record aside` });
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
async function writeJobFiles(plan: MigrationPlan, batch: BatchPlan, state: LeanS3, env: ExecuteEnv): Promise<Pick<Attempt, 'manifestKey' | 'manifestEtag' | 'mappingKey'>> {
  const dir = path.join(path.dirname(env.stateFile), 'batch', batch.run, String(batch.attempt));
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
  const { manifestKey, mappingKey } = attemptFiles(batch.folder, batch.attempt);
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

/** CreateJob exactly as the attempt recorded it (the same token and request again answer the same job). */
async function createJob(attempt: Attempt, accountId: string, env: ExecuteEnv): Promise<string> {
  const control = await env.aws.write().client('s3control');
  const { CreateJobCommand } = await import('@aws-sdk/client-s3-control');
  const res = await control.send(new CreateJobCommand({ ...(attempt.request as unknown as ConstructorParameters<typeof CreateJobCommand>[0]), AccountId: accountId, ClientRequestToken: attempt.token }), { abortSignal: env.ctx.signal });
  if (!res.JobId) throw new RetailctlError('IMAGES_BATCH', 'S3 Control CreateJob answered without a job id');
  return res.JobId;
}

type Ended = { status: string; total: number; succeeded: number; failed: number; reasons: string };

/**
 * DescribeJob until the job ends. A job waiting for confirmation is confirmed (Ready) when S3 counted
 * exactly the planned tasks, and cancelled otherwise. Ctrl-C stops following, never the job.
 */
async function followJob(plan: MigrationPlan, batch: BatchPlan, attempt: Attempt, accountId: string, env: ExecuteEnv): Promise<Ended> {
  const { ctx } = env;
  const jobId = attempt.jobId!;
  const { UpdateJobStatusCommand } = await import('@aws-sdk/client-s3-control');
  const started = Date.now();
  let firstDone: { at: number; done: number } | undefined;
  let lastLine = 0;
  try {
    for (;;) {
      const job = await describeAttempt(ctx, env.aws, accountId, plan.bucket, attempt);
      if (job === 'gone') throw new RetailctlError('IMAGES_BATCH', `S3 Batch Operations no longer knows job ${jobId}: a rerun plans a new job for what is not copied`, { exitCode: ExitCode.Failure });
      const { status, total, succeeded, failed, reasons } = job;
      if (isTerminal(status)) {
        ctx.out.info(`images: job ${jobId} ${status}: ${succeeded.toLocaleString('en-US')} copied, ${failed.toLocaleString('en-US')} failed of ${total.toLocaleString('en-US')}${reasons ? ` (${reasons})` : ''}`);
        return job;
      }
      if (status === 'Suspended') {
        const write = await env.aws.write().client('s3control');
        await env.lock?.writable();
        if (total !== attempt.objects) {
          await write.send(new UpdateJobStatusCommand({ AccountId: accountId, JobId: jobId, RequestedJobStatus: 'Cancelled', StatusUpdateReason: `retailctl: ${total} tasks, the plan has ${attempt.objects}` }), { abortSignal: ctx.signal });
          throw new RetailctlError('IMAGES_BATCH', `S3 Batch Operations counted ${total.toLocaleString('en-US')} tasks in job ${jobId}'s manifest, the plan has ${attempt.objects.toLocaleString('en-US')}: the job was cancelled before it copied anything; a rerun plans a new one`, { exitCode: ExitCode.Failure, hint: `the manifest is s3://${plan.bucket}/${attempt.manifestKey}` });
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

/** The tasks of an attempt: its mapping file's keys and source objects (an attempt of an earlier run), or the plan's own. */
async function attemptTasks(plan: MigrationPlan, batch: BatchPlan, attempt: Attempt, env: ExecuteEnv): Promise<Map<string, { bucket: string; key: string; etag: string }>> {
  const tasks = new Map<string, { bucket: string; key: string; etag: string }>();
  if (!batch.follow) {
    for (const i of batchItems(plan.items)) tasks.set(i.key, i.image.s3!);
    return tasks;
  }
  const s3 = await env.aws.read.client('s3');
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const { parse } = await import('csv-parse');
  const res = await s3.send(new GetObjectCommand({ Bucket: plan.bucket, Key: attempt.mappingKey }), { abortSignal: env.ctx.signal });
  for await (const row of (res.Body as NodeJS.ReadableStream).pipe(parse({ columns: true })) as AsyncIterable<Record<string, string>>) {
    if (row.key && row.sourceKey) tasks.set(row.key, { bucket: row.sourceBucket ?? '', key: row.sourceKey, etag: row.etag ?? '' });
  }
  return tasks;
}

/**
 * The run's results: every task as the completion report says, a row counting only when it is one of
 * the attempt's tasks, of the same source object; every other item as settled (unchanged, empty).
 */
async function readResults(plan: MigrationPlan, batch: BatchPlan, attempt: Attempt, ended: Ended, env: ExecuteEnv): Promise<ResultStore> {
  const jobId = attempt.jobId!;
  const results = new ResultStore(plan.items);
  const tasks = await attemptTasks(plan, batch, attempt, env);
  const byKey = new Map<string, number>();
  plan.items.forEach((item, i) => {
    if (tasks.has(item.key)) byKey.set(item.key, i);
    // not a task of the attempt followed: unchanged (settled now), or left for the next attempt
    else results.set(i, settledResult(item) ?? { item, status: 'failed', reason: `not copied: not a task of attempt ${attempt.n} (job ${jobId}), which this run followed: rerun to copy it`, ...(item.image.size !== undefined ? { size: item.image.size } : {}) });
  });
  const journal = await JournalWriter.open(env.stateFile, path.relative(env.ctx.cwd, env.stateFile));
  let foreign = 0;
  try {
    for await (const row of reportRows(plan, attempt, env)) {
      const source = sourceOf(attempt, row);
      const i = source ? byKey.get(source.k) : undefined;
      const task = source ? tasks.get(source.k) : undefined;
      if (i === undefined || !task || task.key !== source!.s || (source!.e !== undefined && source!.e !== task.etag) || row.bucket !== task.bucket) {
        foreign++;
        continue;
      }
      const item = plan.items[i]!;
      const r = taskResult(item, row, jobId);
      results.set(i, r);
      if (r.status !== 'failed' && r.etag && item.image.s3) journal.append({ key: item.key, source: item.image.path, size: r.size ?? 0, sha256: r.sha256 ?? '', etag: r.etag, contentType: r.contentType ?? batchContentType(item), originEtag: item.image.s3.etag });
      byKey.delete(source!.k);
    }
  } finally {
    await journal.close().catch(() => {});
  }
  if (foreign) env.ctx.out.warn(`${foreign} row${foreign === 1 ? '' : 's'} of job ${jobId}'s completion report matched none of its tasks: ignored`);
  for (const i of byKey.values()) results.set(i, { item: plan.items[i]!, status: 'failed', reason: `not copied: job ${jobId} ended ${ended.status} before this task ran (or its report has no row of it): rerun to copy it` });
  return results;
}

/** The planned key, source key and (LambdaInvoke) listed ETag a report row is of; S3PutObjectCopy's prefix is the attempt's recorded one. */
function sourceOf(attempt: Attempt, row: ReportRow): { k: string; s: string; e?: string } | undefined {
  if (attempt.operation === 'LambdaInvoke') {
    const info = decodeTaskInfo(row.key);
    return info ? { k: info.k, s: info.s, e: info.e } : undefined;
  }
  let source = row.key;
  try {
    source = decodeURIComponent(row.key.replace(/\+/g, '%20'));
  } catch {
    // a key that is not percent-encoded
  }
  const prefix = (attempt.request as { Operation?: { S3PutObjectCopy?: { TargetKeyPrefix?: string } } }).Operation?.S3PutObjectCopy?.TargetKeyPrefix ?? '';
  return { k: `${prefix}${source}`, s: source };
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

/** The completion report's rows: its manifest.json, then each result file of this job under the attempt's report prefix, streamed. */
async function* reportRows(plan: MigrationPlan, attempt: Attempt, env: ExecuteEnv): AsyncGenerator<ReportRow> {
  const s3 = await env.aws.read.client('s3');
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const { parse } = await import('csv-parse');
  const base = `${attempt.manifestKey.replace(/manifest\.csv$/, '')}report/job-${attempt.jobId}/`;
  let manifest: { Results?: { Bucket?: string; Key?: string }[] };
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: plan.bucket, Key: `${base}manifest.json` }), { abortSignal: env.ctx.signal });
    manifest = JSON.parse(await res.Body!.transformToString()) as typeof manifest;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey' || (err as { aws?: { name?: string } }).aws?.name === 'NoSuchKey') return;
    throw err;
  }
  for (const result of manifest.Results ?? []) {
    const bucket = (result.Bucket ?? '').replace(/^arn:aws[a-z-]*:s3:::/, '');
    // only this job's own report files: a manifest.json pointing elsewhere is not followed
    if (!result.Key?.startsWith(base) || bucket !== plan.bucket) {
      env.ctx.out.warn(`the completion report of job ${attempt.jobId} names s3://${bucket}/${result.Key ?? ''}, outside its report folder: not read`);
      continue;
    }
    const res = await s3.send(new GetObjectCommand({ Bucket: plan.bucket, Key: result.Key }), { abortSignal: env.ctx.signal });
    const parser = (res.Body as NodeJS.ReadableStream).pipe(parse({ relax_column_count: true }));
    for await (const cells of parser as AsyncIterable<string[]>) {
      const row = reportRow(cells);
      if (row) yield row;
    }
  }
}
