import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import type { AwsClients } from '../aws/context.js';
import { awsErrorName, ExitCode, RetailctlError } from '../errors.js';
import { checkOutputFile, makeDirs, resolveOutputPath } from '../io/paths.js';
import type { CdnPlan } from './plan.js';
import type { Verification } from './verify.js';

/** One line of the CDN audit log (JSON Lines). */
export interface AuditEntry {
  time: string;
  /** Caller identity ARN (sts:GetCallerIdentity). */
  caller: string;
  group: string;
  action: CdnPlan['action'] | 'drill';
  routing: CdnPlan['routing'];
  /**
   * `applied`: the whole plan was applied; `noop`: traffic already went there, nothing was written;
   * `partial`: some health-check updates were applied before a failure or an interrupt (`records`
   * and `healthCheckUpdates` list only what was applied); `unknown`: a write was sent and its answer
   * never came (connection lost, or abandoned after a second Ctrl-C) — `retailctl cdn status` shows
   * whether it was applied. A `drill` line has outcome `applied` when it was rolled back (its times
   * in `drill`), `partial` when the rollback failed. `verified` / `not-verified`: the DNS check of
   * an applied change, a line of its own after the change's (`follows` is that line's `time`), so
   * that the change is on record before the wait. `started`: a drill's change was applied (written
   * before its hold; the drill's end line follows it).
   */
  outcome: 'applied' | 'noop' | 'partial' | 'unknown' | 'verified' | 'not-verified' | 'started';
  /** A `verified` / `not-verified` line: the `time` of the change's line it follows. */
  follows?: string;
  trafficBefore: string;
  trafficAfter: string;
  /** Per record: the record sets before and after. */
  records: CdnPlan['records'];
  healthCheckUpdates: CdnPlan['healthCheckUpdates'];
  /** Route 53 change id, for weighted changes. */
  changeId?: string;
  /** Why the run ended early (partial) or why nothing was done (noop). */
  note?: string;
  /** Applied changes: whether Route 53 and the resolvers gave the new answer, and how long after the change, per record and resolver. */
  verification?: Verification;
  /** `cdn drill`: what was measured (drill.ts). */
  drill?: Record<string, unknown>;
}

export interface AuditTargets {
  /** Local JSONL file (appended). */
  file: string;
  /** S3 bucket for a copy of every entry (cdn.auditBucket). */
  bucket?: string;
}

/** Where an entry went, and what failed. */
export interface AuditResult {
  file?: string;
  s3Key?: string;
  /** One line per destination that could not be written. */
  errors: string[];
}

/**
 * Before any change: the audit log must be appendable and the audit bucket reachable, or the run
 * stops with exit 2 and nothing changed (a failover nobody can account for afterwards is worse
 * than one that did not start). HeadBucket needs s3:ListBucket on the bucket (docs/iam.md).
 */
export async function checkAuditTargets(targets: AuditTargets, read: AwsClients, signal: AbortSignal): Promise<void> {
  await checkOutputFile(targets.file, 'cdn.auditLog', { stdout: false });
  if (!targets.bucket) return;
  const s3 = await read.client('s3');
  const { HeadBucketCommand } = await import('@aws-sdk/client-s3');
  try {
    await s3.send(new HeadBucketCommand({ Bucket: targets.bucket }), { abortSignal: signal });
  } catch (err) {
    if (signal.aborted) throw err;
    const status = err instanceof RetailctlError ? err.aws?.httpStatus : undefined;
    const name = awsErrorName(err);
    const missing = status === 404 || name === 'NotFound' || name === 'NoSuchBucket';
    const denied = status === 403 || name === 'AccessDenied' || name === 'Forbidden';
    if (!missing && !denied) throw err;
    throw new RetailctlError('CDN_AUDIT_UNUSABLE', `cdn.auditBucket: ${missing ? `bucket "${targets.bucket}" does not exist` : `access to bucket "${targets.bucket}" is denied`}, so the change could not be audited: nothing was changed`, {
      exitCode: ExitCode.Usage,
      cause: err,
      hint: missing ? 'create the bucket or fix cdn.auditBucket in the config' : 'grant s3:ListBucket (for this check) and s3:PutObject on retailctl/cdn-audit/* (docs/iam.md)',
    });
  }
}

/**
 * Append to the local log, and put a copy in S3 when configured (with a side-write client: it is
 * made after the first Ctrl-C too). Never throws: what could not be written is in `errors`.
 */
export async function writeAudit(entry: AuditEntry, targets: AuditTargets, write: AwsClients | undefined): Promise<AuditResult> {
  const result: AuditResult = { errors: [] };
  try {
    const file = await resolveOutputPath(targets.file);
    await makeDirs(path.dirname(file));
    await appendFile(file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    result.file = targets.file;
  } catch (err) {
    result.errors.push(`${targets.file}: ${(err as Error).message}`);
  }
  if (!targets.bucket || !write) return result;
  const key = `retailctl/cdn-audit/${entry.group}/${entry.time.replace(/[:.]/g, '-')}-${(entry.changeId ?? entry.outcome).replace(/^\/change\//, '')}${(entry.follows || entry.outcome === 'started') && entry.changeId ? `-${entry.outcome}` : ''}.json`;
  try {
    const s3 = await write.client('s3');
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new PutObjectCommand({ Bucket: targets.bucket, Key: key, Body: JSON.stringify(entry, null, 2), ContentType: 'application/json', ServerSideEncryption: 'AES256' }));
    result.s3Key = key;
  } catch (err) {
    result.errors.push(`s3://${targets.bucket}/${key}: ${(err as Error).message}`);
  }
  return result;
}
