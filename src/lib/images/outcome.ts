/**
 * What an executed migration reports: the counts, the failed, warned and empty images on the
 * terminal, the manifest and redirect map written, and the result (--json document and text), or
 * the error of a run that stopped early (the lock lost, S3 unreachable) with what it had done.
 */
import path from 'node:path';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import type { ItemResult, ResultStore } from './execute.js';
import { SHOWN, type MigrationAudit } from './gather.js';
import type { Executed } from './migrate.js';
import type { MigrationPlan } from './migration-plan.js';
import type { MigrateRequest } from './options.js';

/** What of the request the report uses: the outputs to write. */
export type ReportRequest = Pick<MigrateRequest, 'manifest' | 'redirects' | 'redirectFrom'>;
import { mb } from './render.js';
import { manifestRows, redirectMap, shownName, writeManifest, writeManifestPart, writeRedirects } from './report.js';

export interface Summary {
  counts: { uploaded: number; skipped: number; failed: number; missing: number; empty: number; symlinks: number };
  bytesUploaded: number;
  /** Up to 1,000 of each. */
  failed: ItemResult[];
  warnings: ItemResult[];
  empty: ItemResult[];
  /** The files written (manifest, redirect maps), as given. */
  written: string[];
}

/** Count the results, warn about the failed, warned and empty ones, and write the manifest and redirects. */
export async function summarise(ctx: CommandContext, request: ReportRequest, plan: MigrationPlan, audit: MigrationAudit, results: ResultStore): Promise<Summary> {
  const counts = { uploaded: 0, skipped: 0, failed: 0, missing: 0, empty: 0, symlinks: audit.symlinksSkipped };
  let bytesUploaded = 0;
  for (const r of results) {
    if (r.status === 'planned') continue; // only in dry runs
    counts[r.status]++;
    if (r.status === 'uploaded') bytesUploaded += r.size ?? 0;
  }
  const failed: ItemResult[] = [];
  const warnings: ItemResult[] = [];
  const empty: ItemResult[] = [];
  let failedCount = 0;
  let warningCount = 0;
  for (const r of results) {
    if (r.status === 'failed' && failedCount++ < 1000) failed.push(r);
    if (r.status === 'empty' && empty.length < 1000) empty.push(r);
    if (r.warning && warningCount++ < 1000) warnings.push(r);
  }
  for (const r of failed.slice(0, SHOWN)) ctx.out.warn(`failed: ${shownName(r.item.image.path)} → ${r.item.key}: ${r.reason}`);
  for (const r of warnings.slice(0, SHOWN)) ctx.out.warn(`${shownName(r.item.image.path)}: ${r.warning}`);
  for (const r of empty.slice(0, SHOWN)) ctx.out.warn(`empty: ${shownName(r.item.image.url ?? r.item.image.path)} is 0 bytes: not uploaded${r.item.existing ? ` (the object at ${r.item.key} is left as it is)` : ''}`);
  if (counts.empty > SHOWN) ctx.out.warn(`… and ${counts.empty - SHOWN} more empty images (all of them in --json and the manifest)`);
  const written = await writeOutputs(ctx, request, plan, results);
  return { counts, bytesUploaded, failed, warnings, empty, written };
}

async function writeOutputs(ctx: CommandContext, request: ReportRequest, plan: MigrationPlan, results: ResultStore): Promise<string[]> {
  const cdnDomain = plan.cdnDomain ?? undefined;
  const written: string[] = [];
  if (request.manifest) {
    const file = path.resolve(ctx.cwd, request.manifest);
    if (plan.shard) await writeManifestPart(file, results, cdnDomain, plan.bucket, plan.shard);
    else await writeManifest(file, manifestRows(results, cdnDomain, plan.bucket));
    written.push(request.manifest);
  }
  if (request.redirects) {
    if (!cdnDomain) ctx.out.warn('--redirects: no CDN domain (pass --cdn-domain or --invalidate <distribution>); the map is empty');
    written.push(...(await writeRedirects(path.resolve(ctx.cwd, request.redirects), () => redirectMap(results, cdnDomain, request.redirectFrom))).map((f) => path.relative(ctx.cwd, f)));
  }
  return written;
}

