/**
 * `images migrate --engine batch`: the copies of an s3:// source handed to one S3 Batch Operations
 * job instead of being made from this machine. Pure: which engine a migration takes, the job's
 * plan (operation, where its files live, what it costs), the lines of its manifest and of
 * retailctl's mapping file, the CreateJob request, and the completion report's rows read back.
 *
 * The operation:
 * - `S3PutObjectCopy` when one request fits every object: each planned key is one prefix in front
 *   of its source key (S3 Batch Operations' TargetKeyPrefix), and every object gets one
 *   Content-Type and one Cache-Control (NewObjectMetadata is one for the whole job);
 * - otherwise `LambdaInvoke` of the copy function (examples/batch-copy-function): each manifest row
 *   carries its source key, planned key, ETag, Content-Type and Cache-Control as URL-encoded JSON in
 *   the key column (S3 Batch Operations' task-level information for Lambda), and the function makes
 *   the same conditional server-side copy the direct engine makes.
 *
 * The job's files live beside the lock, under `<prefix>.retailctl-batch/<run>/` in the destination
 * bucket (a hidden folder: never listed as an image). `<run>` is the hash of the whole migration
 * (every source object, its ETag, its planned key and headers): the same plan on any runner, whatever
 * the job has copied so far. `job.json` there records the run's attempts; attempt N (a job) has its
 * files under `<run>/<N>/`: `manifest.csv`, `mapping.csv` (one row per task: key, source, ETag, size,
 * Content-Type, Cache-Control, action) and the completion report under `report/`; its
 * ClientRequestToken is `retailctl-<run>-<N>`. A rerun follows the latest attempt until its report
 * has been read back; then a new attempt copies only what is still not a copy of its source.
 */
import { createHash } from 'node:crypto';
import { imageTypeByName } from './content.js';
import type { PlanItem } from './plan.js';

/** How many objects make the direct engine the wrong tool (images.batch.minObjects). */
export const DEFAULT_BATCH_MIN_OBJECTS = 1_000_000;
/** The state folder of batch jobs, beside the lock (`<prefix>.retailctl-lock`). */
export const BATCH_FOLDER = '.retailctl-batch';
/** A key in the manifest (the key column) is at most this long, URL-encoded. */
export const MANIFEST_KEY_MAX = 1024;
/** S3 Batch Operations' price (us-east-1): per job, and per million objects. The copies' requests and any Lambda time come on top. */
export const BATCH_PRICE = { job: 0.25, perMillion: 1.0 };

export type Engine = 'auto' | 'direct' | 'batch';
export type BatchOperation = 'S3PutObjectCopy' | 'LambdaInvoke';

export interface BatchSettings {
  roleArn: string | undefined;
  functionArn: string | undefined;
  minObjects: number;
  priority: number;
  pollMs: number;
}

export interface BatchPlan {
  operation: BatchOperation;
  /** Why this operation (shown in the plan). */
  why: string;
  roleArn: string;
  functionArn: string | null;
  /** S3PutObjectCopy: the prefix in front of every source key, the one Content-Type. */
  targetKeyPrefix: string | null;
  contentType: string | null;
  cacheControl: string | null;
  /** The tasks (one per object to copy). */
  objects: number;
  bytes: number;
  run: string;
  /** `<prefix>.retailctl-batch/<run>/`: the run's record (`job.json`). */
  folder: string;
  /** This attempt (1, 2, …) and its folder `<folder><attempt>/`. */
  attempt: number;
  attemptFolder: string;
  /** An attempt an earlier run started and this run follows to its end (no new job), or null. */
  follow: { jobId: string | null; status: string | null } | null;
  /** The unmerged attempt whose job S3 no longer knows, which this attempt replaces (marked `Gone`), or null. */
  supersedes: number | null;
  priority: number;
  pollMs: number;
  /** What S3 Batch Operations charges for the job itself (the copies' requests not included). */
  costUsd: number;
}

/** The engine decision, with the reason the plan shows. */
export interface EngineChoice {
  engine: 'direct' | 'batch';
  why: string;
}

/**
 * Which engine copies: `--engine direct|batch` as asked; `auto` takes batch for an s3:// source of
 * at least `minObjects` objects to copy, when a role is configured (else direct, saying so).
 */
