/**
 * The `images.migrate` plan kind for the shared apply step. A plan file is the whole migration plan
 * (migration-plan.ts, items included) plus under `run` what the request gave execution and the
 * report (state directory, manifest and redirects, lock expiry, give-up-after, wait, the audit), so
 * `retailctl apply` needs nothing but `--yes`. Preconditions: every planned key's object as listed
 * (size and ETag, or absent) and every uploaded source file's size and sha256. Apply takes the same
 * bucket lock as the direct command and makes every write conditional on the object the plan saw.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { AwsContext } from '../aws/context.js';
import type { LeanS3 } from '../aws/lean-s3.js';
import type { CommandContext, CommandResult } from '../context.js';
import { RetailctlError } from '../errors.js';
import { shellQuote } from '../io/prompt.js';
import { parsePlanObject, type PlanAction, type Precondition } from '../plan/document.js';
import type { ExecuteMode, KindHandler } from '../plan/handler.js';
import { mdTable, mdText } from '../util/markdown.js';
import { hashStream, writeCondition } from './execute.js';
import { rethrowS3, type MigrationAudit } from './gather.js';
import { MigrationLock, type Shard } from './lock.js';
import { executeBatch } from './batch.js';
import { executeMigration } from './migrate.js';
import type { MigrationPlan } from './migration-plan.js';
import { migrationResult, summarise, type Summary } from './outcome.js';
import type { PlanItem } from './plan.js';
import { describePlan, mb, targetOf } from './render.js';
import { fileOf } from './source.js';
import { BUCKET_NAME } from '../aws/names.js';

/** What execution and the report take from the request, resolved when the plan was made. */
export interface MigrationRun {
  /** Absolute: the journal and the local lock. */
  stateDir: string;
  /** As given (shown in messages). */
  shownStateDir: string;
  stateFile: string;
  /** Absolute paths of the outputs, or null. */
  manifest: string | null;
  redirects: string | null;
  redirectFrom: string;
  lockExpiryMs: number;
  giveUpAfterMs: number;
  waitMs: number;
  audit: MigrationAudit;
}

/** A migration plan as the apply step carries it: the plan and how to run it. */
export type MigrationPlanFile = MigrationPlan & { run: MigrationRun };

/** How the direct command reaches the executor: under the lock it already holds, its clock started. */
export interface MigrateExecuteMode extends ExecuteMode {
  lock?: MigrationLock;
  started?: number;
}

const UPLOADING = new Set(['upload', 'replace', 'check']);
const uploads = (plan: Pick<MigrationPlan, 'items'>): PlanItem[] => plan.items.filter((i) => UPLOADING.has(i.action));
const work = (plan: MigrationPlan) => plan.items.length - plan.counts.skip - plan.counts.empty;

const objectId = (bucket: string, key: string) => `s3:${bucket}/${key}`;
const sourceId = (p: string) => `source:${p}`;

/**
 * The preconditions, exactly: one per planned key (the object as listed, or null when absent) and one
 * per source file of an upload (size and sha256; mtime is left out, it is not stable across checkouts).
 */
export function migrationPreconditions(plan: MigrationPlan): Precondition[] {
  const out: Precondition[] = plan.items.map((i) => ({ id: objectId(plan.bucket, i.key), what: `s3://${plan.bucket}/${i.key}`, value: i.existing ? { size: i.existing.size, etag: i.existing.etag } : null }));
  const hashes = new Map(plan.preconditions.sources.map((s) => [s.path, s.sha256]));
  const seen = new Set<string>();
  for (const i of uploads(plan)) {
    if (seen.has(i.image.path)) continue;
    seen.add(i.image.path);
    out.push({ id: sourceId(i.image.path), what: `source image ${i.image.path}`, value: { size: i.image.size ?? null, sha256: hashes.get(i.image.path) ?? null } });
  }
  return out;
}

/** --plan-out: the sha256 of every source file to upload that planning did not already read (8 at a time). */
export async function hashUploadSources(plan: MigrationPlan, signal: AbortSignal): Promise<MigrationPlan> {
  const byPath = new Map(uploads(plan).map((i) => [i.image.path, i.image]));
  const sources = plan.preconditions.sources.map((s) => ({ ...s }));
  const todo = sources.filter((s) => s.sha256 === null && byPath.has(s.path));
  const { default: pLimit } = await import('p-limit');
  const limit = pLimit(8);
  await Promise.all(
    todo.map((s) =>
      limit(async () => {
        signal.throwIfAborted();
        s.sha256 = (await hashStream(fileOf(byPath.get(s.path)!), false)).sha256.toString('hex');
      }),
    ),
  );
  return { ...plan, preconditions: { ...plan.preconditions, sources } };
}

