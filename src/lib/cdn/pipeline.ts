import type { AwsClients, AwsContext } from '../aws/context.js';
import type { LoadedConfig } from '../config/load.js';
import type { Output } from '../io/output.js';
import type { RetailctlConfig } from '../config/schema.js';
import { cdnGroupNames } from '../config/summary.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { checkAuditTargets, writeAudit, type AuditEntry, type AuditResult, type AuditTargets } from './audit.js';
import { auditEntryFor, executeCdnPlan, type CdnResult } from './execute.js';
import { readDistribution, readHealth, readHealthChanges, readRecords } from './gather.js';
import { healthCheckIdFor, routingOf, SIDES, sideSet, targetOf, type GroupState, type Side } from './model.js';
import { destinationFor, planCdnChange, type CdnPlan, type PlanRequest } from './plan.js';
import { noopMessage, renderPlan, renderStatus } from './render.js';
import { groupTraffic } from './traffic.js';

/** Default audit log, relative to the config file. */
export const DEFAULT_AUDIT_LOG = '.retailctl/cdn-audit.jsonl';

function groupsOf(config: RetailctlConfig, name: string | undefined): string[] {
  const names = cdnGroupNames(config);
  if (names.length === 0) throw new RetailctlError('CDN_NO_GROUPS', 'the config has no cdn groups', { exitCode: ExitCode.Usage, hint: 'add a group under `cdn:` (see examples/retailctl.yaml)' });
  if (name === undefined) return names;
  if (!names.includes(name)) throw new RetailctlError('CDN_UNKNOWN_GROUP', `no cdn group named "${name}" in the config (it has ${names.join(', ')})`, { exitCode: ExitCode.Usage });
  return [name];
}

/** Everything `cdn status` shows about a group: records, every health check in detail, CloudFront. */
async function readFullState(read: AwsClients, config: RetailctlConfig, group: string, now: Date, signal: AbortSignal): Promise<GroupState> {
  const groupConfig = config.cdn![group] as GroupState['config'];
  const records = await readRecords(read, groupConfig, signal);
  const partial = { group, config: groupConfig, records, health: {}, distributions: {}, readAt: now.toISOString() };
  const ids = [...new Set([...records.flatMap((r) => r.sets.map((s) => s.HealthCheckId)), ...SIDES.map((s) => healthCheckIdFor(partial, s))].filter((x): x is string => Boolean(x)))];
  const [health, distributions, changes] = await Promise.all([
    readHealth(read, ids, ids, signal),
    readDistributions(read, groupConfig, SIDES, signal),
    // optional: without cloudwatch:GetMetricData, status still works, without "since"
    readHealthChanges(read, ids, now, signal).catch(() => ({}) as Record<string, string | null>),
  ]);
  for (const [id, changed] of Object.entries(changes)) if (health[id]) health[id] = { ...health[id], lastChanged: changed };
  return { ...partial, health, distributions };
}

async function readDistributions(read: AwsClients, config: GroupState['config'], sides: readonly Side[], signal: AbortSignal): Promise<GroupState['distributions']> {
  const entries = await Promise.all(sides.filter((s) => config[s].distributionId).map(async (s) => [s, await readDistribution(read, config[s].distributionId!, signal)] as const));
  return Object.fromEntries(entries);
}

