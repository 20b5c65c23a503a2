/**
 * S3 Batch Operations for the emulator (test support only): moto's S3 Control has no jobs. This
 * simulates, in the S3 Control REST-XML API (version 2018-08-20), CreateJob, DescribeJob,
 * UpdateJobStatus and ListJobs, and runs the jobs:
 *
 * - CreateJob is checked as AWS documents it: AccountId (x-amz-account-id) of 12 digits, a
 *   ClientRequestToken of 1-64 characters (the same token again answers the same JobId, another
 *   request with it is IdempotencyException), exactly one operation (S3PutObjectCopy or LambdaInvoke
 *   are run; others are refused here), a role ARN, a Priority ≥ 0, a CSV manifest
 *   (S3BatchOperations_CSV_20180820, fields Bucket,Key) given by object ARN and ETag, and an enabled
 *   report with a bucket ARN and Format Report_CSV_20180820.
 * - The job goes New → Preparing (the manifest read from S3; an ETag other than the one given fails
 *   the job with its reason) → Suspended when ConfirmationRequired (UpdateJobStatus Ready moves it
 *   on; Cancelled ends it) → Ready → Active → Complete, Failed or Cancelled, as AWS reports them.
 * - Tasks run `tasksPerSecond` at a time-sliced pace, in the background: the job goes on whatever
 *   happens to the client that created it. S3PutObjectCopy makes the CopyObject (metadata replaced,
 *   the job's NewObjectMetadata, TargetKeyPrefix) through the shim itself; LambdaInvoke calls the
 *   shipped copy function (examples/batch-copy-function) with the documented schema 2.0 event, its S3
 *   client pointed at the shim, and takes its result codes (TemporaryFailure is retried up to 3
 *   times, as Batch Operations retries). `failKeys` (a regular expression of source keys) fails those
 *   tasks permanently.
 * - The completion report is written where AWS writes it: `<Prefix>/job-<id>/manifest.json` and one
 *   `<Prefix>/job-<id>/results/<hash>.csv` per task status (Bucket, Key, VersionId, TaskStatus,
 *   ErrorCode, HTTPStatusCode, ResultMessage), ReportScope AllTasks or FailedTasksOnly.
 * - S3PutObjectCopy of an object over 5 GB fails its task, as AWS's Copy does. DescribeJob answers
 *   with the job's Manifest and Report as given.
 *
 * The key column reaches the copy function as the manifest has it (URL-encoded), as AWS's own
 * examples read it. Not simulated: the task failure threshold that fails a job early, IAM (the role is not assumed:
 * the copies are made with the emulator's credentials), manifests other than CSV, S3 Inventory and
 * manifest generators, job tags and priorities between jobs.
 */
import { createHash, randomUUID } from 'node:crypto';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { XMLParser } from 'fast-xml-parser';

export interface S3BatchShimConfig {
  /** How long Preparing lasts (default 100 ms). */
  preparingMs?: number;
  /** Tasks run a second (default 400). */
  tasksPerSecond?: number;
  /** Source keys (regular expression) whose tasks fail permanently. */
  failKeys?: string;
  /** Keep new jobs in Preparing while set (a test cancels one there, whatever the machine's pace). */
  holdPreparing?: boolean;
}

type Reply = { status: number; headers?: Record<string, string>; body?: string };

export interface BatchJobView {
  id: string;
  status: string;
  token: string;
  operation: string;
  request: unknown;
  total: number;
  succeeded: number;
  failed: number;
  statusUpdates: string[];
}

interface Task {
  bucket: string;
  key: string;
}

interface Job extends BatchJobView {
  accountId: string;
  confirmationRequired: boolean;
  priority: number;
  roleArn: string;
  manifest: { arn: string; etag: string };
  report: { bucket: string; prefix: string; scope: string };
  requestText: string;
  created: string;
  terminated?: string;
  failureReasons: { FailureCode: string; FailureReason: string }[];
  rows: { status: 'succeeded' | 'failed'; line: string }[];
  op: Record<string, unknown>;
}

export const S3_BATCH_PATH = /^\/v20180820\/jobs(?:\/([^/]+))?(\/status)?\/?$/;

