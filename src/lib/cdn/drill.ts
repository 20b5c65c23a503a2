/**
 * `retailctl cdn drill [group] --weight 10 --hold 5m`: the recovery-time rehearsal. Shift a small
 * weight to the secondary (weighted routing) or force a failover by inverting the primary's health
 * check (failover and latency routing, as `cdn failover` does); wait for INSYNC and verify the DNS
 * answers; hold; roll back to exactly the state read at the start, as a compare-and-set on what the
 * drill wrote; verify again; one audit line with the measured times. Ctrl-C or a failure before the
 * rollback rolls back first, then exits (130 on a signal).
 */
import type { Change } from '@aws-sdk/client-route-53';
import { callerIdentity } from '../aws/identity.js';
import type { AwsClients } from '../aws/context.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { sleep } from '../util/sleep.js';
import { checkAuditTargets, writeAudit, type AuditEntry } from './audit.js';
import { executeCdnPlan, type CdnResult } from './execute.js';
import { auditTargets, nothingChangedIfInterrupted } from './kind.js';
import { recordNames, setIdentifierFor, type GroupState } from './model.js';
import { cdnGroupsOf, gatherAndPlan, type VerifyFlags } from './pipeline.js';
import type { CdnPlan } from './plan.js';
import { readHealth, readRecords } from './gather.js';
import { renderPlan } from './render.js';
import { groupTraffic } from './traffic.js';
import { expectedForPlan, expectedForState, unswitched, verificationSummary, verifyAnswers, verifySettings, type Verification, type VerifySettings } from './verify.js';

export interface DrillRequest {
  /** Weighted routing: the secondary's share, in percent (1-99); the primary gets the rest. */
  weight: number;
  holdMs: number;
  /** INSYNC wait for each change. */
  waitMs: number;
  force: boolean;
  verify?: VerifyFlags;
}

/** The weights of a weighted drill: for every record, the secondary `weight`, the primary `100 - weight`. */
export function drillWeights(config: GroupState['config'], weight: number): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const name of recordNames(config)) {
    weights[setIdentifierFor(config.primary, name)!] = 100 - weight;
    weights[setIdentifierFor(config.secondary, name)!] = weight;
  }
  return weights;
}

/**
 * Pure: the plan that undoes `forward` exactly, as a compare-and-set on what it wrote. Weighted: ONE
 * batch deleting every record set as the drill created it and creating it as it was read (Route 53
 * refuses the whole batch if anyone changed a record meanwhile). Health checks: every check the
 * drill wrote back to its flag as read, at the version the drill's own write left (read version + 1:
 * Route 53 adds one per update), so a change by anyone else meanwhile is refused; restores first.
 */
export function planRollback(forward: CdnPlan): CdnPlan {
  const rollback: CdnPlan = {
    ...forward,
    kind: forward.routing === 'weighted' ? 'cdn.shift' : 'cdn.failback',
    action: forward.routing === 'weighted' ? 'shift' : 'failback',
    trafficBefore: forward.trafficAfter,
    trafficAfter: forward.trafficBefore,
    records: forward.records.map((r) => ({ ...r, before: r.after, after: r.before })),
    healthCheckUpdates: forward.healthCheckUpdates
      .map((u) => ({ ...u, version: u.version + 1, inverted: u.wasInverted, wasInverted: u.inverted }))
      .sort((a, b) => Number(a.inverted) - Number(b.inverted)),
    warnings: [],
    refusals: [],
    noop: false,
  };
  delete rollback.changeBatch;
  delete rollback.to;
  delete rollback.destination;
  if (forward.changeBatch) {
    const changes: Change[] = [];
    const c = forward.changeBatch.Changes;
    for (let i = 0; i + 1 < c.length; i += 2) {
      changes.push({ Action: 'DELETE', ResourceRecordSet: c[i + 1]!.ResourceRecordSet });
      changes.push({ Action: 'CREATE', ResourceRecordSet: c[i]!.ResourceRecordSet });
    }
    rollback.changeBatch = { Comment: `retailctl cdn drill ${forward.group}: roll back`, Changes: changes };
  }
  return rollback;
}

/** Where the group's traffic goes now, read again (records and every health check they use). */
async function trafficNow(read: AwsClients, start: GroupState): Promise<string> {
  const signal = AbortSignal.timeout(15_000);
  const records = await readRecords(read, start.config, signal);
  const ids = [...new Set(records.flatMap((r) => r.sets.map((x) => x.HealthCheckId)).filter((x): x is string => Boolean(x)))];
  const health = await readHealth(read, ids, ids, signal);
  return groupTraffic({ ...start, records, health }).summary;
}