/** `retailctl cdn status [group]`: read-only. */
export async function cdnStatus(ctx: CommandContext, name: string | undefined): Promise<CommandResult> {
  const { config } = await ctx.config();
  const aws = await ctx.aws();
  const states = await Promise.all(groupsOf(config, name).map((g) => readFullState(aws.read, config, g, ctx.now(), ctx.signal)));
  const groups = states.map((state) => {
    const traffic = groupTraffic(state);
    return {
      group: state.group,
      routing: state.config.routing,
      zoneId: state.config.zoneId,
      traffic: traffic.summary,
      records: state.records.map((record, i) => ({
        name: record.name,
        type: record.type,
        traffic: traffic.records[i]!.summary,
        shares: traffic.records[i]!.shares ?? null,
        sets: record.sets.map((set) => ({
          setIdentifier: set.SetIdentifier ?? null,
          side: SIDES.find((s) => sideSet(state, record, s) === set) ?? null,
          target: targetOf(set),
          routing: routingOf(set),
          weight: set.Weight ?? null,
          failover: set.Failover ?? null,
          region: set.Region ?? null,
          ttl: set.TTL ?? null,
          healthCheck: set.HealthCheckId ? (state.health[set.HealthCheckId] ?? { healthCheckId: set.HealthCheckId }) : null,
        })),
      })),
      distributions: state.distributions,
    };
  });
  return { data: { groups }, text: states.map((s) => renderStatus(s, ctx.out)).join('\n\n') };
}

export interface ChangeRequest {
  action: PlanRequest['action'];
  to?: Side;
  weights?: Record<string, number>;
  /** Go ahead despite preflight refusals. */
  force: boolean;
  /** Wait this long for INSYNC (0 = do not wait). */
  waitMs: number;
}

/** Read only what the decision needs, and plan. */
async function gatherAndPlan(ctx: CommandContext, read: AwsClients, group: string, groupConfig: GroupState['config'], request: ChangeRequest): Promise<{ state: GroupState; plan: CdnPlan }> {
  // weighted routing decides from weights, so it reads the destination's health and CloudFront
  // state only; failover/latency need every check's Inverted flag and version
  const records = await readRecords(read, groupConfig, ctx.signal);
  let state: GroupState = { group, config: groupConfig, records, health: {}, distributions: {}, readAt: ctx.now().toISOString() };
  const hc = (s: Side) => healthCheckIdFor(state, s);
  const to = destinationFor(request.action, request.to);
  const healthSides = groupConfig.routing === 'weighted' ? (to ? [to] : [...SIDES]) : [...SIDES];
  const distSides = groupConfig.routing === 'latency' && request.action === 'failback' ? [...SIDES] : to ? [to] : [...SIDES];
  const ids = healthSides.map(hc).filter((x): x is string => Boolean(x));
  const [health, distributions] = await Promise.all([readHealth(read, ids, groupConfig.routing === 'weighted' ? [] : ids, ctx.signal), readDistributions(read, groupConfig, distSides, ctx.signal)]);
  state = { ...state, health, distributions };
  return { state, plan: planCdnChange(state, { action: request.action, to, weights: request.weights, now: ctx.now() }) };
}

async function callerArn(ctx: CommandContext, read: AwsClients): Promise<string> {
  const sts = await read.client('sts');
  const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  return (await sts.send(new GetCallerIdentityCommand({}), { abortSignal: ctx.signal })).Arn ?? 'unknown';
}

function auditTargets(loaded: LoadedConfig): AuditTargets {
  return { file: loaded.resolve(loaded.config.cdn?.auditLog ?? DEFAULT_AUDIT_LOG), bucket: loaded.config.cdn?.auditBucket };
}

function auditWhere(audit: AuditResult, bucket: string | undefined): string {
  return [audit.file, audit.s3Key ? `s3://${bucket}/${audit.s3Key}` : undefined].filter(Boolean).join(' and ');
}

/**
 * `retailctl cdn failover | failback | shift`: check the audit destinations → read → plan → (no-op,
 * refusal or dry run stops) → confirm → apply → audit → wait. Traffic already where the command
 * sends it is a no-op (exit 0, audited); a compare-and-set conflict is re-planned once, so a second
 * operator running the same command converges instead of failing.
 */
