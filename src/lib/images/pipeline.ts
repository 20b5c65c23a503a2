/**
 * `retailctl images migrate`, in steps: resolve the request (options.ts), take the lock (not in a
 * dry run nor for --plan-out: they write nothing), gather what the plan is made from (gather.ts),
 * plan (pure, migration-plan.ts), render it (render.ts; a dry run ends there), then the one apply
 * step (runPlan: --plan-out writes the plan file, else confirm) executes it (kind.ts → migrate.ts)
 * and reports (outcome.ts). The lock is released on every way out (done, exit 4, errors, Ctrl-C).
 */
import path from 'node:path';
import type { AwsContext } from '../aws/context.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { runPlan } from '../plan/step.js';
import { batchState } from './batch-record.js';
import { gatherMigration, settleChecks, type MigrationAudit } from './gather.js';
import { hashUploadSources, migrateKind, migrationPreconditions, withMigrationLock, type MigrationPlanFile, type MigrationRun } from './kind.js';
import type { MigrationLock } from './lock.js';
import { batchContentType, batchItems, chooseEngine, planBatch, type BatchState } from './batch-plan.js';
import { planMigration, type MigrationPlan } from './migration-plan.js';
import { resolveMigration, type MigrateRequest, type Migration } from './options.js';
import { describePlan, renderDryRun } from './render.js';

export type { MigrateRequest } from './options.js';

/**
 * `retailctl images migrate`: resolve the request, then a dry run (no lock: it writes nothing), a
 * plan file (--plan-out: no lock, nothing written) or the run itself under the bucket lock, released
 * on every way out (done, exit 4, errors, Ctrl-C).
 */
export async function imagesMigrate(ctx: CommandContext, request: MigrateRequest): Promise<CommandResult> {
  const m = await resolveMigration(ctx, request);
  if (ctx.options.planOut !== undefined && m.remote) {
    throw new RetailctlError('USAGE', '--plan-out: an http(s) source cannot be planned for review: what the origin serves is not read until the upload, so no precondition could show it unchanged; migrate from a local copy of the images, or run the command directly', { exitCode: ExitCode.Usage });
  }
  if (ctx.options.planOut !== undefined && m.shard) {
    throw new RetailctlError('USAGE', '--plan-out with --shard: a plan file covers the whole migration; plan it whole (and apply it on one runner), or run the shards directly', { exitCode: ExitCode.Usage });
  }
  if (ctx.options.planOut !== undefined && m.s3Source) {
    throw new RetailctlError('USAGE', '--plan-out: an s3:// source cannot be planned for review yet (its preconditions would be the source objects\' ETags); run the command directly, or --dry-run to see the plan', { exitCode: ExitCode.Usage });
  }
  const aws = await ctx.aws();
  if (ctx.options.planOut !== undefined || ctx.options.dryRun) return migrate(ctx, request, m, aws, undefined);
  const lockOptions = { bucket: m.bucket, prefix: m.prefix, shard: m.shard, stateDir: path.resolve(ctx.cwd, request.stateDir), shownStateDir: request.stateDir, lockExpiryMs: m.lockExpiryMs, breakLock: Boolean(request.breakLock), sse: m.sse, kmsKeyId: m.kmsKeyId };
  return withMigrationLock(ctx, aws, lockOptions, (lock) => migrate(ctx, request, m, aws, lock));
}

/** What execution and the report take from the request, resolved now (a plan file is applied with no flags). */
function runOf(ctx: CommandContext, request: MigrateRequest, m: Migration, audit: MigrationAudit, stateFile: string): MigrationRun {
  const resolve = (file: string | undefined) => (file === undefined ? null : path.resolve(ctx.cwd, file));
  return {
    stateDir: path.resolve(ctx.cwd, request.stateDir),
    shownStateDir: request.stateDir,
    stateFile,
    manifest: resolve(request.manifest),
    redirects: resolve(request.redirects),
    redirectFrom: request.redirectFrom,
    lockExpiryMs: m.lockExpiryMs,
    giveUpAfterMs: m.giveUpAfterMs,
    waitMs: request.wait ?? 0,
    audit,
  };
}

async function migrate(ctx: CommandContext, request: MigrateRequest, m: Migration, aws: AwsContext, lock: MigrationLock | undefined): Promise<CommandResult> {
  const started = Date.now();
  const gathered = await gatherMigration(ctx, request, m, aws, lock, started);
  const { audit, stateFile } = gathered;
  // the batch engine: the run's record says whether an earlier run's job is followed; a new job
  // copies only what is not yet a copy of its source (one HEAD per object already at its key)
  const state = await batchState(ctx, m, aws, gathered.keyed.items);
  // (also when following: what is not a task of the attempt is reported as it is now, never assumed)
  if (state && !gathered.settled) gathered.settled = await settleChecks(ctx, m, aws, gathered.keyed);
  let plan = withEngine(planMigration({ migration: m, ...gathered }), m, state);
  // the dry run's document stays the plan for review (no items): it is not runPlan's plan file document
  if (ctx.options.dryRun && ctx.options.planOut === undefined) return renderDryRun(plan, audit);
  // a plan file proves every file it uploads unchanged by its sha256 (the direct command does not read them twice)
  if (ctx.options.planOut !== undefined) plan = await hashUploadSources(plan, ctx.signal);
  const planFile: MigrationPlanFile = { ...plan, run: runOf(ctx, request, m, audit, stateFile) };
  const lines = describePlan(plan, audit);
  const prepared = { kind: 'images.migrate' as const, plan: planFile, preconditions: migrationPreconditions(plan), text: lines.join('\n'), lines, noop: false };
  return runPlan(ctx, migrateKind, prepared, lock ? { lock, started } : { started });
}

/**
 * The engine that copies (--engine, images.batch.minObjects) and, for the batch engine, its job's
 * plan. A batch plan that cannot be made is exit 2 when --engine batch asked for it; `auto` copies
 * directly then, saying why.
 */
function withEngine(plan: MigrationPlan, m: Migration, state: BatchState | undefined): MigrationPlan {
  if (!m.s3Source) return plan;
  const engine = chooseEngine(m.engine, true, batchItems(plan.items).length, m.batch);
  if (engine.engine === 'direct') return { ...plan, engine };
  // nothing to copy and no job to follow: no job (a job of no tasks would still be charged)
  if (batchItems(plan.items).length === 0 && !state?.follow) return { ...plan, engine: { engine: 'direct', why: `${engine.why}, but nothing to copy` } };
  const batch = planBatch({ bucket: plan.bucket, prefix: plan.prefix, sse: plan.sse, kmsKeyId: plan.kmsKeyId, items: plan.items, settings: m.batch, contentTypeOf: batchContentType, state });
  if ('refusal' in batch) {
    if (m.engine === 'auto') return { ...plan, engine: { engine: 'direct', why: `images.batch.minObjects reached, but ${batch.refusal.replace(/^--engine batch: /, '')}` } };
    throw new RetailctlError('USAGE', batch.refusal, { exitCode: ExitCode.Usage, hint: batch.hint });
  }
  return { ...plan, engine, batch };
}
