/**
 * The writes of a planned migration: abort the plan's unfinished multipart uploads, upload its items
 * (journaled, under the run's lock and circuit breaker, with progress), then invalidate on CloudFront
 * what was replaced. It acts on the plan's data only (migration-plan.ts): nothing is listed again, so a
 * plan read back from a file is executed as it was reviewed.
 */
import path from 'node:path';
import type { AwsContext } from '../aws/context.js';
import type { LeanS3 } from '../aws/lean-s3.js';
import type { CommandContext } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { CircuitBreaker } from '../util/retry.js';
import { sleep } from '../util/sleep.js';
import { executePlan, Gate, type ItemResult, type ResultStore } from './execute.js';
import { memory, rethrowS3 } from './gather.js';
import { JournalWriter } from './journal.js';
import type { MigrationLock } from './lock.js';
import type { MigrationPlan } from './migration-plan.js';
import { mb } from './render.js';
import { FREE_INVALIDATION_PATHS, invalidationPaths } from './report.js';
import { s3Source } from './source.js';

export interface ExecuteEnv {
  ctx: CommandContext;
  aws: AwsContext;
  /** The run's lock (taken when the plan was made); no write is sent unless it is known valid. */
  lock: MigrationLock | undefined;
  /** The journal of completed uploads. */
  stateFile: string;
  /** --give-up-after in ms (0 = never). */
  giveUpAfterMs: number;
  /** --wait: how long to wait for the invalidation to complete. */
  waitMs: number | undefined;
  /** When the run started (for the debug lines). */
  started: number;
  /** After the uploads and before the invalidation: the report's outputs (manifest, redirects). */
  afterUploads?: (results: ResultStore) => Promise<void>;
  /** A reviewed plan (`retailctl apply`): each write only over the object the plan saw (see ExecuteOptions.conditional). */
  conditional?: boolean;
}

export interface Invalidation {
  id: string;
  paths: number;
  wildcards: boolean;
  status: string;
}

export interface Executed {
  results: ResultStore;
  /** Keys whose object was overwritten. */
  replaced: string[];
  invalidation: Invalidation | null;
  /** Why the run stopped early (the lock lost, S3 unreachable), if it did. */
  stopped: RetailctlError | CircuitBreaker['state'] | undefined;
  retries: number;
  throttled: number;
}

export async function executeMigration(plan: MigrationPlan, env: ExecuteEnv): Promise<Executed> {
  const { ctx, aws, lock } = env;
  const { bucket, concurrency } = plan;
  const write = aws.write();
  const gate = new Gate(concurrency);
  // one breaker for every upload of the run: any success resets it, only a lasting outage trips it
  const breaker = new CircuitBreaker(env.giveUpAfterMs);
  // uploads on the wire at the first Ctrl-C finish (and are journaled); only a second one abandons them
  // no upload (nor retry) is sent unless the lock is known valid by this process's clock: a run that was
  // paused past its lock's expiry waits for its refresh to say whether the lock is still its own
  const beforeWrite = lock ? () => lock.writable() : undefined;
  // and none outlives the lock's usable window by more than maxRequestMs: the lock expires only after that
  const maxWriteMs = lock?.maxRequestMs;
  const putter = await write.leanS3(bucket, { maxSockets: concurrency, signal: ctx.signal, onThrottle: () => gate.throttle(), breaker, abandonSignal: ctx.signals.kill, ...(beforeWrite ? { beforeWrite } : {}), ...(maxWriteMs ? { maxWriteMs } : {}) });
  // an s3:// source: its objects' first bytes are read (for the Content-Type) through a read-only client
  const sourceBucket = s3Source(plan.source)?.bucket;
  const sourceReader = sourceBucket ? await aws.read.leanS3(sourceBucket, { maxSockets: concurrency, signal: ctx.signal, breaker, abandonSignal: ctx.signals.kill }) : undefined;
  const halt = lock ? AbortSignal.any([breaker.signal, lock.lost]) : breaker.signal;
  await abortUnfinishedUploads(plan, putter, ctx);
  const journalWriter = await JournalWriter.open(env.stateFile, path.relative(ctx.cwd, env.stateFile));
  const progress = await startProgress(ctx, plan);
  let results: ResultStore;
  try {
    ctx.out.debug(`uploading from ${Date.now() - env.started} ms since start (${memory()})`);
    results = await executePlan(plan.items, { ...readThreadsOf(ctx), putter, ...(sourceReader ? { sourceReader } : {}), s3: () => write.client('s3'), bucket, sse: plan.sse, ...(plan.kmsKeyId ? { kmsKeyId: plan.kmsKeyId } : {}), concurrency, journal: journalWriter, signal: ctx.signal, halt, gate, onItem: progress.item, breaker, ...(beforeWrite ? { beforeWrite } : {}), ...(maxWriteMs ? { maxWriteMs } : {}), ...(env.conditional ? { conditional: true } : {}) });
  } finally {
    breaker.close();
    progress.stop();
    putter.close();
    sourceReader?.close();
    await journalWriter.close().catch(() => {});
    if (journalWriter.error) ctx.out.warn(`the journal ${path.relative(ctx.cwd, env.stateFile)} could not be written (${journalWriter.error.message}); the next run re-reads files to compare them`);
  }
  const replaced: string[] = [];
  for (const r of results) if (r.status === 'uploaded' && r.replaced) replaced.push(r.item.key);
  await env.afterUploads?.(results);
  // a run that stopped early still invalidates what it replaced: a rerun skips those objects as unchanged
  const stopped = lock?.lostError ?? (breaker.tripped ? breaker.state : undefined);
  const invalidation = await invalidateReplaced(env, plan.distributionId, replaced, stopped !== undefined);
  return { results, replaced, invalidation, stopped, retries: putter.retries, throttled: gate.throttled };
}

