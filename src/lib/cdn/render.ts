import type { Output } from '../io/output.js';
import { routingOf, SIDES, sideSet, targetOf, type GroupState } from './model.js';
import type { CdnPlan } from './plan.js';
import { groupTraffic } from './traffic.js';

type Style = Pick<Output, 'style'>;

/** `retailctl cdn status`: every record set, its health and CloudFront state, then where traffic goes. */
export function renderStatus(state: GroupState, out: Style): string {
  const lines = [`${out.style('bold', state.group)}  ${state.config.routing} routing, zone ${state.config.zoneId}`];
  for (const record of state.records) {
    lines.push(`  ${record.name}  ${record.type}`);
    for (const set of record.sets) {
      const side = SIDES.find((s) => sideSet(state, record, s) === set);
      const health = set.HealthCheckId ? state.health[set.HealthCheckId] : undefined;
      const healthText = !set.HealthCheckId
        ? 'no health check'
        : !health
          ? `health check ${set.HealthCheckId}`
          : `${health.healthy ? out.style('green', 'healthy') : out.style('red', 'FAILING')} ${health.checkersHealthy}/${health.checkersTotal}${health.inverted ? out.style('yellow', ' INVERTED') : ''}${health.disabled ? ' disabled' : ''}${health.lastChanged ? ` since ${health.lastChanged}` : health.lastChanged === null ? ', no change in 24 h' : ''}${health.lastChecked ? `, checked ${health.lastChecked}` : ''}`;
      const dist = side ? state.distributions[side] : undefined;
      const distText = dist ? `  CloudFront ${dist.id} ${dist.enabled ? 'Enabled' : out.style('red', 'Disabled')}, ${dist.status === 'Deployed' ? 'Deployed' : out.style('yellow', dist.status)}` : '';
      lines.push(`    ${(set.SetIdentifier ?? '-').padEnd(14)} ${side ? `${side.padEnd(9)} ` : '(other)   '}${targetOf(set)}  ${routingOf(set)}${set.TTL !== undefined ? `  TTL ${set.TTL}` : ''}  ${healthText}${distText}`);
    }
  }
  lines.push(`  traffic: ${out.style('bold', groupTraffic(state).summary)}`);
  return lines.join('\n');
}

/** The plan: traffic before → after, per record before → after, refusals, warnings, and (dry run) the batch. */
export function renderPlan(plan: CdnPlan, out: Style, options: { showBatch: boolean }): string {
  const lines = [`${out.style('bold', `cdn ${plan.action} ${plan.group}`)} (${plan.routing} routing)`];
  lines.push(`  traffic now:   ${plan.trafficBefore}`);
  lines.push(`  traffic after: ${plan.trafficAfter}`);
  if (plan.noop) {
    lines.push(`  ${noopMessage(plan)}`);
    for (const r of plan.refusals) lines.push(`  ${out.style('red', 'refused:')} ${r}`);
    for (const w of plan.warnings) lines.push(`  ${out.style('yellow', 'warning:')} ${w}`);
    return lines.join('\n');
  }
  for (const record of plan.records) {
    lines.push(`  ${record.name} ${record.type}`);
    record.before.forEach((b, i) => {
      const a = record.after[i]!;
      const changed = a.routing !== b.routing;
      lines.push(`    ${b.setIdentifier.padEnd(14)} ${b.routing}${changed ? ` → ${out.style('bold', a.routing)}` : ' (unchanged)'}`);
    });
  }
  for (const u of plan.healthCheckUpdates) {
    lines.push(`  health check ${u.healthCheckId} (${u.side}): Inverted ${u.wasInverted} → ${out.style('bold', String(u.inverted))} (compare-and-set on HealthCheckVersion ${u.version})`);
  }
  if (plan.changeBatch) lines.push(`  one atomic Route 53 batch of ${plan.changeBatch.Changes.length} changes (DELETE as read + CREATE new for every record set: refused if anything changed since)`);
  for (const r of plan.refusals) lines.push(`  ${out.style('red', 'refused:')} ${r}`);
  for (const w of plan.warnings) lines.push(`  ${out.style('yellow', 'warning:')} ${w}`);
  if (options.showBatch && plan.changeBatch) {
    lines.push('  ChangeBatch that would be sent:');
    lines.push(JSON.stringify(plan.changeBatch, null, 2).replace(/^/gm, '    '));
  }
  return lines.join('\n');
}

/** `already on fastly: nothing to do` */
export function noopMessage(plan: Pick<CdnPlan, 'destination'>): string {
  return plan.destination ? `already on ${plan.destination}: nothing to do` : 'the weights are already as asked: nothing to do';
}
