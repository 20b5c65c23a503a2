/**
 * `retailctl images verify --manifest <file>`: read-only. Every uploaded or unchanged row of a
 * manifest must exist in S3 with the same size and the sha256 the migration stored with it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, isAwsError, RetailctlError } from '../errors.js';

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

async function readManifest(file: string, shown: string, bucketOverride?: string): Promise<Row[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RetailctlError('IMAGES_MANIFEST', `cannot read the manifest ${shown}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { exitCode: ExitCode.Usage });
  }
  let records: { at: string; r: Record<string, unknown> }[];
  if (file.toLowerCase().endsWith('.json')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new RetailctlError('IMAGES_MANIFEST', `${shown} is not valid JSON: ${(err as Error).message}`, { exitCode: ExitCode.Usage });
    }
    if (!Array.isArray(doc)) throw new RetailctlError('IMAGES_MANIFEST', `${shown}: expected the JSON array images migrate --manifest writes`, { exitCode: ExitCode.Usage });
    records = doc.map((r, i) => ({ at: `${shown} item ${i + 1}`, r: r as Record<string, unknown> }));
  } else {
    const { parse } = await import('csv-parse/sync');
    const parsed = parse(text, { columns: true, bom: true, info: true, skip_empty_lines: true }) as { record: Record<string, string>; info: { lines: number } }[];
    records = parsed.map(({ record, info }) => ({ at: `${shown}:${info.lines}`, r: record }));
  }
  const rows: Row[] = [];
  for (const { at, r } of records) {
    if (r.status !== 'uploaded' && r.status !== 'skipped') continue;
    const bucket = bucketOverride ?? String(r.bucket ?? '');
    if (!r.key || !r.sha256 || r.size === undefined || r.size === '' || !bucket) {
      throw new RetailctlError('IMAGES_MANIFEST', `${at}: needs key, size, sha256 and bucket (pass --bucket for manifests without it)`, { exitCode: ExitCode.Usage });
    }
    rows.push({ at, key: String(r.key), size: Number(r.size), sha256: String(r.sha256), bucket });
  }
  return rows;
}

export async function imagesVerify(ctx: CommandContext, request: VerifyRequest): Promise<CommandResult> {
  const rows = await readManifest(path.resolve(ctx.cwd, request.manifest), request.manifest, request.bucket);
  const s3 = await (await ctx.aws()).read.client('s3');
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const { default: pLimit } = await import('p-limit');
  const limit = pLimit(request.concurrency);
  const problems: { key: string; row: string; problem: string }[] = [];
  await Promise.all(
    rows.map((row) =>
      limit(async () => {
        try {
          const head = await s3.send(new HeadObjectCommand({ Bucket: row.bucket, Key: row.key }), { abortSignal: ctx.signal });
          if (head.ContentLength !== row.size) problems.push({ key: row.key, row: row.at, problem: `size ${head.ContentLength} in S3, ${row.size} in the manifest` });
          else if (head.Metadata?.sha256 !== row.sha256) problems.push({ key: row.key, row: row.at, problem: head.Metadata?.sha256 ? 'sha256 differs' : 'no sha256 stored with the object' });
        } catch (err) {
          if (isAwsError(err, 'NotFound', 'NoSuchKey')) problems.push({ key: row.key, row: row.at, problem: 'missing in S3' });
          else throw err;
        }
      }),
    ),
  );
  problems.sort((a, b) => (a.key < b.key ? -1 : 1));
  const text = problems.length
    ? [`${problems.length} of ${rows.length} objects do not match the manifest:`, ...problems.slice(0, 20).map((p) => `  ${p.key} (${p.row}): ${p.problem}`), ...(problems.length > 20 ? [`  … and ${problems.length - 20} more (--json lists them)`] : [])].join('\n')
    : `all ${rows.length} objects match the manifest (size and sha256)`;
  return { exitCode: problems.length ? ExitCode.CheckFailed : ExitCode.Ok, data: { checked: rows.length, mismatches: problems.length, problems: problems.slice(0, 1000) }, text };
}
