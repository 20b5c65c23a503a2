import { formatDuration } from '../util/duration.js';
import type { Output } from '../io/output.js';
import type { PrescaleState, Readiness } from './gather.js';
import type { PrescalePlan } from './plan.js';
import type { ScalableTargetRef } from './targets.js';
import type { CampaignWindow } from './window.js';

type Style = Pick<Output, 'style'>;

const hhmm = (local: string) => local.replace('T', ' ').slice(0, 16);
const zulu = (utc: string) => utc.replace('T', ' ').replace(/:00Z$/, 'Z');

export function renderWindow(w: CampaignWindow): string {
  return `send ${hhmm(w.sendAt.local)} ${w.timezone} (${zulu(w.sendAt.utc)}); ready by ${hhmm(w.readyBy.local)} (${zulu(w.readyBy.utc)}); back down at ${hhmm(w.endsAt.local)} (${zulu(w.endsAt.utc)})`;
}

/** The plan: before → after per target, the way down, cost, refusals and warnings. */
export function renderPrescalePlan(plan: PrescalePlan, out: Style): string {
  const lines = [`${out.style('bold', `prescale ${plan.campaign}`)} (${plan.mode === 'now' ? 'raise now, scheduled scale-down' : 'scheduled up and down'}): ${renderWindow(plan.window)}`];
  const width = Math.max(...plan.targets.map((t) => t.ref.label.length));
  for (const t of plan.targets) {
    const max = t.planned.max !== t.baseline.max ? `max ${t.baseline.max} → ${t.planned.max}${t.raisesMax ? ' (raised to fit)' : ''}` : `max ${t.planned.max}`;
    const when = t.up ? ` at ${hhmm(t.up.schedule.slice(3, -1))}` : '';
    const back = t.drain
      ? `capped at ${t.drain.max} at ${hhmm(t.drain.schedule.slice(3, -1))} (no scaling policy to bring it down), back to ${t.down.min}/${t.down.max} at ${hhmm(t.down.schedule.slice(3, -1))}`
      : `back to ${t.down.min}/${t.down.max} at ${hhmm(t.down.schedule.slice(3, -1))}`;
    lines.push(`  ${t.ref.label.padEnd(width)}  min ${t.baseline.min} → ${out.style('bold', String(t.planned.min))}${when}, ${max}; ${back}${t.baselineSource === 'down-action' ? ' (baseline recorded by an earlier run)' : ''}`);
    if (t.ref.sizing) lines.push(`  ${' '.repeat(width)}  sized: ${t.ref.sizing.formula}`);
  }
  if (plan.cost.lines.length) {
    lines.push(`  estimated provisioned-concurrency cost: $${plan.cost.usd.toFixed(2)} for ${formatDuration(plan.cost.seconds * 1000)} (${plan.cost.assumption})`);
    for (const l of plan.cost.lines) lines.push(`    ${l}`);
  }
  for (const r of plan.refusals) lines.push(`  ${out.style('red', 'refused:')} ${r}`);
  for (const w of plan.warnings) lines.push(`  ${out.style('yellow', 'warning:')} ${w}`);
  return lines.join('\n');
}

export interface StatusRow {
  ref: ScalableTargetRef;
  baseline?: { min: number; max: number };
  planned: number;
  registered?: { min: number; max: number };
  readiness: Readiness;
  actions: PrescaleState['actions'][string];
}

/** `prescale status`: per target baseline, planned, current and readiness, scheduled actions (local and UTC). */
export function renderPrescaleStatus(campaign: string, window: CampaignWindow, rows: StatusRow[], out: Style): string {
  const lines = [`${out.style('bold', campaign)}: ${renderWindow(window)}`];
  for (const r of rows) {
    lines.push(`  ${r.ref.label}`);
    lines.push(`    baseline ${r.baseline ? `${r.baseline.min}/${r.baseline.max}` : 'not recorded (not prescaled)'}, planned min ${r.planned}, registered ${r.registered ? `${r.registered.min}/${r.registered.max}` : 'no'}, now ${r.readiness.ready ? out.style('green', r.readiness.detail) : r.readiness.detail}`);
    for (const direction of ['up', 'drain', 'down'] as const) {
      const a = r.actions[direction];
      if (a) lines.push(`    ${direction.padEnd(4)} ${a.name}: ${a.schedule} ${a.timezone ?? 'UTC'} → ${a.min}/${a.max}`);
    }
  }
  return lines.join('\n');
}