export function chooseEngine(asked: Engine, fromS3: boolean, toCopy: number, settings: Pick<BatchSettings, 'roleArn' | 'minObjects'>): EngineChoice {
  if (asked === 'direct') return { engine: 'direct', why: '--engine direct' };
  if (asked === 'batch') return { engine: 'batch', why: '--engine batch' };
  if (!fromS3) return { engine: 'direct', why: 'not an s3:// source' };
  if (toCopy < settings.minObjects) return { engine: 'direct', why: `${toCopy.toLocaleString('en-US')} objects to copy, under images.batch.minObjects (${settings.minObjects.toLocaleString('en-US')})` };
  if (!settings.roleArn) return { engine: 'direct', why: `${toCopy.toLocaleString('en-US')} objects to copy, at least images.batch.minObjects, but no images.batch.roleArn is configured: copying from this machine` };
  return { engine: 'batch', why: `${toCopy.toLocaleString('en-US')} objects to copy, at least images.batch.minObjects (${settings.minObjects.toLocaleString('en-US')})` };
}

const COPYING = new Set(['upload', 'replace', 'check']);
/** The Content-Type a batch task is planned with, by the name (the copy function sniffs the bytes; S3PutObjectCopy cannot). */
export const batchContentType = (item: PlanItem): string => imageTypeByName(item.image.path) ?? 'application/octet-stream';

/** The items a batch job copies: every one the direct engine would write (a `check` is copied again: server-side, it is cheap). */
export function batchItems(items: PlanItem[]): PlanItem[] {
  return items.filter((i) => COPYING.has(i.action) && i.image.s3 !== undefined);
}

/** Each segment of a key percent-encoded, the slashes kept: the manifest's key column. */
export function encodeManifestKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** The task-level information of a LambdaInvoke row (decoded by the copy function). */
export interface TaskInfo {
  /** Source key. */
  s: string;
  /** Planned key. */
  k: string;
  /** The source's ETag as listed: the copy is conditional on it. */
  e: string;
  /** Content-Type when the bytes say nothing else (the function sniffs the first bytes). */
  t: string;
  /** Cache-Control. */
  c: string;
}

export function taskInfo(item: PlanItem, contentType: string): TaskInfo {
  const s3 = item.image.s3!;
  return { s: s3.key, k: item.key, e: s3.etag, t: contentType, c: item.cacheControl };
}

/** The key column of a LambdaInvoke row: the task's JSON, URL-encoded. */
export function lambdaManifestKey(info: TaskInfo): string {
  return encodeURIComponent(JSON.stringify(info));
}

/** The key column read back (from the completion report): a LambdaInvoke row's task information, else undefined. */
export function decodeTaskInfo(key: string): TaskInfo | undefined {
  // `+` is never written (encodeURIComponent spells a space %20): one read back is a form-encoded space
  for (const text of [key, safeDecode(key.replace(/\+/g, '%20'))]) {
    if (text === undefined || !text.startsWith('{')) continue;
    try {
      const v = JSON.parse(text) as Partial<TaskInfo>;
      if (typeof v.s === 'string' && typeof v.k === 'string' && typeof v.e === 'string') return { s: v.s, k: v.k, e: v.e, t: String(v.t ?? ''), c: String(v.c ?? '') };
    } catch {
      // not JSON: a plain key
    }
  }
  return undefined;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * The run's identity: the whole migration (every source object and ETag, its planned key and
 * headers, the encryption), not what is left to copy: the same on a fresh runner and while a job
 * is half-way, so a rerun finds the job its first run created.
 */
export function batchRun(bucket: string, prefix: string, items: PlanItem[], contentTypeOf: (item: PlanItem) => string, sse: string, kmsKeyId: string | null): string {
  const h = createHash('sha256').update(`${bucket}\n${prefix}\n${sse}\n${kmsKeyId ?? ''}\n`);
  for (const i of items) if (i.image.s3) h.update(`${i.image.s3.bucket}\t${i.image.s3.key}\t${i.image.s3.etag}\t${i.key}\t${i.cacheControl}\t${contentTypeOf(i)}\n`);
  return h.digest('hex').slice(0, 20);
}