/** The planned keys and uploaded source files read again now, keyed from the plan's own items. */
async function observeMigration(ctx: CommandContext, aws: AwsContext, plan: MigrationPlanFile): Promise<Precondition[]> {
  const lister = await aws.read.leanS3(plan.bucket, { maxSockets: 4, signal: ctx.signal });
  let listed;
  try {
    listed = await lister.list(plan.prefix).catch((err: unknown) => rethrowS3(err, lister, plan.bucket, 'ListObjectsV2'));
  } finally {
    lister.close();
  }
  const out: Precondition[] = plan.items.map((i) => {
    const o = listed.get(i.key);
    return { id: objectId(plan.bucket, i.key), what: `s3://${plan.bucket}/${i.key}`, value: o ? { size: o.size, etag: o.etag } : null };
  });
  const seen = new Set<string>();
  const files = uploads(plan).filter((i) => !seen.has(i.image.path) && Boolean(seen.add(i.image.path)));
  const { default: pLimit } = await import('p-limit');
  const limit = pLimit(8);
  const read = await Promise.all(
    files.map((i) =>
      limit(async () => {
        const file = fileOf(i.image);
        const info = await stat(file).catch(() => undefined);
        const value = info?.isFile() ? { size: info.size, sha256: (await hashStream(file, false)).sha256.toString('hex') } : null;
        return { id: sourceId(i.image.path), what: `source image ${i.image.path}`, value };
      }),
    ),
  );
  return [...out, ...read];
}

/** Every write call, in order: the unfinished multipart uploads aborted, the uploads (conditional), the invalidation. */
function migrationActions(plan: MigrationPlanFile): PlanAction[] {
  const byKey = new Map(plan.items.map((i) => [i.key, i]));
  const target = (key: string) => `s3://${plan.bucket}/${key}`;
  return [
    ...plan.actions.abortMultipartUploads.map((u) => ({ call: 's3:AbortMultipartUpload', target: target(u.key), summary: 'abort an unfinished multipart upload of an interrupted run', params: { Key: u.key, UploadId: u.uploadId } })),
    ...plan.actions.uploads.map((u) => {
      const item = byKey.get(u.key);
      const condition = item ? writeCondition(item) : { ifNoneMatch: '*' as const };
      return {
        call: 's3:PutObject',
        target: target(u.key),
        summary: `${u.action === 'upload' ? 'new' : 'replace'} from ${u.source}`,
        params: { Key: u.key, Source: u.source, ContentType: u.contentType, CacheControl: u.cacheControl, ServerSideEncryption: plan.sse, ...(plan.kmsKeyId ? { SSEKMSKeyId: plan.kmsKeyId } : {}), ...('ifMatch' in condition ? { IfMatch: condition.ifMatch } : { IfNoneMatch: '*' }) },
      };
    }),
    ...(plan.actions.invalidation ? [{ call: 'cloudfront:CreateInvalidation', target: plan.actions.invalidation.distributionId, summary: `invalidate ${plan.actions.invalidation.paths.length} path(s) of the replaced objects`, params: { DistributionId: plan.actions.invalidation.distributionId, Paths: plan.actions.invalidation.paths } }] : []),
  ];
}

/** The run's bucket lock, as the direct command takes it, released on every way out; the result says what became of it. */
export async function withMigrationLock(ctx: CommandContext, aws: AwsContext, opts: { bucket: string; prefix: string; shard?: Shard | undefined; stateDir: string; shownStateDir: string; lockExpiryMs: number; breakLock: boolean; sse: 'AES256' | 'aws:kms'; kmsKeyId: string | undefined }, body: (lock: MigrationLock, client: LeanS3) => Promise<CommandResult>): Promise<CommandResult> {
  // its own small client: not aborted by the first Ctrl-C (release must still be sent), only by `kill`
  const client = await aws.write({ side: true }).leanS3(opts.bucket, { maxSockets: 2, signal: ctx.signals.kill, maxAttempts: 3, timeoutMs: 10_000 });
  const lock = new MigrationLock({
    client,
    bucket: opts.bucket,
    prefix: opts.prefix,
    ...(opts.shard ? { shard: opts.shard } : {}),
    stateDir: opts.stateDir,
    shownStateDir: opts.shownStateDir,
    expiryMs: opts.lockExpiryMs,
    breakLock: opts.breakLock,
    sse: opts.sse,
    ...(opts.kmsKeyId ? { kmsKeyId: opts.kmsKeyId } : {}),
    command: ['retailctl', ...ctx.argv].join(' '),
    now: ctx.now,
    signals: ctx.signals,
    info: (line) => ctx.out.info(line),
    warn: (line) => ctx.out.warn(line),
  });
  // a lock left in place (S3 did not take the delete) is in the report: it blocks other runs until it expires
  const lockState = () => {
    const left = lock.leftInPlace;
    return left ? { released: false, key: left.key, expiresAt: left.expiresAt } : { released: true, key: lock.key };
  };
  let result: CommandResult;
  try {
    result = await body(lock, client);
  } catch (err) {
    await lock.release();
    client.close();
    // the error document says what became of the lock too (a run that stopped after taking it)
    if (err instanceof RetailctlError && lock.taken) (err as { data: Record<string, unknown> | undefined }).data = { ...err.data, lock: lockState() };
    throw err;
  }
  await lock.release();
  client.close();
  if (result.data && typeof result.data === 'object') (result.data as Record<string, unknown>).lock = lockState();
  return result;
}