export async function cdnChange(ctx: CommandContext, name: string | undefined, request: ChangeRequest): Promise<CommandResult> {
  const loaded = await ctx.config();
  const names = groupsOf(loaded.config, name);
  if (names.length !== 1) throw new RetailctlError('CDN_GROUP_REQUIRED', `say which cdn group to change: ${names.join(', ')}`, { exitCode: ExitCode.Usage, hint: `e.g. retailctl cdn ${request.action} ${names[0]}` });
  const group = names[0]!;
  const groupConfig = loaded.config.cdn![group] as GroupState['config'];
  ctx.signals.checkCommand = `retailctl cdn status ${group}`;
  const aws = await ctx.aws();
  const targets = auditTargets(loaded);
  await checkAuditTargets(targets, aws.read, ctx.signal);

  const { state, plan } = await nothingChangedIfInterrupted(ctx, gatherAndPlan(ctx, aws.read, group, groupConfig, request));
  const text = renderPlan(plan, ctx.out, { showBatch: ctx.options.dryRun });
  if (plan.noop && !plan.refusals.length) return ctx.options.dryRun ? { data: { plan, applied: false, dryRun: true }, text } : noop(ctx, aws, plan, targets, text);
  if (plan.refusals.length && (!request.force || plan.noop)) {
    if (!ctx.options.json) ctx.out.info(text);
    throw new RetailctlError('CDN_PREFLIGHT_FAILED', `refusing to move ${group}'s traffic: ${plan.refusals[0]}`, {
      exitCode: ExitCode.CheckFailed,
      details: plan.refusals.slice(1),
      hint: 'fix the destination first; --force overrides this check if you are sure it is safer than staying',
      data: { plan, applied: false },
    });
  }
  if (ctx.options.dryRun) return { data: { plan, applied: false, dryRun: true }, text };

  ctx.out.info(text);
  await ctx.confirm(`Apply this change to ${group}?`);
  const caller = await nothingChangedIfInterrupted(ctx, callerArn(ctx, aws.read));
  const progress = request.waitMs > 0 && plan.changeBatch ? await ctx.out.progress(`waiting for Route 53 to apply the change everywhere (up to ${formatDuration(request.waitMs)})`) : undefined;
  let result: CdnResult;
  try {
    result = await executeCdnPlan(plan, {
      write: aws.write(),
      sideWrite: aws.write({ side: true }),
      read: aws.read,
      state,
      audit: targets,
      caller,
      waitMs: request.waitMs,
      signal: ctx.signal,
      now: ctx.now,
      onProgress: (m) => progress?.update(m),
      onApplied: (what) => ctx.signals.applied.push(what),
    });
  } catch (err) {
    progress?.fail();
    if (!(err instanceof RetailctlError) || err.code !== 'CDN_CONFLICT' || ctx.signal.aborted) throw err;
    // someone else changed the group between our read and our write: if they moved it where we
    // were going, the job is done; otherwise report the conflict
    const again = await gatherAndPlan(ctx, aws.read, group, groupConfig, request).catch(() => undefined);
    if (!again?.plan.noop || again.plan.refusals.length) throw err;
    const lostAnswer = err.data?.mayHaveApplied === true;
    const why = lostAnswer ? 'the change is in place: the first attempt of this run, whose answer was lost, probably made it (or another operator did)' : 'another change got there first';
    return noop(ctx, aws, again.plan, targets, renderPlan(again.plan, ctx.out, { showBatch: false }), why, caller, lostAnswer ? 'applied' : 'noop');
  }
  return reportApplied(ctx, plan, result, targets, request.waitMs, progress);
}

/** Before the write is sent, an interrupt means nothing changed: say so. */
async function nothingChangedIfInterrupted<T>(ctx: CommandContext, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
    throw new RetailctlError('INTERRUPTED', `${(ctx.signal.reason as Error).message} before any change: nothing was changed`, { exitCode: ExitCode.Interrupted, cause: err, hint: 'run the same command again when you are ready', data: { applied: false } });
  }
}

