import type { AwsClients } from '../aws/context.js';
import type { RetailctlConfig } from '../config/schema.js';
import { cdnGroupNames } from '../config/summary.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { executeCdnPlan } from './execute.js';
import { readDistribution, readHealth, readHealthChanges, readRecords } from './gather.js';
import { healthCheckIdFor, routingOf, SIDES, sideSet, targetOf, type GroupState, type Side } from './model.js';
import { defaultDestination, planCdnChange, type PlanRequest } from './plan.js';
import { renderPlan, renderStatus } from './render.js';
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

/** `retailctl cdn failover | failback | shift`: read → plan → (dry run stops) → confirm → apply → audit → wait. */
export async function cdnChange(ctx: CommandContext, name: string | undefined, request: ChangeRequest): Promise<CommandResult> {
  const loaded = await ctx.config();
  const names = groupsOf(loaded.config, name);
  if (names.length !== 1) throw new RetailctlError('CDN_GROUP_REQUIRED', `say which cdn group to change: ${names.join(', ')}`, { exitCode: ExitCode.Usage, hint: `e.g. retailctl cdn ${request.action} ${names[0]}` });
  const group = names[0]!;
  const groupConfig = loaded.config.cdn![group] as GroupState['config'];
  const aws = await ctx.aws();

  // Read only what the decision needs: weighted routing decides from weights, so it reads the
  // destination's health and CloudFront state only; failover/latency need every check's Inverted flag.
  const records = await readRecords(aws.read, groupConfig, ctx.signal);
  let state: GroupState = { group, config: groupConfig, records, health: {}, distributions: {}, readAt: ctx.now().toISOString() };
  const hc = (s: Side) => healthCheckIdFor(state, s);
  let to = request.to ?? (request.action === 'failback' ? 'primary' : undefined);
  if (groupConfig.routing === 'weighted') {
    to ??= request.action === 'shift' ? undefined : defaultDestination(state);
    const sides = to ? [to] : [...SIDES];
    const ids = sides.map(hc).filter((x): x is string => Boolean(x));
    const [health, distributions] = await Promise.all([readHealth(aws.read, ids, [], ctx.signal), readDistributions(aws.read, groupConfig, sides, ctx.signal)]);
    state = { ...state, health, distributions };
  } else {
    const ids = SIDES.map(hc).filter((x): x is string => Boolean(x));
    state = { ...state, health: await readHealth(aws.read, ids, ids, ctx.signal) };
    to ??= defaultDestination(state);
    state = { ...state, distributions: await readDistributions(aws.read, groupConfig, request.action === 'failback' && groupConfig.routing === 'latency' ? SIDES : [to], ctx.signal) };
  }

  const plan = planCdnChange(state, { action: request.action, to, weights: request.weights, now: ctx.now() });
  const text = renderPlan(plan, ctx.out, { showBatch: ctx.options.dryRun });
  if (plan.noop) return { data: { plan, applied: false }, text };
  if (plan.refusals.length && !request.force) {
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
  const sts = await aws.read.client('sts');
  const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const caller = (await sts.send(new GetCallerIdentityCommand({}), { abortSignal: ctx.signal })).Arn ?? 'unknown';
  const progress = request.waitMs > 0 && plan.changeBatch ? await ctx.out.progress(`waiting for Route 53 to apply the change everywhere (up to ${formatDuration(request.waitMs)})`) : undefined;
  let result;
  try {
    result = await executeCdnPlan(plan, {
      write: aws.write(),
      read: aws.read,
      state,
      audit: { file: loaded.resolve(loaded.config.cdn?.auditLog ?? DEFAULT_AUDIT_LOG), bucket: loaded.config.cdn?.auditBucket },
      caller,
      waitMs: request.waitMs,
      signal: ctx.signal,
      now: ctx.now,
      onProgress: (m) => progress?.update(m),
    });
  } catch (err) {
    progress?.fail();
    throw err;
  }
  const data = { plan, applied: true, changeId: result.changeId ?? null, status: result.status, healthChecksUpdated: result.healthChecksUpdated, audit: result.audit };
  if (result.status === 'PENDING' && request.waitMs > 0) {
    progress?.fail(`change ${result.changeId} still PENDING after ${formatDuration(request.waitMs)}`);
    return {
      exitCode: ExitCode.CheckFailed,
      data,
      text: `applied, but change ${result.changeId} was still PENDING after ${formatDuration(request.waitMs)}: Route 53 keeps propagating it; \`retailctl cdn status ${group}\` shows the records`,
    };
  }
  progress?.succeed(`change ${result.changeId} is INSYNC`);
  const how = result.changeId ? `change ${result.changeId} ${result.status}` : `health checks updated: ${result.healthChecksUpdated.join(', ')}`;
  return { data, text: `${group}: ${plan.trafficAfter} (${how}; audit: ${result.audit.file}${result.audit.s3Key ? ` and s3://${loaded.config.cdn?.auditBucket}/${result.audit.s3Key}` : ''})` };
}