/** `<prefix>.retailctl-batch/<run>/`: where the run's record and its attempts' files live. */
export const batchFolder = (prefix: string, run: string): string => `${prefix}${BATCH_FOLDER}/${run}/`;

/** The largest object S3PutObjectCopy copies (S3 Batch Operations' Copy: CopyObject's limit). */
export const BATCH_COPY_MAX = 5 * 1024 ** 3;

/** The one prefix that puts every source key at its planned key, if there is one (S3PutObjectCopy's TargetKeyPrefix). */
export function commonTargetPrefix(items: PlanItem[]): string | undefined {
  let prefix: string | undefined;
  for (const i of items) {
    const source = i.image.s3!.key;
    if (!i.key.endsWith(source)) return undefined;
    const p = i.key.slice(0, i.key.length - source.length);
    if (prefix === undefined) prefix = p;
    else if (p !== prefix) return undefined;
  }
  return prefix;
}

export interface BatchPlanInput {
  bucket: string;
  prefix: string;
  sse: 'AES256' | 'aws:kms';
  kmsKeyId: string | null;
  items: PlanItem[];
  settings: BatchSettings;
  /** The Content-Type by the name (the copy function sniffs the bytes; S3PutObjectCopy cannot). */
  contentTypeOf: (item: PlanItem) => string;
  /** The run's record as read at planning (batch-state.ts), if there is one. */
  state?: BatchState | undefined;
}

/** What the run's record says of its latest attempt (read at planning). */
export interface BatchState {
  /** The run (batchRun of this migration), as planning computed it to find the record. */
  run: string;
  /** The latest attempt's number, 0 when none. */
  attempt: number;
  /** That attempt is not finished for retailctl (its job runs, or its report has not been read back): follow it. */
  follow: { jobId: string | null; status: string | null; objects: number; operation: BatchOperation } | null;
  /** The latest attempt's job is gone from S3 (NoSuchJob) with its report never read back: the next attempt takes its place. */
  gone?: boolean;
}

/** Why a batch plan cannot be made (exit 2 before any write), or the plan. */
export function planBatch(input: BatchPlanInput): BatchPlan | { refusal: string; hint: string } {
  const { settings } = input;
  if (!settings.roleArn) return { refusal: '--engine batch needs the IAM role S3 Batch Operations runs the job as: set images.batch.roleArn', hint: 'docs/iam.md lists the role\'s trust and permissions policies' };
  const run = input.state?.run ?? batchRun(input.bucket, input.prefix, input.items, input.contentTypeOf, input.sse, input.kmsKeyId);
  const folder = batchFolder(input.prefix, run);
  const common = { roleArn: settings.roleArn, run, folder, priority: settings.priority, pollMs: settings.pollMs };
  const follow = input.state?.follow;
  if (follow) {
    const attempt = input.state!.attempt;
    return { ...common, operation: follow.operation, why: `attempt ${attempt} of this migration ${follow.jobId ? `is job ${follow.jobId}` : 'was being created'}: this run follows it to its end`, functionArn: settings.functionArn ?? null, targetKeyPrefix: null, contentType: null, cacheControl: null, objects: follow.objects, bytes: 0, attempt, attemptFolder: `${folder}${attempt}/`, follow: { jobId: follow.jobId, status: follow.status }, supersedes: null, costUsd: 0 };
  }
  const items = batchItems(input.items);
  const chosen = chooseOperation(items, input.bucket, settings, input.contentTypeOf);
  if ('refusal' in chosen) return chosen;
  const { operation, target } = chosen;
  if (operation === 'LambdaInvoke') {
    const long = items.find((i) => lambdaManifestKey(taskInfo(i, input.contentTypeOf(i))).length > MANIFEST_KEY_MAX);
    if (long) return { refusal: `--engine batch: the task of ${long.key} does not fit a manifest row (its keys and headers, URL-encoded, are over ${MANIFEST_KEY_MAX} characters)`, hint: 'copy it with --engine direct, or shorten the key template' };
  }
  const attempt = (input.state?.attempt ?? 0) + 1;
  const bytes = items.reduce((n, i) => n + (i.image.size ?? 0), 0);
  const [contentType] = new Set(items.map(input.contentTypeOf));
  const [cacheControl] = new Set(items.map((i) => i.cacheControl));
  return {
    ...common,
    operation,
    why: chosen.why,
    functionArn: operation === 'LambdaInvoke' ? settings.functionArn! : null,
    targetKeyPrefix: operation === 'S3PutObjectCopy' ? target! : null,
    contentType: operation === 'S3PutObjectCopy' ? (contentType ?? null) : null,
    cacheControl: operation === 'S3PutObjectCopy' ? (cacheControl ?? null) : null,
    objects: items.length,
    bytes,
    attempt,
    attemptFolder: `${folder}${attempt}/`,
    follow: null,
    supersedes: input.state?.gone ? input.state.attempt : null,
    costUsd: Math.round((BATCH_PRICE.job + (items.length / 1e6) * BATCH_PRICE.perMillion) * 100) / 100,
  };
}