const xml = (status: number, body: string): Reply => ({ status, headers: { 'content-type': 'application/xml' }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` });
const esc = (s: unknown) => String(s ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const error = (status: number, code: string, message: string): Reply => xml(status, `<ErrorResponse><Error><Code>${code}</Code><Message>${esc(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
const csvCell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
const bucketOfArn = (arn: string) => /^arn:aws[a-z-]*:s3:::([^/]+)(?:\/(.*))?$/.exec(arn);

export function createS3BatchShim(self: () => string, config: () => S3BatchShimConfig) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let s3: S3Client | undefined;
  // through the shim itself: its S3 rules (copy-source-if-match) and request log apply to the job's copies
  const client = () => (s3 ??= new S3Client({ endpoint: self(), region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'batch-operations', secretAccessKey: 'testing' }, maxAttempts: 2 }));
  let jobs = new Map<string, Job>();
  let closed = false;
  const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'entry' || name === 'member' });

  async function createJob(accountId: string, text: string): Promise<Reply> {
    if (!/^\d{12}$/.test(accountId)) return error(400, 'InvalidRequest', 'AccountId must be 12 digits');
    const doc = (parser.parse(text) as { CreateJobRequest?: Record<string, any> }).CreateJobRequest;
    if (!doc) return error(400, 'MalformedXML', 'expected a CreateJobRequest');
    const token = String(doc.ClientRequestToken ?? '');
    if (token.length < 1 || token.length > 64) return error(400, 'InvalidRequest', 'ClientRequestToken must be 1-64 characters');
    const known = [...jobs.values()].find((j) => j.token === token && j.accountId === accountId);
    if (known) return known.requestText === text ? xml(200, `<CreateJobResult><JobId>${known.id}</JobId></CreateJobResult>`) : error(400, 'IdempotencyException', 'a job with this ClientRequestToken and another request exists');
    const ops = Object.keys(doc.Operation ?? {});
    if (ops.length !== 1) return error(400, 'InvalidRequest', 'exactly one operation is required');
    const operation = ops[0]!;
    if (operation !== 'S3PutObjectCopy' && operation !== 'LambdaInvoke') return error(400, 'InvalidRequest', `the emulator runs S3PutObjectCopy and LambdaInvoke only, not ${operation}`);
    const roleArn = String(doc.RoleArn ?? '');
    if (!/^arn:[^:]+:iam::\d{12}:role\/.+/.test(roleArn)) return error(400, 'InvalidRequest', 'RoleArn must be an IAM role ARN');
    const priority = Number(doc.Priority);
    if (!Number.isInteger(priority) || priority < 0) return error(400, 'InvalidRequest', 'Priority must be an integer ≥ 0');
    const spec = doc.Manifest?.Spec ?? {};
    const fields = ([] as string[]).concat(spec.Fields?.member ?? []);
    if (spec.Format !== 'S3BatchOperations_CSV_20180820' || fields.join(',') !== 'Bucket,Key') return error(400, 'InvalidRequest', 'the emulator reads CSV manifests of Bucket,Key');
    const location = doc.Manifest?.Location ?? {};
    if (!bucketOfArn(String(location.ObjectArn ?? ''))?.[2] || !location.ETag) return error(400, 'InvalidRequest', 'Manifest.Location needs ObjectArn and ETag');
    const report = doc.Report ?? {};
    if (report.Enabled !== 'true') return error(400, 'InvalidRequest', 'the emulator needs an enabled report');
    if (!bucketOfArn(String(report.Bucket ?? '')) || report.Format !== 'Report_CSV_20180820') return error(400, 'InvalidRequest', 'Report needs a bucket ARN and Format Report_CSV_20180820');
    if (operation === 'LambdaInvoke' && String(doc.Operation.LambdaInvoke.InvocationSchemaVersion ?? '1.0') !== '2.0' && doc.Operation.LambdaInvoke.UserArguments) return error(400, 'InvalidRequest', 'UserArguments need InvocationSchemaVersion 2.0');
    const id = randomUUID();
    const job: Job = {
      id,
      status: 'New',
      token,
      operation,
      request: doc,
      total: 0,
      succeeded: 0,
      failed: 0,
      statusUpdates: [],
      accountId,
      confirmationRequired: doc.ConfirmationRequired === 'true',
      priority,
      roleArn,
      manifest: { arn: String(location.ObjectArn), etag: String(location.ETag).replace(/"/g, '') },
      report: { bucket: bucketOfArn(String(report.Bucket))![1]!, prefix: String(report.Prefix ?? ''), scope: String(report.ReportScope ?? 'AllTasks') },
      requestText: text,
      created: new Date().toISOString(),
      failureReasons: [],
      rows: [],
      op: doc.Operation[operation],
    };
    jobs.set(id, job);
    void run(job).catch((err: Error) => {
      job.status = 'Failed';
      job.failureReasons.push({ FailureCode: 'EmulatorError', FailureReason: err.message });
    });
    return xml(200, `<CreateJobResult><JobId>${id}</JobId></CreateJobResult>`);
  }

  async function run(job: Job): Promise<void> {
    await sleep(20);
    // cancelled while New: it never runs
    if ((job.status as string) === 'Cancelled') return void (job.terminated = new Date().toISOString());
    job.status = 'Preparing';
    await sleep(config().preparingMs ?? 100);
    while (config().holdPreparing && job.status === 'Preparing' && !closed) await sleep(20);
    if ((job.status as string) === 'Cancelled') return void (job.terminated = new Date().toISOString());
    const [, bucket, key] = bucketOfArn(job.manifest.arn)!;
    let text: string;
    try {
      const head = await client().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      if ((head.ETag ?? '').replace(/"/g, '') !== job.manifest.etag) throw Object.assign(new Error(`the manifest's ETag is ${head.ETag}, the job was given ${job.manifest.etag}`), { code: 'ManifestETagMismatch' });
      text = await (await client().send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
    } catch (err) {
      job.status = 'Failed';
      job.failureReasons.push({ FailureCode: (err as { code?: string }).code ?? 'ManifestNotReadable', FailureReason: (err as Error).message });
      return;
    }
    const tasks: Task[] = text.split('\n').filter(Boolean).map((line) => {
      const comma = line.indexOf(',');
      return { bucket: line.slice(0, comma), key: line.slice(comma + 1) };
    });
    job.total = tasks.length;
    if (job.confirmationRequired) {
      job.status = 'Suspended';
      while (job.status === 'Suspended' && !closed) await sleep(20);
      if (job.status !== 'Ready') return void (job.terminated = new Date().toISOString());
    }
    job.status = 'Ready';
    await sleep(20);
    job.status = 'Active';
    const rate = config().tasksPerSecond ?? 400;
    const started = Date.now();
    for (let i = 0; i < tasks.length; i++) {
      if ((job.status as string) === 'Cancelling' || closed) break;
      const due = started + (i * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      const outcome = await runTask(job, tasks[i]!).catch((err: Error) => ({ ok: false, code: 'InternalError', http: '500', message: err.message }));
      if (outcome.ok) job.succeeded++;
      else job.failed++;
      if (outcome.ok ? job.report.scope === 'AllTasks' : true) job.rows.push({ status: outcome.ok ? 'succeeded' : 'failed', line: [tasks[i]!.bucket, tasks[i]!.key, '', outcome.ok ? 'succeeded' : 'failed', outcome.code, outcome.http, outcome.message].map(csvCell).join(',') });
    }
    await writeReport(job);
    job.status = (job.status as string) === 'Cancelling' ? 'Cancelled' : 'Complete';
    job.terminated = new Date().toISOString();
  }

  async function runTask(job: Job, task: Task): Promise<{ ok: boolean; code: string; http: string; message: string }> {
    const failKeys = config().failKeys;
    if (failKeys && new RegExp(failKeys).test(decodeKey(task.key))) return { ok: false, code: 'AccessDenied', http: '403', message: 'Access Denied (failKeys)' };
    if (job.operation === 'S3PutObjectCopy') {
      const op = job.op as Record<string, any>;
      const target = bucketOfArn(String(op.TargetResource))![1]!;
      const sourceKey = decodeKey(task.key);
      const meta = op.NewObjectMetadata ?? {};
      const head = await client().send(new HeadObjectCommand({ Bucket: task.bucket, Key: sourceKey })).catch(() => undefined);
      if ((head?.ContentLength ?? 0) > 5 * 1024 ** 3) return { ok: false, code: 'InvalidRequest', http: '400', message: 'the object is larger than 5 GB: S3 Batch Operations Copy copies objects up to 5 GB' };
      try {
        await client().send(new CopyObjectCommand({ Bucket: target, Key: `${op.TargetKeyPrefix ?? ''}${sourceKey}`, CopySource: `${task.bucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`, MetadataDirective: 'REPLACE', ContentType: meta.ContentType, CacheControl: meta.CacheControl, ServerSideEncryption: meta.SSEAlgorithm === 'KMS' ? 'aws:kms' : 'AES256', ...(op.SSEAwsKmsKeyId ? { SSEKMSKeyId: op.SSEAwsKmsKeyId } : {}), ...(op.ChecksumAlgorithm ? { ChecksumAlgorithm: op.ChecksumAlgorithm } : {}) }));
        return { ok: true, code: '', http: '200', message: 'Successful' };
      } catch (err) {
        return { ok: false, code: (err as Error).name, http: String((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 500), message: (err as Error).message };
      }
    }
    const op = job.op as Record<string, any>;
    const userArguments = Object.fromEntries(([] as { key: string; value: string }[]).concat(op.UserArguments?.entry ?? []).map((e) => [e.key, e.value]));
    const { makeHandler } = (await import(new URL('../../examples/batch-copy-function/index.mjs', import.meta.url).href)) as { makeHandler: (s3: S3Client) => (event: unknown) => Promise<{ results: { taskId: string; resultCode: string; resultString: string }[] }> };
    const handler = makeHandler(client());
    for (let attempt = 1; ; attempt++) {
      const taskId = randomUUID();
      const response = await handler({ invocationSchemaVersion: '2.0', invocationId: randomUUID(), job: { id: job.id, userArguments }, tasks: [{ taskId, s3Bucket: task.bucket, s3Key: task.key, s3VersionId: null }] });
      const result = response.results.find((r) => r.taskId === taskId);
      if (!result) return { ok: false, code: 'PermanentFailure', http: '200', message: 'the function returned no result for the task' };
      if (result.resultCode === 'Succeeded') return { ok: true, code: '', http: '200', message: result.resultString };
      if (result.resultCode === 'TemporaryFailure' && attempt < 3) continue;
      return { ok: false, code: result.resultCode, http: '200', message: result.resultString };
    }
  }

  /** As AWS writes it: one result file per task status (succeeded, failed), listed in manifest.json. */
  async function writeReport(job: Job): Promise<void> {
    const base = `${job.report.prefix.replace(/\/$/, '')}/job-${job.id}`;
    const results = [];
    for (const status of ['succeeded', 'failed']) {
      const rows = job.rows.filter((r) => r.status === status).map((r) => r.line);
      if (!rows.length) continue;
      const body = `${rows.join('\n')}\n`;
      const name = `${base}/results/${createHash('sha1').update(job.id + status).digest('hex')}.csv`;
      await client().send(new PutObjectCommand({ Bucket: job.report.bucket, Key: name, Body: body, ServerSideEncryption: 'AES256' }));
      results.push({ TaskExecutionStatus: status, Bucket: `arn:aws:s3:::${job.report.bucket}`, MD5Checksum: createHash('md5').update(body).digest('hex'), Key: name });
    }
    const manifest = { Format: 'Report_CSV_20180820', ReportCreationDate: new Date().toISOString(), Results: results, ReportSchema: 'Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage' };
    await client().send(new PutObjectCommand({ Bucket: job.report.bucket, Key: `${base}/manifest.json`, Body: JSON.stringify(manifest), ServerSideEncryption: 'AES256' }));
  }

  function describe(job: Job): string {
    const failures = job.failureReasons.map((f) => `<JobFailure><FailureCode>${esc(f.FailureCode)}</FailureCode><FailureReason>${esc(f.FailureReason)}</FailureReason></JobFailure>`).join('');
    return `<JobId>${job.id}</JobId><ConfirmationRequired>${job.confirmationRequired}</ConfirmationRequired><Status>${job.status}</Status><Priority>${job.priority}</Priority><RoleArn>${esc(job.roleArn)}</RoleArn><CreationTime>${job.created}</CreationTime><Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member><member>Key</member></Fields></Spec><Location><ObjectArn>${esc(job.manifest.arn)}</ObjectArn><ETag>${esc(job.manifest.etag)}</ETag></Location></Manifest><Report><Bucket>arn:aws:s3:::${esc(job.report.bucket)}</Bucket><Format>Report_CSV_20180820</Format><Enabled>true</Enabled><Prefix>${esc(job.report.prefix)}</Prefix><ReportScope>${esc(job.report.scope)}</ReportScope></Report>${job.terminated ? `<TerminationDate>${job.terminated}</TerminationDate>` : ''}<ProgressSummary><TotalNumberOfTasks>${job.total}</TotalNumberOfTasks><NumberOfTasksSucceeded>${job.succeeded}</NumberOfTasksSucceeded><NumberOfTasksFailed>${job.failed}</NumberOfTasksFailed></ProgressSummary>${failures ? `<FailureReasons>${failures}</FailureReasons>` : ''}`;
  }

  function updateStatus(job: Job, url: URL): Reply {
    const requested = url.searchParams.get('requestedJobStatus');
    if (requested === 'Ready') {
      if (job.status !== 'Suspended') return error(400, 'JobStatusException', `a job in ${job.status} cannot be confirmed`);
      job.status = 'Ready';
    } else if (requested === 'Cancelled') {
      if (['Complete', 'Failed', 'Cancelled'].includes(job.status)) return error(400, 'JobStatusException', `a job in ${job.status} cannot be cancelled`);
      job.status = job.status === 'Active' ? 'Cancelling' : 'Cancelled';
    } else return error(400, 'InvalidRequest', 'requestedJobStatus must be Ready or Cancelled');
    job.statusUpdates.push(`${requested}: ${url.searchParams.get('statusUpdateReason') ?? ''}`);
    return xml(200, `<UpdateJobStatusResult><JobId>${job.id}</JobId><Status>${job.status}</Status></UpdateJobStatusResult>`);
  }

  return {
    async handle(method: string, url: URL, accountId: string, body: Buffer): Promise<Reply> {
      const [, id, status] = S3_BATCH_PATH.exec(url.pathname)!;
      if (!id && method === 'POST') return createJob(accountId, body.toString('utf8'));
      if (!id && method === 'GET') return xml(200, `<ListJobsResult><Jobs>${[...jobs.values()].filter((j) => j.accountId === accountId).map((j) => `<member><JobId>${j.id}</JobId><Operation>${j.operation}</Operation><Status>${j.status}</Status><CreationTime>${j.created}</CreationTime></member>`).join('')}</Jobs></ListJobsResult>`);
      const job = id ? jobs.get(id) : undefined;
      if (!job || job.accountId !== accountId) return error(404, 'NoSuchJob', `the job ${id} does not exist`);
      if (status && method === 'POST') return updateStatus(job, url);
      if (!status && method === 'GET') return xml(200, `<DescribeJobResult><Job>${describe(job)}</Job></DescribeJobResult>`);
      return error(405, 'MethodNotAllowed', `${method} ${url.pathname}`);
    },
    jobs: (): BatchJobView[] => [...jobs.values()].map(({ id, status, token, operation, request, total, succeeded, failed, statusUpdates }) => ({ id, status, token, operation, request, total, succeeded, failed, statusUpdates })),
    /** Cancel a job (as UpdateJobStatus Cancelled from the console would); false when it has ended. */
    cancel(id: string): boolean {
      const job = jobs.get(id);
      if (!job || ['Complete', 'Failed', 'Cancelled'].includes(job.status)) return false;
      job.status = job.status === 'Active' ? 'Cancelling' : 'Cancelled';
      job.statusUpdates.push('Cancelled: by hand');
      return true;
    },
    reset() {
      for (const j of jobs.values()) if (!['Complete', 'Failed', 'Cancelled'].includes(j.status)) j.status = 'Cancelling';
      jobs = new Map();
    },
    close() {
      closed = true;
      s3?.destroy();
    },
  };
}

function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}