/** The run's result; a run that stopped early is an error carrying the same document. */
export function migrationResult(ctx: CommandContext, request: ReportRequest, plan: MigrationPlan, audit: MigrationAudit, executed: Executed, s: Summary, run: { stateFile: string; started: number; giveUpAfterMs: number }): CommandResult {
  const { counts, written } = s;
  const { invalidation, replaced, stopped } = executed;
  const seconds = (Date.now() - run.started) / 1000;
  const data = {
    source: plan.source,
    bucket: plan.bucket,
    prefix: plan.prefix,
    counts,
    bytesUploaded: s.bytesUploaded,
    failed: s.failed.slice(0, 1000).map((r) => ({ source: r.item.image.path, key: r.item.key, reason: r.reason })),
    warnings: s.warnings.slice(0, 1000).map((r) => ({ source: r.item.image.path, key: r.item.key, warning: r.warning })),
    empty: s.empty.map((r) => ({ source: r.item.image.url ?? r.item.image.path, key: r.item.key })),
    audit,
    manifest: request.manifest ?? null,
    redirects: request.redirects ? written.slice(request.manifest ? 1 : 0) : null,
    invalidation,
    cdnDomain: plan.cdnDomain,
    retries: executed.retries,
    throttled: executed.throttled,
    state: path.relative(ctx.cwd, run.stateFile),
    elapsedMs: Date.now() - run.started,
  };
  const text = [
    `${counts.uploaded} uploaded (${mb(s.bytesUploaded)}), ${counts.skipped} unchanged, ${counts.failed} failed${counts.missing ? `, ${counts.missing} missing on the origin` : ''}${counts.empty ? `, ${counts.empty} empty (not uploaded)` : ''}${counts.symlinks ? `, symlinks skipped: ${counts.symlinks}` : ''} in ${formatDuration(Math.round(seconds * 1000))}${executed.throttled ? ` (S3 asked to slow down ${executed.throttled}×)` : ''}`,
    ...(invalidation ? [`CloudFront invalidation ${invalidation.id}: ${invalidation.paths} path${invalidation.paths === 1 ? '' : 's'}${invalidation.wildcards ? ' (wildcards)' : ''}, ${invalidation.status}`] : []),
    ...(written.length ? [`wrote ${written.join(', ')}`] : []),
    ...(counts.failed ? [`${counts.failed} failed: rerun the same command to retry only those`] : []),
  ].join('\n');
  if (!stopped) return { exitCode: counts.failed ? ExitCode.PartialFailure : ExitCode.Ok, data, text };
  const notStarted = plan.items.length - counts.uploaded - counts.skipped - counts.failed - counts.missing - counts.empty;
  const done = `${counts.uploaded} uploaded, ${counts.skipped} unchanged, ${counts.failed} failed, ${notStarted} not started; the journal ${data.state} has every completed upload${written.length ? `, ${written.join(', ')} what was done` : ''}`;
  const report = { ...data, notStarted, ...(invalidation || !replaced.length || !plan.distributionId ? {} : { notInvalidated: replaced.slice(0, 1000) }) };
  if (stopped instanceof RetailctlError) throw new RetailctlError(stopped.code, stopped.message, { hint: stopped.hint, details: [done], data: { ...stopped.data, ...report } });
  const failures = `${stopped.failures} failed attempt${stopped.failures === 1 ? '' : 's'}`;
  throw new RetailctlError('IMAGES_S3_UNREACHABLE', `S3 unreachable since ${new Date(stopped.since).toISOString()} (${failures}, last error ${stopped.lastError}); nothing more was sent; rerun the same command to resume`, {
    details: [done],
    hint: `no S3 request succeeded for ${formatDuration(run.giveUpAfterMs)} (--give-up-after): check the network path to S3 (endpoint, proxy, VPC endpoint, DNS)`,
    data: { ...report, unreachableSince: new Date(stopped.since).toISOString(), failedAttempts: stopped.failures, lastError: stopped.lastError },
  });
}
