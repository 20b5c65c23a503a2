import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { AwsClients } from '../aws/context.js';
import type { CdnPlan } from './plan.js';

/** One line of the CDN audit log (JSON Lines). */
export interface AuditEntry {
  time: string;
  /** Caller identity ARN (sts:GetCallerIdentity). */
  caller: string;
  group: string;
  action: CdnPlan['action'];
  routing: CdnPlan['routing'];
  trafficBefore: string;
  trafficAfter: string;
  /** Per record: the record sets before and after. */
  records: CdnPlan['records'];
  healthCheckUpdates: CdnPlan['healthCheckUpdates'];
  /** Route 53 change id, for weighted changes. */
  changeId?: string;
}

export interface AuditTargets {
  /** Local JSONL file (appended). */
  file: string;
  /** S3 bucket for a copy of every entry (cdn.auditBucket). */
  bucket?: string;
}

/** Append to the local log, and put a copy in S3 when configured. Returns where it went. */
export async function writeAudit(entry: AuditEntry, targets: AuditTargets, write: AwsClients | undefined): Promise<{ file: string; s3Key?: string }> {
  await mkdir(path.dirname(targets.file), { recursive: true });
  await appendFile(targets.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  if (!targets.bucket || !write) return { file: targets.file };
  const s3 = await write.client('s3');
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const key = `retailctl/cdn-audit/${entry.group}/${entry.time.replace(/[:.]/g, '-')}-${(entry.changeId ?? 'healthcheck').replace(/^\/change\//, '')}.json`;
  await s3.send(new PutObjectCommand({ Bucket: targets.bucket, Key: key, Body: JSON.stringify(entry, null, 2), ContentType: 'application/json', ServerSideEncryption: 'AES256' }));
  return { file: targets.file, s3Key: key };
}
