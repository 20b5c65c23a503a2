/**
 * A migration plan for people: the summary shown before the upload (and as a dry run's text), and
 * a dry run's whole result (its --json document is the plan itself, with the audit).
 */
import type { CommandResult } from '../context.js';
import { ExitCode } from '../errors.js';
import { formatSize } from '../util/size.js';
import type { MigrationAudit } from './gather.js';
import { describeHolder, lockKey } from './lock.js';
import type { MigrationPlan } from './migration-plan.js';
import { shownName } from './report.js';

/** 1.2 KB, 35 MB, 1.4 GB. */
export const mb = formatSize;

/** `s3://bucket/prefix/`. */
export function targetOf(plan: Pick<MigrationPlan, 'bucket' | 'prefix'>): string {
  return `s3://${plan.bucket}/${plan.prefix}`;
}

/** Human summary of a plan (dry run and before the upload); file names and catalogue values shown on one line each. */
export function describePlan(plan: MigrationPlan, audit: MigrationAudit): string[] {
  const c = plan.counts;
  const lines = [
    `${plan.items.length} images${plan.shard ? ` (shard ${plan.shard.k}/${plan.shard.n} of ${plan.shard.total})` : ''} → ${targetOf(plan)}: ${c.upload} new, ${c.replace} to replace, ${c.skip} unchanged, ${c.check} to compare by content (same size)${c.empty ? `, ${c.empty} empty (0 bytes: not uploaded)` : ''}`,
    `${mb(plan.bytes.toUpload)} to upload of ${mb(plan.bytes.total)}`,
  ];
  const b = plan.batch;
  if (b) {
    if (b.follow) lines.push(`engine: S3 Batch Operations: ${b.why} (${b.follow.status ?? 'not yet created'}; ${b.objects.toLocaleString('en-US')} objects); its record is s3://${plan.bucket}/${b.folder}job.json`);
    else lines.push(
      `engine: S3 Batch Operations (${plan.engine?.why ?? '--engine batch'}): attempt ${b.attempt}, one ${b.operation} job of ${b.objects.toLocaleString('en-US')} objects (${mb(b.bytes)}): ${b.why}`,
      `  role ${b.roleArn}${b.functionArn ? `, copy function ${b.functionArn}` : ''}; priority ${b.priority}; its manifest, mapping and report under s3://${plan.bucket}/${b.attemptFolder}, its record s3://${plan.bucket}/${b.folder}job.json`,
      `  S3 Batch Operations charges about $${b.costUsd.toFixed(2)} for the job (the copy requests${b.functionArn ? ' and the function\'s time' : ''} on top); the job is confirmed when S3 counted exactly these ${b.objects.toLocaleString('en-US')} tasks`,
    );
  } else if (plan.engine && /images\.batch/.test(plan.engine.why)) lines.push(`engine: direct (${plan.engine.why})`);
  const sample = plan.items.slice(0, 5);
  if (sample.length) lines.push('sample keys:', ...sample.map((i) => `  ${shownName(i.image.url ?? i.image.path)} → ${shownName(i.key)}  [${i.action}]`));
  if (audit.missingImages) lines.push(`catalogue rows whose image is not in the source: ${audit.missingImages} (e.g. ${audit.missing.slice(0, 3).map((r) => `${r.row} ${shownName(r.image)}`).join(', ')})`);
  if (audit.unreferencedImages) lines.push(`source images no catalogue row references (not uploaded): ${audit.unreferencedImages} (e.g. ${audit.unreferenced.slice(0, 3).map(shownName).join(', ')})`);
  if (audit.symlinksSkipped) lines.push(`symlinks skipped: ${audit.symlinksSkipped} (not followed, not uploaded; e.g. ${audit.symlinks.slice(0, 3).map(shownName).join(', ')}): copy the files they point to into the source to migrate them`);
  return lines;
}

/**
 * A dry run's result: the plan (nothing was sent but reads), what a run now would also do or meet.
 * Its --json `plan` is the plan for review: everything but `items` (the executor's copy of the same
 * keys, sources and actions, which would double the document); a plan file is the whole plan.
 */
export function renderDryRun(plan: MigrationPlan, audit: MigrationAudit): CommandResult {
  const { items: _executorCopy, ...shownPlan } = plan;
  const leftover = plan.unfinishedUploads;
  const extra = leftover ? [`${leftover} unfinished multipart upload${leftover === 1 ? '' : 's'} from an interrupted run would be aborted`] : [];
  const held = plan.lock && !('unreadable' in plan.lock) ? plan.lock : undefined;
  if (plan.lock) extra.push(`s3://${plan.bucket}/${lockKey(plan.prefix, plan.shard)} is held${held ? ` by ${describeHolder(held)}` : ''}: a run now would be refused until it is released (or has expired and --break-lock is given)`);
  return { exitCode: ExitCode.Ok, data: { dryRun: true, plan: shownPlan, audit, cdnDomain: plan.cdnDomain }, text: ['--dry-run: nothing was uploaded', ...describePlan(plan, audit), ...extra].join('\n') };
}