/** Traffic already goes there: nothing is written to Route 53; the no-op is audited. */
async function noop(ctx: CommandContext, aws: AwsContext, plan: CdnPlan, targets: AuditTargets, text: string, why?: string, knownCaller?: string, outcome: 'noop' | 'applied' = 'noop'): Promise<CommandResult> {
  const caller = knownCaller ?? (await nothingChangedIfInterrupted(ctx, callerArn(ctx, aws.read)));
  const message = `${noopMessage(plan)}${why ? ` (${why})` : ''}`;
  const entry = auditEntryFor(plan, { caller, now: ctx.now }, outcome, { note: message });
  const audit = await writeAudit(entry, targets, targets.bucket ? aws.write({ side: true }) : undefined);
  if (!ctx.options.json) ctx.out.info(text);
  const data = { plan, applied: outcome === 'applied', noop: outcome === 'noop', audit };
  if (audit.errors.length) return auditNotWritten(ctx, data, `${plan.group}: ${message}, but its audit entry was not written`, audit, entry);
  return { data, text: `${plan.group}: ${message} (audit: ${auditWhere(audit, targets.bucket)})` };
}

/** The change is applied (or a no-op) but its audit entry is not, everywhere: exit 4, the entry on stderr to keep by hand. */
function auditNotWritten(ctx: CommandContext, data: Record<string, unknown>, message: string, audit: AuditResult, entry: AuditEntry): CommandResult {
  const text = `${message} to ${audit.errors.join('; ')}`;
  ctx.out.error(text);
  ctx.out.info(`audit entry (keep it${audit.file ? '' : ': it is the only record of this run'}): ${JSON.stringify(entry)}`);
  return { exitCode: ExitCode.PartialFailure, data: { ...data, auditEntry: entry, error: { code: 'CDN_AUDIT_NOT_WRITTEN', message: text, hint: 'keep the entry printed on stderr; fix the audit destination for the next run' } } };
}

function reportApplied(ctx: CommandContext, plan: CdnPlan, result: CdnResult, targets: AuditTargets, waitMs: number, progress: Awaited<ReturnType<Output['progress']>> | undefined): CommandResult {
  const group = plan.group;
  const data = { plan, applied: true, changeId: result.changeId ?? null, status: result.status, healthChecksUpdated: result.healthChecksUpdated, audit: result.audit };
  const how = result.changeId ? `change ${result.changeId} ${result.status}` : `health checks updated: ${result.healthChecksUpdated.join(', ')}`;
  if (ctx.signal.aborted) {
    progress?.fail();
    // the write was sent before the signal: it was let finish and recorded; say exactly what holds now
    throw new RetailctlError('INTERRUPTED', `${(ctx.signal.reason as Error).message} after the change was applied: ${group}: ${plan.trafficAfter} (${how}${result.status === 'PENDING' ? ', INSYNC not confirmed' : ''}); audit: ${result.audit.errors.length ? `NOT written (${result.audit.errors.join('; ')}): ${JSON.stringify(result.auditEntry)}` : auditWhere(result.audit, targets.bucket)}`, {
      exitCode: ExitCode.Interrupted,
      hint: `nothing to redo: \`retailctl cdn status ${group}\` shows where traffic goes, and the same command again is a no-op`,
      data,
    });
  }
  if (result.audit.errors.length) {
    progress?.fail();
    return auditNotWritten(ctx, data, `${group}: change applied (${how}), audit entry not written`, result.audit, result.auditEntry);
  }
  if (result.waitEnded) {
    progress?.fail(`change ${result.changeId}: ${result.waitEnded}`);
    return { exitCode: ExitCode.CheckFailed, data, text: `applied, but waiting for change ${result.changeId} ended (${result.waitEnded}): Route 53 keeps propagating it; \`retailctl cdn status ${group}\` shows the records` };
  }
  if (result.status === 'PENDING' && waitMs > 0) {
    progress?.fail(`change ${result.changeId} still PENDING after ${formatDuration(result.waitedMs)}`);
    return {
      exitCode: ExitCode.CheckFailed,
      data,
      text: `applied, but change ${result.changeId} was still PENDING after ${formatDuration(result.waitedMs)}: Route 53 keeps propagating it; \`retailctl cdn status ${group}\` shows the records`,
    };
  }
  progress?.succeed(`change ${result.changeId} is INSYNC`);
  return { data, text: `${group}: ${plan.trafficAfter} (${how}; audit: ${auditWhere(result.audit, targets.bucket)})` };
}
