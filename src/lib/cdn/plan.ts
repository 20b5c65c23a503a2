import type { Change, ResourceRecordSet } from '@aws-sdk/client-route-53';
import { ExitCode, RetailctlError } from '../errors.js';
import { healthCheckIdFor, routingOf, setIdentifierFor, SIDES, sideSet, targetOf, type GroupState, type HealthState, type Side } from './model.js';
import type { CdnGroup } from '../config/schema.js';
import { groupTraffic } from './traffic.js';

/** How a record set looks in a plan: enough to see what changes. */
export interface SetView {
  side: Side | null;
  setIdentifier: string;
  target: string;
  routing: string;
  ttl?: number;
  healthCheckId?: string;
}

export interface RecordChange {
  name: string;
  type: string;
  before: SetView[];
  after: SetView[];
}

/** One UpdateHealthCheck, guarded by the HealthCheckVersion the plan was built on. */
export interface HealthCheckUpdate {
  healthCheckId: string;
  side: Side;
  /** HealthCheckVersion read with the state: the update fails if it has changed since. */
  version: number;
  inverted: boolean;
  wasInverted: boolean;
  /** Written with its read version although Inverted stays: refuses a concurrent change of the other side. */
  guard?: boolean;
}

/** Everything `cdn failover | failback | shift` would do; plain, versioned data. */
export interface CdnPlan {
  kind: 'cdn.failover' | 'cdn.failback' | 'cdn.shift';
  version: 1;
  action: 'failover' | 'failback' | 'shift';
  group: string;
  routing: 'weighted' | 'failover' | 'latency';
  zoneId: string;
  /** The group's config the plan was made with (an applied plan file re-reads its records from it). */
  config: CdnGroup;
  /** Traffic before and after, one line each. */
  trafficBefore: string;
  trafficAfter: string;
  records: RecordChange[];
  /**
   * Weighted routing: ONE batch with, for every record set of the group, `DELETE <exactly as read>`
   * and `CREATE <new>`. Route 53 applies a batch atomically and refuses a DELETE that does not match,
   * so the batch is a compare-and-set over the whole group.
   */
  changeBatch?: { Comment: string; Changes: Change[] };
  /** Failover and latency routing: force traffic away by inverting health checks, in this order. */
  healthCheckUpdates: HealthCheckUpdate[];
  /** Shown, do not stop the change. */
  warnings: string[];
  /** Preflight failures: the change is refused (exit 5) unless --force. */
  refusals: string[];
  /** Nothing to change: traffic already goes where asked. */
  noop: boolean;
  /** failover/failback: the side meant to take the traffic (latency failback: undefined = both). */
  to?: Side;
  /** What the destination is called in messages, e.g. `fastly` or `both CDNs`. */
  destination?: string;
}

export interface PlanRequest {
  action: 'failover' | 'failback' | 'shift';
  /** failover/failback: the side that should take the traffic. */
  to?: Side;
  /** shift: weight per set identifier. */
  weights?: Record<string, number>;
  now: Date;
}

/** A record set's share of its record's weights (all zero: an equal share each). */
function weightShare(record: GroupState['records'][number], set: ResourceRecordSet | undefined): number {
  if (!set) return 0;
  const total = record.sets.reduce((n, s) => n + (s.Weight ?? 0), 0);
  return total === 0 ? 1 / record.sets.length : (set.Weight ?? 0) / total;
}

/** Longest TTL before resolvers must ask again; above this, say how long the old answer may live. */
export const TTL_WARNING_SECONDS = 60;

function view(state: GroupState, recordName: string, set: ResourceRecordSet): SetView {
  const side = SIDES.find((s) => sideSet(state, state.records.find((r) => r.name === recordName)!, s) === set) ?? null;
  const v: SetView = { side, setIdentifier: set.SetIdentifier ?? '', target: targetOf(set), routing: routingOf(set) };
  if (set.TTL !== undefined) v.ttl = set.TTL;
  if (set.HealthCheckId) v.healthCheckId = set.HealthCheckId;
  return v;
}

function usage(message: string, hint?: string): RetailctlError {
  return new RetailctlError('CDN_PLAN', message, { exitCode: ExitCode.Usage, hint });
}