/**
 * LambdaInvoke of the copy function whenever one is configured: it makes the copy a direct run
 * makes (typed from the bytes, the source's Content-Encoding/Disposition/Language kept,
 * conditional on the listed ETag, `x-amz-meta-source-etag`). Without one, S3PutObjectCopy only where
 * one request fits every object: each key one prefix in front of its source key, one Content-Type
 * (by the name) and one Cache-Control, no object over 5 GiB.
 */
function chooseOperation(items: PlanItem[], bucket: string, settings: BatchSettings, contentTypeOf: (item: PlanItem) => string): { operation: BatchOperation; target?: string; why: string } | { refusal: string; hint: string } {
  if (settings.functionArn) return { operation: 'LambdaInvoke', why: 'the copy function makes each copy as a direct run does (its own key, type from the bytes, headers kept, conditional on the listed ETag)' };
  const target = commonTargetPrefix(items);
  const hint = 'deploy examples/batch-copy-function as a Lambda function and set images.batch.functionArn to its ARN';
  const refuse = (why: string) => ({ refusal: `--engine batch: ${why}, so each object needs its own copy request: set images.batch.functionArn to the copy function (examples/batch-copy-function)`, hint });
  if (target === undefined || (target === '' && items.some((i) => i.image.s3!.bucket === bucket))) return refuse('the planned keys are not one prefix in front of the source keys');
  if (new Set(items.map(contentTypeOf)).size > 1 || new Set(items.map((i) => i.cacheControl)).size > 1) return refuse('the objects need more than one Content-Type or Cache-Control');
  const big = items.find((i) => (i.image.size ?? 0) > BATCH_COPY_MAX);
  if (big) return refuse(`${big.image.s3!.key} is over 5 GiB (S3PutObjectCopy copies up to 5 GiB)`);
  return { operation: 'S3PutObjectCopy', target, why: `every key is ${target ? `"${target}" + its source key` : 'its source key'}, with one Content-Type (by the name) and one Cache-Control; without a copy function the source's other headers are not kept and the copy is not conditional on the listed ETag` };
}

/** One manifest line per task (CSV: bucket,key; no header, as S3 Batch Operations reads it). */
export function* manifestLines(batch: Pick<BatchPlan, 'operation'>, items: PlanItem[], contentTypeOf: (item: PlanItem) => string): Generator<string> {
  for (const i of batchItems(items)) {
    const s3 = i.image.s3!;
    const key = batch.operation === 'LambdaInvoke' ? lambdaManifestKey(taskInfo(i, contentTypeOf(i))) : encodeManifestKey(s3.key);
    yield `${s3.bucket},${key}\n`;
  }
}

export const MAPPING_COLUMNS = ['key', 'sourceBucket', 'sourceKey', 'etag', 'size', 'contentType', 'cacheControl', 'action', 'replaced', 'index'] as const;
export type MappingRow = Record<(typeof MAPPING_COLUMNS)[number], string>;

