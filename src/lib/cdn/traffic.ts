import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { SIDES, sideSet, type GroupState, type RecordState, type Side } from './model.js';

/** Where one record sends clients, as Route 53 would answer now. */
export interface RecordTraffic {
  name: string;
  /** Percent of answers per side (weighted and failover); undefined for latency routing. */
  shares?: Record<Side, number>;
  /** Sides that get any traffic. */
  serving: Side[];
  /** One line, e.g. "100% cloudfront", "90/10 cloudfront/fastly", "fastly: cloudfront health check failing". */
  summary: string;
}

/**
 * Whether Route 53 treats a record set as healthy: no health check = healthy; a disabled check
 * counts as healthy; `Inverted` flips the verdict (that is how retailctl forces a failover).
 */
export function setIsHealthy(state: Pick<GroupState, 'health'>, set: ResourceRecordSet | undefined): boolean {
  if (!set?.HealthCheckId) return true;
  const health = state.health[set.HealthCheckId];
  if (!health) return true;
  const verdict = health.disabled ? true : health.healthy;
  return health.inverted ? !verdict : verdict;
}

function whyUnhealthy(state: GroupState, set: ResourceRecordSet | undefined): string {
  const health = set?.HealthCheckId ? state.health[set.HealthCheckId] : undefined;
  if (!health) return 'unhealthy';
  if (health.inverted) return `health check ${health.healthCheckId} inverted (forced failover)`;
  return `health check ${health.healthCheckId} failing (${health.checkersHealthy}/${health.checkersTotal} checkers healthy)`;
}

/** Pure: Route 53's answer for one record, from its sets, their weights or roles, and health. */
export function recordTraffic(state: GroupState, record: RecordState): RecordTraffic {
  const label = (side: Side) => sideSet(state, record, side)?.SetIdentifier ?? side;
  const sets = { primary: sideSet(state, record, 'primary'), secondary: sideSet(state, record, 'secondary') };
  const healthy = { primary: setIsHealthy(state, sets.primary), secondary: setIsHealthy(state, sets.secondary) };

  if (state.config.routing === 'weighted') {
    // Route 53 answers among healthy sets; if none is healthy, among all of them
    const candidates = record.sets.filter((s) => setIsHealthy(state, s));
    const pool = candidates.length ? candidates : record.sets;
    const total = pool.reduce((n, s) => n + (s.Weight ?? 0), 0);
    const shareOf = (set: ResourceRecordSet | undefined) => {
      if (!set || !pool.includes(set)) return 0;
      return total === 0 ? 100 / pool.length : (100 * (set.Weight ?? 0)) / total;
    };
    const shares = { primary: Math.round(shareOf(sets.primary)), secondary: Math.round(shareOf(sets.secondary)) };
    const serving = SIDES.filter((s) => shares[s] > 0);
    // record sets the group does not manage still get their share: show them
    const others = pool.filter((s) => s !== sets.primary && s !== sets.secondary && shareOf(s) > 0);
    let summary = others.length
      ? `${[shares.primary, shares.secondary, ...others.map((s) => Math.round(shareOf(s)))].join('/')} ${[label('primary'), label('secondary'), ...others.map((s) => s.SetIdentifier ?? '?')].join('/')}`
      : serving.length === 1 ? `100% ${label(serving[0]!)}` : `${shares.primary}/${shares.secondary} ${label('primary')}/${label('secondary')}`;
    const skipped = SIDES.filter((s) => sets[s] && !healthy[s] && (sets[s]!.Weight ?? 0) > 0);
    if (skipped.length && candidates.length) summary += ` (${skipped.map((s) => `${label(s)} skipped: ${whyUnhealthy(state, sets[s])}`).join('; ')})`;
    if (!candidates.length) summary += ' (every record unhealthy: Route 53 answers with all of them)';
    return { name: record.name, shares, serving, summary };
  }

  if (state.config.routing === 'failover') {
    // PRIMARY while it is healthy; SECONDARY otherwise; if both are unhealthy Route 53 answers PRIMARY
    const toSecondary = !healthy.primary && (healthy.secondary || !sets.primary);
    const side: Side = toSecondary ? 'secondary' : 'primary';
    const shares = { primary: side === 'primary' ? 100 : 0, secondary: side === 'secondary' ? 100 : 0 };
    const summary = side === 'primary'
      ? `100% ${label('primary')} (primary)${healthy.primary ? '' : `, although ${whyUnhealthy(state, sets.primary)}: the secondary is unhealthy too`}`
      : `100% ${label('secondary')} (secondary): primary ${whyUnhealthy(state, sets.primary)}`;
    return { name: record.name, shares, serving: [side], summary };
  }

  // latency: every healthy side answers the clients closest to its region
  const serving = SIDES.filter((s) => sets[s] && healthy[s]);
  const effective = serving.length ? serving : SIDES.filter((s) => sets[s]);
  const region = (s: Side) => sets[s]?.Region ?? '?';
  const summary = effective.length === 2
    ? `by latency: ${label('primary')} (${region('primary')}) and ${label('secondary')} (${region('secondary')})`
    : `100% ${label(effective[0]!)}: ${label(effective[0] === 'primary' ? 'secondary' : 'primary')} ${whyUnhealthy(state, sets[effective[0] === 'primary' ? 'secondary' : 'primary'])}`;
  return { name: record.name, serving: effective, summary };
}

/** Traffic for every record of the group, and one line for the group when they agree. */
export function groupTraffic(state: GroupState): { records: RecordTraffic[]; summary: string; serving: Side[] | 'mixed' } {
  const records = state.records.map((r) => recordTraffic(state, r));
  const summaries = [...new Set(records.map((r) => r.summary))];
  const servingSets = [...new Set(records.map((r) => r.serving.join(',')))];
  return {
    records,
    summary: summaries.length === 1 ? summaries[0]! : records.map((r) => `${r.name}: ${r.summary}`).join('; '),
    serving: servingSets.length === 1 ? records[0]!.serving : 'mixed',
  };
}