/** The plan's unfinished multipart uploads (of an interrupted run) aborted, before any write of either engine. */
export async function abortUnfinishedUploads(plan: MigrationPlan, client: LeanS3, ctx: CommandContext): Promise<void> {
  for (const u of plan.actions.abortMultipartUploads) {
    await client.abortMultipartUpload(u.key, u.uploadId).catch((err: unknown) => rethrowS3(err, client, plan.bucket, 'AbortMultipartUpload'));
    ctx.out.info(`aborted an unfinished multipart upload of ${u.key} (from an interrupted run)`);
  }
}

/** RETAILCTL_READ_THREADS: how many reader threads read and hash the small files (default 0: the main thread does). */
function readThreadsOf(ctx: CommandContext): { readThreads?: number } {
  const text = ctx.env.RETAILCTL_READ_THREADS;
  if (text === undefined || text === '') return {};
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new RetailctlError('USAGE', `RETAILCTL_READ_THREADS=${text}: expected 0 to 16 (0 = read files on the main thread)`, { exitCode: ExitCode.Usage });
  return { readThreads: n };
}

/** The invalidation of what was replaced; a run that stopped early warns instead of failing when it cannot be sent. */
export async function invalidateReplaced(env: ExecuteEnv, distributionId: string | null, replaced: string[], stopped: boolean): Promise<Invalidation | null> {
  const { ctx } = env;
  if (!distributionId || !replaced.length) return null;
  try {
    return await invalidate(ctx, env.aws, distributionId, replaced, stopped ? 0 : env.waitMs);
  } catch (err) {
    if (!stopped || ctx.signal.aborted) throw err;
    ctx.out.warn(`CloudFront invalidation of the ${replaced.length} replaced object${replaced.length === 1 ? '' : 's'} not sent (${(err as Error).message}): invalidate ${replaced.slice(0, 3).map((k) => `/${k}`).join(', ')}${replaced.length > 3 ? ', …' : ''} by hand (all of them in --json)`);
    return null;
  }
}

/** One CloudFront invalidation for the replaced keys (exact paths, or wildcards beyond the free allowance); waits up to `waitMs`. */
async function invalidate(ctx: CommandContext, aws: AwsContext, distributionId: string, replaced: string[], waitMs: number | undefined): Promise<Invalidation> {
  const paths = invalidationPaths(replaced, FREE_INVALIDATION_PATHS);
  const cf = await aws.write().client('cloudfront');
  const { CreateInvalidationCommand, GetInvalidationCommand } = await import('@aws-sdk/client-cloudfront');
  const res = await cf.send(new CreateInvalidationCommand({ DistributionId: distributionId, InvalidationBatch: { CallerReference: `retailctl-images-${Date.now()}`, Paths: { Quantity: paths.length, Items: paths } } }), { abortSignal: ctx.signal });
  let status = res.Invalidation?.Status ?? 'InProgress';
  const id = res.Invalidation?.Id ?? '';
  if (waitMs && status !== 'Completed') {
    const deadline = Date.now() + waitMs;
    while (status !== 'Completed' && Date.now() < deadline) {
      await sleep(5000, ctx.signal);
      status = (await (await aws.read.client('cloudfront')).send(new GetInvalidationCommand({ DistributionId: distributionId, Id: id }), { abortSignal: ctx.signal })).Invalidation?.Status ?? status;
    }
  }
  return { id, paths: paths.length, wildcards: paths.some((p) => p.endsWith('*')), status };
}

/** A bar on a terminal; a plain line every 5 seconds otherwise. */
async function startProgress(ctx: CommandContext, plan: MigrationPlan): Promise<{ item: (r: ItemResult) => void; stop: () => void }> {
  const total = plan.items.length;
  const totalBytes = plan.bytes.total;
  const started = Date.now();
  let done = 0;
  let bytes = 0;
  let failed = 0;
  const line = () => {
    const s = (Date.now() - started) / 1000;
    const rate = s > 0 ? bytes / s : 0;
    const eta = rate > 0 && totalBytes > bytes ? formatDuration(Math.round(((totalBytes - bytes) / rate) * 1000)) : '-';
    const width = 20;
    const filled = total ? Math.round((done / total) * width) : width;
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} files, ${mb(bytes)}/${mb(totalBytes)}, ${mb(rate)}/s, ETA ${eta}${failed ? `, ${failed} failed` : ''}`;
  };
  const item = (r: ItemResult) => {
    done++;
    bytes += r.size ?? r.item.image.size ?? 0;
    if (r.status === 'failed') failed++;
  };
  if (ctx.out.interactive) {
    const p = await ctx.out.progress(line());
    const timer = setInterval(() => p.update(line()), 200);
    return { item, stop: () => (clearInterval(timer), p.stop()) };
  }
  const timer = setInterval(() => ctx.out.info(`images: ${line()}`), 5000);
  timer.unref();
  return { item, stop: () => clearInterval(timer) };
}