/** retailctl's mapping file: what each task copies where, so the report can be read back without the plan. */
export function* mappingRows(items: PlanItem[], contentTypeOf: (item: PlanItem) => string): Generator<MappingRow> {
  for (const i of batchItems(items)) {
    const s3 = i.image.s3!;
    yield { key: i.key, sourceBucket: s3.bucket, sourceKey: s3.key, etag: s3.etag, size: String(i.image.size ?? ''), contentType: contentTypeOf(i), cacheControl: i.cacheControl, action: i.action, replaced: i.existing ? '1' : '', index: String(i.index ?? '') };
  }
}

/** S3 CreateJob's input (S3 Control API, version 2018-08-20), for the manifest written at `manifest`. */
export function createJobInput(batch: BatchPlan, ctx: { accountId: string; bucket: string; sse: 'AES256' | 'aws:kms'; kmsKeyId: string | null; manifestKey: string; manifestEtag: string; description: string }) {
  const arn = (key?: string) => `arn:aws:s3:::${ctx.bucket}${key === undefined ? '' : `/${key}`}`;
  const operation =
    batch.operation === 'S3PutObjectCopy'
      ? {
          S3PutObjectCopy: {
            TargetResource: arn(),
            ...(batch.targetKeyPrefix ? { TargetKeyPrefix: batch.targetKeyPrefix } : {}),
            MetadataDirective: 'REPLACE' as const,
            NewObjectMetadata: { ContentType: batch.contentType ?? 'application/octet-stream', CacheControl: batch.cacheControl ?? '', SSEAlgorithm: ctx.sse === 'aws:kms' ? ('KMS' as const) : ('AES256' as const) },
            ...(ctx.kmsKeyId ? { SSEAwsKmsKeyId: ctx.kmsKeyId } : {}),
            ChecksumAlgorithm: 'SHA256' as const,
          },
        }
      : {
          LambdaInvoke: {
            FunctionArn: batch.functionArn!,
            InvocationSchemaVersion: '2.0',
            UserArguments: { bucket: ctx.bucket, sse: ctx.sse, ...(ctx.kmsKeyId ? { kmsKeyId: ctx.kmsKeyId } : {}) },
          },
        };
  return {
    AccountId: ctx.accountId,
    ConfirmationRequired: true,
    Operation: operation,
    Report: { Bucket: arn(), Format: 'Report_CSV_20180820' as const, Enabled: true, Prefix: `${batch.attemptFolder}report`, ReportScope: 'AllTasks' as const },
    ClientRequestToken: batchToken(batch),
    Manifest: { Spec: { Format: 'S3BatchOperations_CSV_20180820' as const, Fields: ['Bucket' as const, 'Key' as const] }, Location: { ObjectArn: arn(ctx.manifestKey), ETag: ctx.manifestEtag } },
    Description: ctx.description.slice(0, 256),
    Priority: batch.priority,
    RoleArn: batch.roleArn,
  };
}

/** CreateJob's ClientRequestToken of an attempt (≤ 64 characters). */
export const batchToken = (batch: Pick<BatchPlan, 'run' | 'attempt'>): string => `retailctl-${batch.run}-${batch.attempt}`;

/** A completion report row: Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage. */
export interface ReportRow {
  bucket: string;
  key: string;
  status: 'succeeded' | 'failed';
  errorCode: string;
  httpStatus: string;
  message: string;
}

export function reportRow(cells: string[]): ReportRow | undefined {
  if (cells.length < 4) return undefined;
  const status = (cells[3] ?? '').toLowerCase();
  if (status !== 'succeeded' && status !== 'failed') return undefined;
  return { bucket: cells[0] ?? '', key: cells[1] ?? '', status, errorCode: cells[4] ?? '', httpStatus: cells[5] ?? '', message: cells[6] ?? '' };
}

/** What the copy function returns in resultString for a copy it made. */
export interface CopyResult {
  sha256?: string;
  etag?: string;
  contentType?: string;
  size?: number;
  skipped?: string;
}

export function parseCopyResult(message: string): CopyResult | undefined {
  if (!message.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(message) as CopyResult;
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The time left at the rate seen so far, or undefined before any task is done. */
export function etaMs(done: number, total: number, elapsedMs: number): number | undefined {
  if (done <= 0 || elapsedMs <= 0 || total <= done) return done >= total && total > 0 ? 0 : undefined;
  return Math.round(((total - done) * elapsedMs) / done);
}
