import type { AwsClients } from '../aws/context.js';
import type { RetailctlConfig } from '../config/schema.js';
import { cdnGroupNames } from '../config/summary.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { runPlan, type Prepared } from '../plan/step.js';
import { checkAuditTargets, type AuditTargets } from './audit.js';
import { readDistribution, readHealth, readHealthChanges, readRecords } from './gather.js';
import { auditTargets, cdnKind, cdnPreconditions, nothingChangedIfInterrupted } from './kind.js';
import { healthCheckIdFor, routingOf, SIDES, sideSet, targetOf, type GroupState, type Side } from './model.js';
import { destinationFor, planCdnChange, type CdnPlan, type PlanRequest } from './plan.js';
import { renderPlan, renderStatus } from './render.js';
import { groupTraffic } from './traffic.js';
import { verifySettings } from './verify.js';

/** The group names a command acts on: all of them, or the one named (exit 2 if unknown). */
export function cdnGroupsOf(config: RetailctlConfig, name: string | undefined): string[] {
  // `verify` is a setting under cdn:, not a group
  const names = cdnGroupNames(config).filter((n) => n !== 'verify');
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
  const states = await Promise.all(cdnGroupsOf(config, name).map((g) => readFullState(aws.read, config, g, ctx.now(), ctx.signal)));
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
  /** DNS verification flags (over `cdn.verify`). */
  verify?: VerifyFlags;
}

/** `--resolver-ip`, `--edns-subnet`, `--verify-resolvers`, `--verify-timeout`. */
export interface VerifyFlags {
  resolverIp?: string;
  ednsSubnet?: string;
  resolvers?: string;
  timeoutMs?: number;
}

/** Read only what the decision needs, and plan. */
export async function gatherAndPlan(ctx: CommandContext, read: AwsClients, group: string, groupConfig: GroupState['config'], request: ChangeRequest): Promise<{ state: GroupState; plan: CdnPlan }> {
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


/**
 * `retailctl cdn failover | failback | shift`: check the audit destinations → read → plan → (no-op,
 * refusal or dry run stops) → confirm → apply → audit → wait. Traffic already where the command
 * sends it is a no-op (exit 0, audited); a compare-and-set conflict is re-planned once, so a second
 * operator running the same command converges instead of failing.
 */
export async function cdnChange(ctx: CommandContext, name: string | undefined, request: ChangeRequest): Promise<CommandResult> {
  const loaded = await ctx.config();
  const names = cdnGroupsOf(loaded.config, name);
  if (names.length !== 1) throw new RetailctlError('CDN_GROUP_REQUIRED', `say which cdn group to change: ${names.join(', ')}`, { exitCode: ExitCode.Usage, hint: `e.g. retailctl cdn ${request.action} ${names[0]}` });
  const group = names[0]!;
  const groupConfig = loaded.config.cdn![group] as GroupState['config'];
  const verify = verifySettings(loaded.config.cdn?.verify, request.verify ?? {});
  ctx.signals.checkCommand = `retailctl cdn status ${group}`;
  const aws = await ctx.aws();
  await checkAuditTargets(auditTargets(loaded), aws.read, ctx.signal);

  const { state, plan } = await nothingChangedIfInterrupted(ctx, gatherAndPlan(ctx, aws.read, group, groupConfig, request));
  const prepared: Prepared<CdnPlan> = {
    kind: plan.kind,
    plan,
    preconditions: cdnPreconditions(state),
    text: renderPlan(plan, ctx.out, { showBatch: ctx.options.dryRun }),
    noop: plan.noop,
  };
  // a no-op is not refused (nothing would move); otherwise refusals stop the change unless --force
  if (plan.refusals.length && (!request.force || plan.noop)) {
    prepared.refusal = new RetailctlError('CDN_PREFLIGHT_FAILED', `refusing to move ${group}'s traffic: ${plan.refusals[0]}`, {
      exitCode: ExitCode.CheckFailed,
      details: plan.refusals.slice(1),
      hint: 'fix the destination first; --force overrides this check if you are sure it is safer than staying',
      data: { plan, applied: false },
    });
  }
  return runPlan(ctx, cdnKind, prepared, {
    waitMs: request.waitMs,
    verify,
    replan: async () => (await gatherAndPlan(ctx, aws.read, group, groupConfig, request)).plan,
  });
}