/** Parse `cloudfront=90,fastly=10`: integers 0-255, not all zero. */
export function parseWeights(text: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)=(\d+)$/.exec(part);
    if (!m) throw usage(`--weights: "${part}" is not set-identifier=weight`, 'example: --weights cloudfront=90,fastly=10');
    const weight = Number(m[2]);
    if (weight > 255) throw usage(`--weights: ${m[1]}=${weight} is over Route 53's maximum weight of 255`);
    weights[m[1]!] = weight;
  }
  if (Object.keys(weights).length === 0) throw usage('--weights is empty', 'example: --weights cloudfront=90,fastly=10');
  if (Object.values(weights).every((w) => w === 0)) {
    throw usage('--weights: all weights are 0, and Route 53 then answers with every record equally', 'give at least one side a weight above 0 (to drain one CDN, give it 0 and the other 100)');
  }
  return weights;
}

/** Pure: the plan for moving a group's traffic, with its preflight verdicts. */
export function planCdnChange(state: GroupState, request: PlanRequest): CdnPlan {
  const { config } = state;
  const before = groupTraffic(state);
  const warnings: string[] = [];
  const refusals: string[] = [];
  let next: GroupState;
  let changeBatch: CdnPlan['changeBatch'];
  const healthCheckUpdates: HealthCheckUpdate[] = [];

  for (const record of state.records) {
    for (const side of SIDES) {
      if (!sideSet(state, record, side)) {
        throw usage(`${record.name} has no ${config.type} record with the ${side} set identifier "${setIdentifierFor(config[side], record.name) ?? '(none configured)'}" (found: ${record.sets.map((s) => s.SetIdentifier ?? '(none)').join(', ')})`, `fix cdn.${state.group}.${side}.setIdentifier in the config`);
      }
    }
  }

  if (request.action === 'shift' || config.routing === 'weighted') {
    if (config.routing !== 'weighted') throw usage(`cdn shift works on weighted records; ${state.group} uses ${config.routing} routing`, 'use `retailctl cdn failover` / `failback` instead');
    // target weight per side
    const targetWeight = (record: GroupState['records'][number], side: Side): number => {
      const set = sideSet(state, record, side)!;
      if (request.action === 'shift') {
        const w = request.weights?.[set.SetIdentifier ?? ''];
        return w ?? set.Weight ?? 0;
      }
      // already all on the destination (any non-zero weight there, 0 elsewhere): leave it as it is
      const to = request.to!;
      const dest = sideSet(state, record, to)!;
      const other = sideSet(state, record, to === 'primary' ? 'secondary' : 'primary')!;
      if ((dest.Weight ?? 0) > 0 && (other.Weight ?? 0) === 0) return set.Weight ?? 0;
      return side === request.to ? 100 : 0;
    };
    if (request.action === 'shift') {
      const known = new Set(state.records.flatMap((r) => SIDES.map((s) => sideSet(state, r, s)!.SetIdentifier ?? '')));
      for (const id of Object.keys(request.weights ?? {})) {
        if (!known.has(id)) throw usage(`--weights: "${id}" is not a set identifier of ${state.group} (it has ${[...known].join(', ')})`);
      }
    }
    const changes: Change[] = [];
    const records = state.records.map((record) => {
      const sets = record.sets.map((set) => {
        const side = SIDES.find((s) => sideSet(state, record, s) === set);
        return side ? { ...set, Weight: targetWeight(record, side) } : set;
      });
      return { ...record, sets };
    });
    for (const record of records) {
      if (record.sets.every((s) => (s.Weight ?? 0) === 0)) {
        throw usage(`--weights would leave every record set of ${record.name} at weight 0, and Route 53 then answers with all of them equally`, 'give one side of every record a weight above 0');
      }
    }
    const changed = records.some((r, i) => r.sets.some((s, j) => s.Weight !== state.records[i]!.sets[j]!.Weight));
    if (changed) {
      // every set of the group, changed or not: the batch then fails if anything moved since it was read
      state.records.forEach((record, i) => {
        for (const side of SIDES) {
          const old = sideSet(state, record, side)!;
          changes.push({ Action: 'DELETE', ResourceRecordSet: old });
          changes.push({ Action: 'CREATE', ResourceRecordSet: records[i]!.sets[record.sets.indexOf(old)]! });
        }
      });
      changeBatch = { Comment: `retailctl cdn ${request.action} ${state.group}`, Changes: changes };
    }
    next = { ...state, records };
  } else {
    const to = request.to!;
    const away: Side = to === 'primary' ? 'secondary' : 'primary';
    const id = (side: Side) => healthCheckIdFor(state, side);
    const read = (side: Side, why: string): { hcId: string; health: HealthState } => {
      const hcId = id(side);
      if (!hcId) {
        throw usage(
          `${config.routing} routing: the ${side} records of ${state.group} have no health check, so retailctl cannot ${why}`,
          `attach a Route 53 health check to the ${side} records (or set cdn.${state.group}.${side}.healthCheckId)`,
        );
      }
      const health = state.health[hcId];
      if (!health || health.version === undefined) throw new RetailctlError('INTERNAL', `health check ${hcId} was not read in detail`);
      return { hcId, health };
    };
    // Route 53 uses a check's raw verdict flipped by Inverted (a disabled check counts as healthy).
    // To serve, a side's check must not be inverted; to drain it, it must count as unhealthy: inverted
    // while its checkers see it healthy, NOT inverted while they see it failing (inverting a failing
    // check would make Route 53 treat it as healthy and send traffic to it).
    const want = (side: Side, serve: boolean) => {
      const { hcId, health } = read(side, serve ? 'force traffic back to them' : 'force traffic away from them');
      const raw = health.disabled ? true : health.healthy;
      const inverted = serve ? false : raw;
      if (!serve && !raw) warnings.push(`${sideLabel(state, side)} is failing its health check on its own, so Route 53 already sends its traffic elsewhere; it will send it back as soon as the check passes again: rerun \`retailctl cdn ${request.action}\` then to keep it away`);
      if ((health.inverted ?? false) !== inverted) healthCheckUpdates.push({ healthCheckId: hcId, side, version: health.version!, inverted, wasInverted: health.inverted ?? false });
    };
    // bring the destination back first, then drain the other side: never both drained at once
    const serving = config.routing === 'latency' && request.action === 'failback' ? [...SIDES] : [to];
    for (const side of serving) if (id(side)) want(side, true);
    // failover routing answers with the secondary only when the primary counts as unhealthy, so only
    // the primary is ever drained; latency routing drains whichever side should not answer
    if (!serving.includes(away) && (config.routing === 'latency' || away === 'primary')) want(away, false);
    // Every check the decision rests on is written with the version it was read at, also the ones
    // whose Inverted flag stays (a guard write, first): Route 53 has no multi-check transaction, and
    // without the guard two operators moving traffic opposite ways could each invert one side.
    if (healthCheckUpdates.length) {
      const guards = SIDES.filter((side) => id(side) && !healthCheckUpdates.some((u) => u.side === side)).map((side) => {
        const { hcId, health } = read(side, '');
        return { healthCheckId: hcId, side, version: health.version!, inverted: health.inverted ?? false, wasInverted: health.inverted ?? false, guard: true } satisfies HealthCheckUpdate;
      });
      healthCheckUpdates.unshift(...guards);
      healthCheckUpdates.sort((a, b) => Number(a.inverted) - Number(b.inverted));
    }
    const health = { ...state.health };
    for (const u of healthCheckUpdates) health[u.healthCheckId] = { ...health[u.healthCheckId]!, inverted: u.inverted };
    next = { ...state, health };
  }

  const after = groupTraffic(next);
  // Preflight: every side meant to take more traffic must be healthy and, if CloudFront, Enabled and
  // Deployed. Judged on intent (weights raised, checks restored), not on the simulated answer:
  // Route 53 would keep answering with the old CDN if the new one is unhealthy, hiding the problem.
  // weighted: a side gains when its share of the weights rises (0/10 → 0/0 would hand it half)
  const gaining = SIDES.filter((side) =>
    config.routing === 'weighted'
      ? state.records.some((record, i) => weightShare(next.records[i]!, sideSet(next, next.records[i]!, side)) > weightShare(record, sideSet(state, record, side)))
      : side === request.to || healthCheckUpdates.some((u) => u.side === side && !u.inverted && u.wasInverted),
  );
  for (const side of gaining) {
    const label = sideLabel(state, side);
    const hcId = healthCheckIdFor(state, side);
    const health = hcId ? state.health[hcId] : undefined;
    if (!hcId) warnings.push(`${label} has no health check: its health cannot be verified before traffic moves to it`);
    else if (health && !health.healthy) refusals.push(`${label} health check ${hcId} is failing (${health.checkersHealthy}/${health.checkersTotal} checkers healthy${health.lastChecked ? `, checked ${health.lastChecked}` : ''}): moving traffic there could make things worse`);
    const dist = state.distributions[side];
    if (dist && !dist.enabled) refusals.push(`${label} CloudFront distribution ${dist.id} is disabled`);
    else if (dist && dist.status !== 'Deployed') refusals.push(`${label} CloudFront distribution ${dist.id} is ${dist.status}, not Deployed: wait for its last change to finish`);
  }

  const recordChanges: RecordChange[] = state.records.map((record, i) => ({
    name: record.name,
    type: record.type,
    before: record.sets.map((s) => view(state, record.name, s)),
    after: next.records[i]!.sets.map((s) => view(next, record.name, s)),
  }));
  const noop = !changeBatch && healthCheckUpdates.length === 0;
  // the records say "already there", but Route 53 skips a failing destination: that is not done
  if (noop && request.to && request.action !== 'shift') {
    const hcId = healthCheckIdFor(state, request.to);
    const health = hcId ? state.health[hcId] : undefined;
    if (health && !health.healthy && !(config.routing === 'latency' && request.action === 'failback')) {
      refusals.push(`${sideLabel(state, request.to)} health check ${hcId} is failing (${health.checkersHealthy}/${health.checkersTotal} checkers healthy), so Route 53 does not answer with it although nothing is left to change: ${before.summary}`);
    }
  }
  // the plan must deliver what the command means; anything else (a record set the group does not
  // manage keeping its weight, say) is refused rather than reported as done
  if (!noop && request.action !== 'shift' && request.to && !refusals.length) {
    const expected = config.routing === 'latency' && request.action === 'failback' ? [...SIDES] : [request.to];
    const wrong = after.records.filter((r) => r.serving.join(',') !== expected.join(',') || (config.routing === 'weighted' && (r.shares?.[request.to!] ?? 0) < 100 && expected.length === 1));
    if (wrong.length) refusals.push(`the plan would not send all traffic to ${expected.map((s) => sideLabel(state, s)).join(' and ')}: after it, ${wrong.map((r) => `${r.name}: ${r.summary}`).join('; ')}`);
  }
  if (!noop) {
    for (const record of state.records) {
      const ttl = Math.max(...record.sets.map((s) => s.TTL ?? 0));
      if (ttl > TTL_WARNING_SECONDS) warnings.push(`${record.name} has a TTL of ${ttl} s: resolvers may keep sending clients to the old CDN for up to ${ttl} s after the change`);
    }
  }
  if (healthCheckUpdates.length) {
    warnings.push('Route 53 acts on an inverted health check at its next evaluation: allow the check\'s request interval × failure threshold (typically 30-90 s) before traffic has moved');
  }

  const plan: CdnPlan = {
    kind: `cdn.${request.action}`,
    version: 1,
    action: request.action,
    group: state.group,
    routing: config.routing,
    zoneId: config.zoneId,
    config,
    trafficBefore: before.summary,
    trafficAfter: after.summary,
    records: recordChanges,
    healthCheckUpdates,
    warnings,
    refusals,
    noop,
  };
  if (changeBatch) plan.changeBatch = changeBatch;
  if (request.action !== 'shift') {
    const latencyBoth = config.routing === 'latency' && request.action === 'failback' && request.to === 'primary';
    if (!latencyBoth && request.to) plan.to = request.to;
    plan.destination = latencyBoth ? 'both CDNs' : request.to ? sideLabel(state, request.to) : undefined;
  }
  return plan;
}

/**
 * Where a change sends traffic: `--to` when given, else `failover` = the secondary and `failback` =
 * the primary. An end state, never "away from the side serving now": a rerun after an interrupt, or a
 * second operator running the same command, then finds the work done instead of moving traffic back.
 */
export function destinationFor(action: PlanRequest['action'], to: Side | undefined): Side | undefined {
  return to ?? (action === 'failover' ? 'secondary' : action === 'failback' ? 'primary' : undefined);
}

/** How a side is named in messages: its set identifier (e.g. `fastly`), else `primary`/`secondary`. */
export function sideLabel(state: GroupState, side: Side): string {
  return (state.records[0] && sideSet(state, state.records[0], side)?.SetIdentifier) || side;
}
