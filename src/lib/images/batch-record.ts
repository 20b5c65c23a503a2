/**
 * The record of a batch run (`<prefix>.retailctl-batch/<run>/job.json`, batch-plan.ts): its attempts,
 * each one S3 Batch Operations job. Read at planning (read-only: the object, and DescribeJob of the
 * latest attempt) to decide whether this run follows an attempt an earlier run started or plans a
 * new one; written by the executor with compare-and-set. A record is trusted only as far as it is
 * the one retailctl writes for this run: its paths and tokens are those of the run, and the job it
 * names reads exactly the manifest it records.
 */
import type { AwsContext } from '../aws/context.js';
import type { LeanS3 } from '../aws/lean-s3.js';
import type { CommandContext } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { batchContentType, batchFolder, batchItems, batchRun, batchToken, chooseEngine, type BatchOperation, type BatchState } from './batch-plan.js';
import { rethrowS3 } from './gather.js';
import type { Migration } from './options.js';
import type { PlanItem } from './plan.js';

export interface Attempt {
  n: number;
  token: string;
  operation: BatchOperation;
  objects: number;
  manifestKey: string;
  manifestEtag: string;
  mappingKey: string;
  /** The CreateJob request (without the account and token): sent again as it was when the job is not yet recorded. */
  request: Record<string, unknown>;
  createdAt: string;
  by: string;
  jobId: string | null;
  status?: string;
  /** Its completion report has been read back into a run's results. */
  merged: boolean;
}

export interface JobRecord {
  run: string;
  attempts: Attempt[];
}

export const TERMINAL = new Set(['Complete', 'Failed', 'Cancelled']);

export const recordKeyOf = (folder: string) => `${folder}job.json`;
export const attemptFiles = (folder: string, n: number) => ({ manifestKey: `${folder}${n}/manifest.csv`, mappingKey: `${folder}${n}/mapping.csv` });

function untrusted(bucket: string, key: string, why: string): RetailctlError {
  return new RetailctlError('IMAGES_BATCH_RECORD', `s3://${bucket}/${key} is not a record retailctl wrote for this migration (${why}): nothing was written`, { exitCode: ExitCode.Failure, hint: 'look at the object; move it aside only if no job it names is running (aws s3control describe-job)' });
}

/** A recorded CreateJob request reads this attempt's manifest and reports into this attempt's folder, in this bucket. */
function requestOfAttempt(a: Attempt, bucket: string, folder: string): boolean {
  const r = a.request as { Manifest?: { Location?: { ObjectArn?: string; ETag?: string } }; Report?: { Bucket?: string; Prefix?: string }; Operation?: Record<string, unknown> } | undefined;
  return Boolean(r && r.Manifest?.Location?.ObjectArn === `arn:aws:s3:::${bucket}/${a.manifestKey}` && r.Manifest.Location.ETag === a.manifestEtag && r.Report?.Bucket === `arn:aws:s3:::${bucket}` && r.Report.Prefix === `${folder}${a.n}/report` && r.Operation && Object.keys(r.Operation).length === 1 && a.operation in r.Operation);
}

/** The record with its latest attempt replaced by `attempt`. */
export const withLatest = (record: JobRecord, attempt: Attempt): JobRecord => ({ ...record, attempts: [...record.attempts.slice(0, -1), attempt] });

/** The record as read (undefined when there is none), checked to be this run's own. */
export async function readRecord(client: LeanS3, bucket: string, folder: string, run: string): Promise<{ record: JobRecord | undefined; etag: string | undefined }> {
  const key = recordKeyOf(folder);
  const got = await client.get(key).catch((err: unknown) => rethrowS3(err, client, bucket, 'GetObject'));
  if (!got) return { record: undefined, etag: undefined };
  let doc: JobRecord;
  try {
    doc = JSON.parse(got.body.toString('utf8')) as JobRecord;
  } catch {
    throw untrusted(bucket, key, 'not JSON');
  }
  if (doc?.run !== run || !Array.isArray(doc.attempts)) throw untrusted(bucket, key, 'another run, or no attempts');
  doc.attempts.forEach((a, i) => {
    const files = attemptFiles(folder, i + 1);
    const ok = a && a.n === i + 1 && a.token === batchToken({ run, attempt: i + 1 }) && a.manifestKey === files.manifestKey && a.mappingKey === files.mappingKey && typeof a.manifestEtag === 'string' && (a.jobId === null || (typeof a.jobId === 'string' && /^[A-Za-z0-9-]{1,36}$/.test(a.jobId))) && (a.operation === 'LambdaInvoke' || a.operation === 'S3PutObjectCopy') && Number.isInteger(a.objects) && typeof a.merged === 'boolean' && requestOfAttempt(a, bucket, folder);
    if (!ok) throw untrusted(bucket, key, `attempt ${i + 1} is not as retailctl writes it`);
  });
  return { record: doc, etag: got.etag };
}