/** An output path of the plan as shown to whoever runs it here: relative to the working directory. */
const shownPath = (ctx: CommandContext, file: string | null) => (file === null ? undefined : path.relative(ctx.cwd, file) || file);

/** Execute exactly the plan's items and report as the direct command does. */
async function runMigration(ctx: CommandContext, aws: AwsContext, plan: MigrationPlanFile, lock: MigrationLock, started: number, conditional: boolean): Promise<CommandResult> {
  const { run } = plan;
  const manifest = shownPath(ctx, run.manifest);
  const redirects = shownPath(ctx, run.redirects);
  const request = { ...(manifest !== undefined ? { manifest } : {}), ...(redirects !== undefined ? { redirects } : {}), redirectFrom: run.redirectFrom };
  let summary: Summary | undefined;
  const execute = plan.batch ? executeBatch : executeMigration;
  const executed = await execute(plan, {
    ctx,
    aws,
    lock,
    stateFile: run.stateFile,
    giveUpAfterMs: run.giveUpAfterMs,
    waitMs: run.waitMs,
    started,
    conditional,
    afterUploads: async (results) => {
      summary = await summarise(ctx, request, plan, run.audit, results);
    },
  });
  return migrationResult(ctx, request, plan, run.audit, executed, summary!, { stateFile: run.stateFile, started, giveUpAfterMs: run.giveUpAfterMs });
}

async function executeMigrationPlan(ctx: CommandContext, aws: AwsContext, plan: MigrationPlanFile, mode: MigrateExecuteMode): Promise<CommandResult> {
  if (mode.lock) return runMigration(ctx, aws, plan, mode.lock, mode.started ?? Date.now(), false);
  const started = Date.now();
  const { run } = plan;
  // a reviewed plan never breaks a lock: --break-lock is for the operator who saw that lock
  return withMigrationLock(ctx, aws, { bucket: plan.bucket, prefix: plan.prefix, stateDir: run.stateDir, shownStateDir: run.shownStateDir, lockExpiryMs: run.lockExpiryMs, breakLock: false, sse: plan.sse, kmsKeyId: plan.kmsKeyId ?? undefined }, async (lock, client) => {
    await lock.acquire().catch((err: unknown) => rethrowS3(err, client, plan.bucket, 'PutObject'));
    return runMigration(ctx, aws, plan, lock, started, true);
  });
}

const existing = z.object({ size: z.number(), etag: z.string() }).passthrough();
const absolute = z.string().refine((p) => path.isAbsolute(p), 'expected an absolute path');
// a local source only (an http(s) source is never planned for review), read under the directory it was walked in
const image = z
  .object({ path: z.string().min(1), root: absolute, size: z.number().int().min(0).optional() })
  .passthrough()
  .refine((i) => (i as { url?: unknown }).url === undefined, { message: 'an http(s) source cannot be applied from a plan file', path: ['url'] });