/** What one change of the drill measured. */
export interface DrillStep {
  changeId?: string;
  status?: CdnResult['status'];
  /** From the write's answer to INSYNC (weighted), ms. */
  insyncMs?: number;
  verification?: Verification;
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

function stepLine(step: DrillStep): string {
  const parts: string[] = [];
  if (step.changeId) parts.push(`INSYNC ${seconds(step.insyncMs)}`);
  else if (step.status) parts.push('health checks updated');
  if (step.verification) parts.push(verificationSummary(step.verification));
  return parts.join(', ');
}

export async function cdnDrill(ctx: CommandContext, name: string | undefined, request: DrillRequest): Promise<CommandResult> {
  const loaded = await ctx.config();
  const names = cdnGroupsOf(loaded.config, name);
  if (names.length !== 1) throw new RetailctlError('CDN_GROUP_REQUIRED', `say which cdn group to drill: ${names.join(', ')}`, { exitCode: ExitCode.Usage, hint: `e.g. retailctl cdn drill ${names[0]} --weight 10 --hold 5m` });
  const group = names[0]!;
  const groupConfig = loaded.config.cdn![group] as GroupState['config'];
  const settings: VerifySettings = verifySettings(loaded.config.cdn?.verify, request.verify ?? {});
  const targets = auditTargets(loaded);
  ctx.signals.checkCommand = `retailctl cdn status ${group}`;
  const aws = await ctx.aws();
  await checkAuditTargets(targets, aws.read, ctx.signal);

  const change = groupConfig.routing === 'weighted'
    ? { action: 'shift' as const, weights: drillWeights(groupConfig, request.weight), force: request.force, waitMs: request.waitMs }
    : { action: 'failover' as const, to: 'secondary' as const, force: request.force, waitMs: request.waitMs };
  const { state: start, plan: forward } = await nothingChangedIfInterrupted(ctx, gatherAndPlan(ctx, aws.read, group, groupConfig, change));
  // a rehearsal starts from the normal state: a drill on a group already failed over (or partly
  // shifted) would send traffic back to the side an operator drained, for the whole hold
  const now = groupTraffic(start);
  if (!(now.serving !== 'mixed' && now.serving.length === 1 && now.serving[0] === 'primary')) {
    throw new RetailctlError('CDN_DRILL_NOT_NORMAL', `cdn drill ${group}: a drill starts from the normal state, all traffic on the primary; ${group} is at ${now.summary}: nothing changed`, { exitCode: ExitCode.Usage, hint: `fail back first (retailctl cdn failback ${group}) when the primary is healthy again, then drill` });
  }
  if (forward.noop) {
    throw new RetailctlError('CDN_DRILL_NOTHING', `nothing to rehearse on ${group}: ${forward.routing === 'weighted' ? `its weights already are ${request.weight}% on the secondary` : 'traffic already goes to the secondary'} (${forward.trafficBefore})`, { exitCode: ExitCode.Usage, hint: 'a drill starts from the normal state: `retailctl cdn failback` first if this is not it' });
  }
  const rollback = planRollback(forward);
  const text = [
    renderPlan(forward, ctx.out, { showBatch: ctx.options.dryRun }),
    `  then hold ${formatDuration(request.holdMs)}, then roll back to exactly the state read now: ${forward.trafficBefore}`,
    `  (${rollback.changeBatch ? `one batch of ${rollback.changeBatch.Changes.length} changes: DELETE as the drill wrote + CREATE as read` : `health checks back, compare-and-set on the version the drill leaves`}); Ctrl-C or a failure rolls back at once`,
  ].join('\n');
  if (forward.refusals.length && !request.force) {
    if (!ctx.options.json) ctx.out.info(text);
    throw new RetailctlError('CDN_PREFLIGHT_FAILED', `refusing to drill ${group}: ${forward.refusals[0]}`, { exitCode: ExitCode.CheckFailed, details: forward.refusals.slice(1), hint: 'fix the secondary first; --force overrides this check', data: { forward, applied: false } });
  }
  if (ctx.options.dryRun) return { data: { group, forward, rollback, holdMs: request.holdMs, dryRun: true }, text };
  ctx.out.info(text);
  await ctx.confirm(`Run the drill on ${group} (traffic moves for ${formatDuration(request.holdMs)}, then back)?`);
  const caller = await nothingChangedIfInterrupted(ctx, callerIdentity(aws.read, ctx.signal).then((c) => c.arn));

  const startedAt = Date.now();
  const measured: { forward: DrillStep; rollback?: DrillStep; heldMs?: number } = { forward: {} };
  let failure: string | undefined;
  const progress = await ctx.out.progress(`drill ${group}: moving traffic`);
  const exec = (plan: CdnPlan, afterSignal: boolean) =>
    executeCdnPlan(plan, {
      // after Ctrl-C the rollback is the write that must still happen: made with the side-write client
      write: afterSignal ? aws.write({ side: true }) : aws.write(),
      sideWrite: aws.write({ side: true }),
      read: aws.read,
      state: start,
      // one entry for the whole drill, written below with every time measured
      audit: false,
      caller,
      waitMs: afterSignal ? Math.min(request.waitMs, 30_000) : request.waitMs,
      ...(afterSignal ? {} : { signal: ctx.signal }),
      now: ctx.now,
      onProgress: (m) => progress.update(m),
      onApplied: (what) => ctx.signals.applied.push(what),
    });
  const stepOf = (r: CdnResult): DrillStep => ({ ...(r.changeId ? { changeId: r.changeId, insyncMs: r.status === 'INSYNC' ? r.waitedMs : undefined } : {}), status: r.status });

  // 1. the drill's change (nothing applied if it fails: no rollback needed)
  let forwardResult: CdnResult;
  try {
    forwardResult = await exec(forward, false);
  } catch (err) {
    progress.fail();
    const applied = err instanceof RetailctlError ? err.data?.applied : false;
    if (applied === false || applied === undefined) throw err;
    // applied in part, or sent without an answer: the rollback is a compare-and-set on what the drill
    // wrote, so it is safe to try (Route 53 refuses it if the drill's change is not there)
    const undone = await exec(rollback, ctx.signal.aborted).then(() => true, () => false);
  const entry: AuditEntry = {
      time: ctx.now().toISOString(), caller, group, action: 'drill', routing: forward.routing, outcome: undone ? 'applied' : applied === true ? 'partial' : 'unknown',
      trafficBefore: forward.trafficBefore, trafficAfter: undone ? forward.trafficBefore : `unknown (planned: ${forward.trafficAfter})`, records: forward.records, healthCheckUpdates: forward.healthCheckUpdates,
      note: `drill: the change failed (${(err as Error).message}); ${undone ? 'rolled back' : 'the rollback did not apply'}`,
      drill: { result: 'failed', rolledBack: undone, failure: (err as Error).message },
    };
    const audit = await writeAudit(entry, targets, targets.bucket ? aws.write({ side: true }) : undefined);
    throw new RetailctlError((err as RetailctlError).code, `${(err as Error).message}; ${undone ? `rolled back to ${forward.trafficBefore}` : `the rollback did not apply: run \`retailctl cdn status ${group}\``}`, {
      exitCode: (err as RetailctlError).exitCode,
      cause: err,
      hint: audit.errors.length ? `the audit entry was NOT written (${audit.errors.join('; ')}): ${JSON.stringify(entry)}` : (err as RetailctlError).hint,
      data: { group, applied: undone ? false : applied, rolledBack: undone, audit },
    });
  }
  measured.forward = stepOf(forwardResult);
  // the drill's change is applied: on record now, before the wait and the hold (a drill killed
  // before its rollback leaves this line with no end line after it)
  const startedEntry = startEntry(forward, forwardResult, caller, ctx.now());
  const started = await writeAudit(startedEntry, targets, targets.bucket ? aws.write({ side: true }) : undefined);
  if (!ctx.signal.aborted) {
    if (forwardResult.waitEnded) failure = `waiting for change ${forwardResult.changeId} ended (${forwardResult.waitEnded})`;
    else if (forwardResult.status === 'PENDING') failure = `change ${forwardResult.changeId} was still PENDING after ${formatDuration(forwardResult.waitedMs)}`;
  }
  // 2. verify, 3. hold
  if (!failure && !ctx.signal.aborted) {
    progress.update('checking the DNS answers');
    measured.forward.verification = await verifyAnswers({ read: aws.read, zoneId: forward.zoneId, expected: expectedForPlan(forward), settings, changedAt: forwardResult.appliedAt, signal: ctx.signal, onProgress: (m) => progress.update(m) });
    if (!measured.forward.verification.ok && !ctx.signal.aborted) failure = `the drill's change: ${verificationSummary(measured.forward.verification)}: ${unswitched(measured.forward.verification).join('; ')}`;
  }
  if (!failure && !ctx.signal.aborted) {
    const holdStart = Date.now();
    progress.update(`holding ${forward.trafficAfter} for ${formatDuration(request.holdMs)} (Ctrl-C rolls back now)`);
    await sleep(request.holdMs, ctx.signal).catch(() => undefined);
    measured.heldMs = Date.now() - holdStart;
  }
  // 4. roll back, whatever happened
  const interrupted = ctx.signal.aborted;
  progress.update(`rolling back to ${forward.trafficBefore}`);
  let rollbackResult: CdnResult | undefined;
  let rollbackError: unknown;
  try {
    rollbackResult = await exec(rollback, interrupted);
    measured.rollback = stepOf(rollbackResult);
  } catch (err) {
    rollbackError = err;
  }
  if (rollbackResult && !interrupted && !ctx.signal.aborted) {
    if (rollbackResult.status === 'PENDING' || rollbackResult.waitEnded) failure ??= `the rollback change ${rollbackResult.changeId} was not INSYNC in time`;
    else {
      progress.update('checking the DNS answers after the rollback');
      measured.rollback!.verification = await verifyAnswers({ read: aws.read, zoneId: forward.zoneId, expected: expectedForState(start), settings, changedAt: rollbackResult.appliedAt, signal: ctx.signal, onProgress: (m) => progress.update(m) });
      if (!measured.rollback!.verification.ok && !ctx.signal.aborted) failure ??= `the rollback: ${verificationSummary(measured.rollback!.verification)}: ${unswitched(measured.rollback!.verification).join('; ')}`;
    }
  }
  const totalMs = Date.now() - startedAt;
  const rolledBack = rollbackResult !== undefined;
  const result = rollbackError ? 'rollback-failed' : ctx.signal.aborted ? 'interrupted' : failure ? 'failed' : 'ok';

  // 5. the drill's audit line: the times measured
  const drill = {
    weight: forward.routing === 'weighted' ? request.weight : null,
    holdMs: request.holdMs,
    heldMs: measured.heldMs ?? 0,
    result,
    forward: measured.forward,
    rollback: measured.rollback ?? null,
    rolledBack,
    totalMs,
    ...(failure ? { failure } : {}),
  };
  // the compare-and-set refuses to undo a change someone else made during the drill: where traffic goes now, read again
  const trafficAfterAll = rollbackError ? await trafficNow(aws.read, start).catch(() => undefined) : undefined;
  const changedByOther = trafficAfterAll !== undefined && trafficAfterAll !== forward.trafficAfter;
  const entry: AuditEntry = {
    time: ctx.now().toISOString(),
    caller,
    group,
    action: 'drill',
    routing: forward.routing,
    outcome: rolledBack ? 'applied' : 'partial',
    trafficBefore: forward.trafficBefore,
    trafficAfter: rolledBack ? forward.trafficBefore : (trafficAfterAll ?? forward.trafficAfter),
    records: forward.records,
    healthCheckUpdates: forward.healthCheckUpdates,
    note: rolledBack
      ? `drill: ${forward.trafficAfter} for ${formatDuration(measured.heldMs ?? 0)}, rolled back to ${forward.trafficBefore}`
      : changedByOther
        ? `drill: not rolled back: the group was changed by someone else during the drill; traffic now ${trafficAfterAll}`
        : `drill: the rollback FAILED (${(rollbackError as Error).message}): ${forward.trafficAfter} is still applied`,
    drill,
  };
  if (forward.changeBatch && measured.forward.changeId) entry.changeId = measured.forward.changeId;
  const audit = await writeAudit(entry, targets, targets.bucket ? aws.write({ side: true }) : undefined);
  // the started line only stands in for the end line until that is written: with the end line on
  // record, a started line that could not be written is a warning (with its entry), not a failure
  if (started.errors.length) ctx.out.info(`warning: the drill's started line was not written (${started.errors.join('; ')})${audit.errors.length ? `: ${JSON.stringify(startedEntry)}` : '; the end line below records the whole drill'}`);
  const data = { group, applied: true, rolledBack, drill, audit, ...(started.errors.length ? { startedAudit: started } : {}), ...(audit.errors.length ? { auditEntry: entry } : {}) };

  if (rollbackError) {
    // say where traffic goes now, not that the drill's change is still there, and never advise undoing theirs
    if (changedByOther) {
      progress.fail(`the group changed during the drill: traffic now ${trafficAfterAll}`);
      throw new RetailctlError('CDN_DRILL_CHANGED', `${group}: changed by someone else during the drill, so the drill did not roll back (its compare-and-set refused to undo their change): traffic now ${trafficAfterAll}`, {
        exitCode: ExitCode.Failure,
        cause: rollbackError,
        hint: `check who changed it (the audit log, CloudTrail); if their change is intended there is nothing to undo; \`retailctl cdn status ${group}\` shows the state${audit.errors.length ? `; the audit entry was NOT written (${audit.errors.join('; ')}): ${JSON.stringify(entry)}` : ''}`,
        data: { ...data, trafficNow: trafficAfterAll },
      });
    }
    progress.fail(`the rollback failed: ${forward.trafficAfter} is still applied`);
    const base = rollbackError instanceof RetailctlError ? rollbackError : undefined;
    throw new RetailctlError(base?.code ?? 'CDN_DRILL_ROLLBACK_FAILED', `${group}: the drill's change is STILL APPLIED (${forward.trafficAfter}): its rollback failed: ${(rollbackError as Error).message}`, {
      exitCode: base?.exitCode === ExitCode.Interrupted ? ExitCode.Interrupted : ExitCode.Failure,
      cause: rollbackError,
      details: base?.details,
      hint: `run \`retailctl cdn status ${group}\`, then put it back by hand (\`retailctl cdn ${forward.routing === 'weighted' ? 'failback' : 'failback'} ${group}\`)${audit.errors.length ? `; the audit entry was NOT written (${audit.errors.join('; ')}): ${JSON.stringify(entry)}` : ''}`,
      data,
    });
  }
  const summary = `forward ${stepLine(measured.forward)}; rollback ${stepLine(measured.rollback ?? {})}; total ${formatDuration(totalMs)}`;
  if (interrupted || ctx.signal.aborted) {
    progress.fail(`interrupted: rolled back to ${forward.trafficBefore}`);
    throw new RetailctlError('INTERRUPTED', `${(ctx.signal.reason as Error).message} during the drill: rolled back to ${forward.trafficBefore}${rollbackResult?.changeId ? ` (change ${rollbackResult.changeId} ${rollbackResult.status})` : ''}`, {
      exitCode: ExitCode.Interrupted,
      hint: `\`retailctl cdn status ${group}\` shows where traffic goes; audit: ${audit.errors.length ? `NOT written (${audit.errors.join('; ')}): ${JSON.stringify(entry)}` : targets.file}`,
      data,
    });
  }
  if (audit.errors.length) {
    progress.fail();
    ctx.out.info(`audit entry (keep it): ${JSON.stringify(entry)}`);
    return { exitCode: ExitCode.PartialFailure, data: { ...data, error: { code: 'CDN_AUDIT_NOT_WRITTEN', message: `the drill ran and was rolled back, but its audit entry was not written to ${audit.errors.join('; ')}` } }, text: `${group}: drill rolled back (${summary}), audit entry not written: ${audit.errors.join('; ')}` };
  }
  if (failure) {
    progress.fail(failure);
    return { exitCode: ExitCode.CheckFailed, data: { ...data, error: { code: 'CDN_DRILL_FAILED', message: failure } }, text: `${group}: drill FAILED, rolled back to ${forward.trafficBefore}: ${failure} (${summary})` };
  }
  progress.succeed(`drill done: rolled back to ${forward.trafficBefore}`);
  return { data, text: `${group}: drill done: ${forward.trafficAfter} for ${formatDuration(measured.heldMs ?? 0)}, rolled back to ${forward.trafficBefore} (${summary}; audit: ${targets.file})` };
}

/** The drill's first audit line, written as soon as its change is applied: outcome `started`. */
function startEntry(forward: CdnPlan, result: CdnResult, caller: string, now: Date): AuditEntry {
  return {
    time: now.toISOString(),
    caller,
    group: forward.group,
    action: 'drill',
    routing: forward.routing,
    outcome: 'started',
    trafficBefore: forward.trafficBefore,
    trafficAfter: forward.trafficAfter,
    records: forward.records,
    healthCheckUpdates: forward.healthCheckUpdates,
    ...(result.changeId ? { changeId: result.changeId } : {}),
    note: `drill: ${forward.trafficAfter} applied; it is held, then rolled back to ${forward.trafficBefore} (the drill's end line follows; without one, the drill was stopped before its rollback: \`retailctl cdn status ${forward.group}\`)`,
  };
}
