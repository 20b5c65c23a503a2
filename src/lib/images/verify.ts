/**
 * `retailctl images verify --manifest <file>`: read-only. Every uploaded or unchanged row of a
 * manifest must exist in S3 with the same size and the sha256 the migration stored with it.
 */
import path from 'node:path';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, isAwsError, RetailctlError } from '../errors.js';
import { shown } from '../util/sanitize.js';
import { manifestError, readManifestRecords } from './manifest-file.js';
import { sha256Of } from './execute.js';
import { BUCKET_NAME } from '../aws/names.js';

export interface VerifyRequest {
  manifest: string;
  bucket?: string;
  concurrency: number;
}

interface Row {
  at: string;
  key: string;
  size: number;
  sha256: string;
  bucket: string;
}

/** The columns images migrate --manifest writes that verify reads (bucket too, unless --bucket is given). */
const NEEDED = ['key', 'size', 'sha256', 'status'] as const;
/** Rows that say the object is in S3 as the manifest describes it. */
const VERIFIABLE = new Set(['uploaded', 'skipped']);

async function readManifest(file: string, given: string, bucketOverride?: string): Promise<{ rows: Row[]; total: number; statuses: Record<string, number> }> {
  const label = `--manifest ${shown(given)}`;
  const { records, columns, cell: cellOf } = await readManifestRecords(file, given, label, [...NEEDED, 'bucket']);
  const missing = [...NEEDED, ...(bucketOverride ? [] : ['bucket'])].filter((c) => !columns.includes(c));
  if (missing.length) {
    throw manifestError(
      `${label}: not a manifest written by images migrate --manifest: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (it has ${columns.slice(0, 12).map((c) => shown(c, 40)).join(', ') || 'none'}${columns.length > 12 ? ', …' : ''})`,
      missing.length === 1 && missing[0] === 'bucket' ? 'pass --bucket <name> for a manifest without a bucket column' : undefined,
    );
  }
  const rows: Row[] = [];
  const statuses: Record<string, number> = {};
  for (const { at, r } of records) {
    const status = String(r.status ?? '');
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (!VERIFIABLE.has(status)) continue;
    const cell = (c: string) => cellOf(r, c);
    const bucket = bucketOverride ?? cell('bucket');
    const key = cell('key');
    const size = cell('size');
    const sha256 = cell('sha256');
    if (!key || size === '' || !bucket) throw manifestError(`${at}: needs key, size and bucket (pass --bucket for manifests without it)`);
    if (!/^\d{1,15}$/.test(size)) throw manifestError(`${at}: size ${shown(size, 40)} is not a number of bytes`);
    // no sha256: a server-side copy in parts of a source that carried none; its size is all there is to check
    if (sha256 !== '' && !/^[0-9a-f]{64}$/.test(sha256)) throw manifestError(`${at}: sha256 ${shown(sha256, 80)} is not 64 hex characters`);
    if (Buffer.byteLength(key) > 1024) throw manifestError(`${at}: key ${shown(key, 80)} is longer than S3's 1,024 bytes`);
    rows.push({ at, key, size: Number(size), sha256, bucket });
  }
  return { rows, total: records.length, statuses };
}


export async function imagesVerify(ctx: CommandContext, request: VerifyRequest): Promise<CommandResult> {
  const { rows, total, statuses } = await readManifest(path.resolve(ctx.cwd, request.manifest), request.manifest, request.bucket);
  if (rows.length === 0) {
    // a check that checked nothing has not passed: a header-only manifest is a migration that did not happen
    const what = total === 0 ? 'has no rows (a header only)' : `has ${total} row${total === 1 ? '' : 's'}, none uploaded or unchanged (${Object.entries(statuses).map(([s, n]) => `${n} ${shown(s, 40) || '(no status)'}`).join(', ')})`;
    throw new RetailctlError('IMAGES_NOTHING_VERIFIED', `--manifest ${shown(request.manifest)} ${what}: nothing was verified`, {
      exitCode: ExitCode.CheckFailed,
      hint: 'verify the manifest of a run that uploaded images (images migrate --manifest)',
      data: { checked: 0, rows: total, statuses },
    });
  }
  const s3 = await (await ctx.aws()).read.client('s3');
  const { HeadBucketCommand, HeadObjectCommand } = await import('@aws-sdk/client-s3');
  // a bucket that is not a name, or not there, is a wrong --bucket or manifest: not "every object missing"
  const from = request.bucket ? '--bucket' : `--manifest ${shown(request.manifest)}`;
  for (const bucket of new Set(rows.map((r) => r.bucket))) {
    if (!BUCKET_NAME.test(bucket)) throw manifestError(`${from}: ${shown(bucket, 80)} is not an S3 bucket name`, 'check --bucket, or the bucket column of the manifest');
    try {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: ctx.signal });
    } catch (err) {
      if (isAwsError(err, 'NotFound', 'NoSuchBucket')) throw manifestError(`${from}: bucket ${shown(bucket, 80)} does not exist (check the name, the region and the account)`, 'check --bucket, or the bucket column of the manifest');
      throw err;
    }
  }
  const { default: pLimit } = await import('p-limit');
  const limit = pLimit(request.concurrency);
  const problems: { key: string; row: string; problem: string }[] = [];
  let sizeOnly = 0;
  await Promise.all(
    rows.map((row) =>
      limit(async () => {
        try {
          // uploads store the sha256 as metadata; server-side copies have S3's own SHA-256 checksum
          const head = await s3.send(new HeadObjectCommand({ Bucket: row.bucket, Key: row.key, ChecksumMode: 'ENABLED' }), { abortSignal: ctx.signal });
          const stored = sha256Of(head);
          if (head.ContentLength !== row.size) problems.push({ key: row.key, row: row.at, problem: `size ${head.ContentLength} in S3, ${row.size} in the manifest` });
          else if (row.sha256 === '') sizeOnly++;
          else if (stored !== row.sha256) problems.push({ key: row.key, row: row.at, problem: stored ? 'sha256 differs' : 'no sha256 stored with the object' });
        } catch (err) {
          if (isAwsError(err, 'NotFound', 'NoSuchKey')) problems.push({ key: row.key, row: row.at, problem: 'missing in S3' });
          else throw err;
        }
      }),
    ),
  );
  problems.sort((a, b) => (a.key < b.key ? -1 : 1));
  const text = problems.length
    ? [`${problems.length} of ${rows.length} objects do not match the manifest:`, ...problems.slice(0, 20).map((p) => `  ${shown(p.key)} (${p.row}): ${p.problem}`), ...(problems.length > 20 ? [`  … and ${problems.length - 20} more (--json lists them)`] : [])].join('\n')
    : `all ${rows.length} objects match the manifest (size and sha256${sizeOnly ? `; ${sizeOnly} by size only: the manifest has no sha256 for them` : ''})`;
  return { exitCode: problems.length ? ExitCode.CheckFailed : ExitCode.Ok, data: { checked: rows.length, mismatches: problems.length, sizeOnly, problems: problems.slice(0, 1000) }, text };
}