const item = z.object({ key: z.string().min(1), cacheControl: z.string(), action: z.enum(['upload', 'replace', 'skip', 'check', 'empty']), image, existing: existing.optional() }).passthrough();
const migrationSchema = z
  .object({
    kind: z.literal('images.migrate'),
    version: z.literal(1),
    source: z.string(),
    bucket: z.string().regex(BUCKET_NAME, 'expected an S3 bucket name'),
    prefix: z.string(),
    sse: z.enum(['AES256', 'aws:kms']),
    kmsKeyId: z.string().nullable(),
    concurrency: z.number().int().min(1).max(512),
    distributionId: z.string().nullable(),
    cdnDomain: z.string().nullable(),
    counts: z.object({ upload: z.number(), replace: z.number(), skip: z.number(), check: z.number(), empty: z.number() }).passthrough(),
    bytes: z.object({ total: z.number(), toUpload: z.number() }),
    preconditions: z.object({ objects: z.array(z.object({ key: z.string() }).passthrough()), sources: z.array(z.object({ path: z.string(), sha256: z.string().nullable() }).passthrough()) }),
    actions: z.object({ uploads: z.array(z.object({ key: z.string(), source: z.string(), contentType: z.string().nullable(), cacheControl: z.string(), action: z.enum(['upload', 'replace', 'check']) }).passthrough()), abortMultipartUploads: z.array(z.object({ key: z.string(), uploadId: z.string() })), invalidation: z.object({ distributionId: z.string(), paths: z.array(z.string()) }).nullable() }),
    items: z.array(item),
    run: z.object({
      stateDir: absolute,
      shownStateDir: z.string(),
      stateFile: absolute,
      manifest: absolute.nullable(),
      redirects: absolute.nullable(),
      redirectFrom: z.string(),
      lockExpiryMs: z.number().int().min(1000).max(3_600_000),
      giveUpAfterMs: z.number().int().min(0),
      waitMs: z.number().int().min(0),
      audit: z.object({ missingImages: z.number(), unreferencedImages: z.number(), missing: z.array(z.unknown()), unreferenced: z.array(z.string()), ignoredFiles: z.number(), symlinksSkipped: z.number(), symlinks: z.array(z.string()) }).passthrough(),
    }),
  })
  .passthrough()
  // every key under the plan's prefix: what apply lists again is the prefix
  .refine((p) => p.items.every((i) => i.key.startsWith(p.prefix)), { message: 'a key outside the prefix', path: ['items'] });

/** How many uploads the Markdown table lists. */
const MARKDOWN_UPLOADS = 50;

function migrationMarkdown(plan: MigrationPlanFile): string {
  const c = plan.counts;
  const list = plan.actions.uploads.slice(0, MARKDOWN_UPLOADS).map((u) => [u.key, u.source, u.action === 'upload' ? 'new' : 'replace', u.contentType ?? 'from the bytes', u.cacheControl]);
  const more = plan.actions.uploads.length - list.length;
  return [
    `**images migrate** ${mdText(plan.source)} → ${mdText(targetOf(plan))}: ${mdText(plan.items.length)} images, ${mdText(c.upload)} new, ${mdText(c.replace)} to replace, ${mdText(c.skip)} unchanged, ${mdText(c.check)} to compare by content, ${mdText(c.empty)} empty`,
    '',
    `${mdText(mb(plan.bytes.toUpload))} to upload of ${mdText(mb(plan.bytes.total))}; SSE ${mdText(plan.sse)}${plan.kmsKeyId ? ` (${mdText(plan.kmsKeyId)})` : ''}${plan.actions.abortMultipartUploads.length ? `; ${mdText(plan.actions.abortMultipartUploads.length)} unfinished multipart uploads aborted` : ''}${plan.actions.invalidation ? `; CloudFront invalidation of ${mdText(plan.actions.invalidation.paths.length)} paths on ${mdText(plan.actions.invalidation.distributionId)}` : ''}`,
    '',
    `sample keys: ${plan.sampleKeys.slice(0, 5).map((s) => `${mdText(s.source)} → ${mdText(s.key)} (${mdText(s.action)})`).join('; ') || 'none'}`,
    ...(list.length ? ['', mdTable(['key', 'source', 'action', 'Content-Type', 'Cache-Control'], list), ...(more > 0 ? ['', `… and ${mdText(more)} more uploads (all of them in the plan file)`] : [])] : []),
  ].join('\n');
}

export const migrateKind: KindHandler<MigrationPlanFile> & { execute(ctx: CommandContext, aws: AwsContext, plan: MigrationPlanFile, mode: MigrateExecuteMode): Promise<CommandResult> } = {
  kinds: ['images.migrate'],
  parse: (file, plan) => parsePlanObject(migrationSchema, file, plan) as unknown as MigrationPlanFile,
  actions: migrationActions,
  render: (plan) => describePlan(plan, plan.run.audit).join('\n'),
  markdown: migrationMarkdown,
  observe: (ctx, aws, plan) => observeMigration(ctx, aws, plan),
  question: (plan) => (plan.batch?.follow ? `Follow S3 Batch Operations job ${plan.batch.follow.jobId ?? '(being created)'} of attempt ${plan.batch.attempt} to its end (confirming it if it waits for that)?` : plan.batch ? `Create one S3 Batch Operations job copying ${plan.batch.objects} objects (${mb(plan.batch.bytes)}) to ${targetOf(plan)}?` : `Upload up to ${work(plan)} images (${mb(plan.bytes.toUpload)}) to ${targetOf(plan)}?`),
  noop: (plan) => work(plan) === 0 && plan.actions.abortMultipartUploads.length === 0,
  asks: (plan) => work(plan) > 0,
  execute: executeMigrationPlan,
  checkCommand: (plan) => `retailctl images migrate ${shellQuote(plan.source)} --bucket ${plan.bucket}${plan.prefix ? ` --prefix ${shellQuote(plan.prefix)}` : ''} --dry-run`,
};