/** DescribeJob of an attempt's job, checked to read the attempt's manifest; `gone` when S3 no longer knows the job. */
export async function describeAttempt(ctx: CommandContext, aws: AwsContext, accountId: string, bucket: string, attempt: Attempt): Promise<{ status: string; total: number; succeeded: number; failed: number; reasons: string } | 'gone'> {
  const control = await aws.read.client('s3control');
  const { DescribeJobCommand } = await import('@aws-sdk/client-s3-control');
  let job;
  try {
    job = (await control.send(new DescribeJobCommand({ AccountId: accountId, JobId: attempt.jobId! }), { abortSignal: ctx.signal })).Job;
  } catch (err) {
    const name = (err as { aws?: { name?: string }; name?: string }).aws?.name ?? (err as { name?: string }).name;
    if (name === 'NoSuchJob' || name === 'NotFoundException') return 'gone';
    throw err;
  }
  const location = job?.Manifest?.Location;
  if (location && (location.ObjectArn !== `arn:aws:s3:::${bucket}/${attempt.manifestKey}` || (location.ETag ?? '').replace(/"/g, '') !== attempt.manifestEtag.replace(/"/g, ''))) {
    throw new RetailctlError('IMAGES_BATCH_RECORD', `job ${attempt.jobId}, named by attempt ${attempt.n} of s3://${bucket}/${attempt.manifestKey.replace(/\d+\/manifest\.csv$/, 'job.json')}, reads another manifest (${location.ObjectArn}): it is not this migration's job; nothing was written`, { exitCode: ExitCode.Failure });
  }
  const p = job?.ProgressSummary;
  return { status: job?.Status ?? 'Unknown', total: p?.TotalNumberOfTasks ?? 0, succeeded: p?.NumberOfTasksSucceeded ?? 0, failed: p?.NumberOfTasksFailed ?? 0, reasons: (job?.FailureReasons ?? []).map((f) => `${f.FailureCode ?? ''} ${f.FailureReason ?? ''}`.trim()).join('; ') };
}

/**
 * Planning's view of the run's record, read-only: undefined unless the batch engine copies this
 * migration; else the latest attempt and whether this run follows it (its job has not ended, or its
 * report has not been read back, or it was being created), or plans the next one.
 */
export async function batchState(ctx: CommandContext, m: Migration, aws: AwsContext, items: PlanItem[]): Promise<BatchState | undefined> {
  if (!m.s3Source || m.engine === 'direct') return undefined;
  if (chooseEngine(m.engine, true, batchItems(items).length, m.batch).engine !== 'batch' || !m.batch.roleArn) return undefined;
  const run = batchRun(m.bucket, m.prefix, items, batchContentType, m.sse, m.kmsKeyId ?? null);
  const folder = batchFolder(m.prefix, run);
  const client = await aws.read.leanS3(m.bucket, { maxSockets: 1, signal: ctx.signal });
  let record: JobRecord | undefined;
  try {
    ({ record } = await readRecord(client, m.bucket, folder, run));
  } finally {
    client.close();
  }
  const latest = record?.attempts.at(-1);
  if (!latest) return { run, attempt: 0, follow: null };
  const follow = { jobId: latest.jobId, objects: latest.objects, operation: latest.operation };
  if (latest.merged) return { run, attempt: latest.n, follow: null };
  if (!latest.jobId) return { run, attempt: latest.n, follow: { ...follow, status: null } };
  const { callerIdentity } = await import('../aws/identity.js');
  const described = await describeAttempt(ctx, aws, (await callerIdentity(aws.read, ctx.signal)).account, m.bucket, latest);
  // a job S3 no longer knows (records are kept 90 days): its report, if any, was never read back; plan anew
  if (described === 'gone') return { run, attempt: latest.n, follow: null, gone: true };
  return { run, attempt: latest.n, follow: { ...follow, status: described.status } };
}

export function isTerminal(status: string | null | undefined): boolean {
  return status !== null && status !== undefined && TERMINAL.has(status);
}
