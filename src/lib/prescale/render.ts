import { formatDuration } from '../util/duration.js';
import type { Output } from '../io/output.js';
import type { PrescaleState, Readiness } from './gather.js';
import type { PrescalePlan, ScheduledActionPlan, SharedCampaign } from './plan.js';
import type { RestoreStep } from './restore.js';
import type { ActionState, OtherCampaignActions } from './shared.js';
import type { ScalableTargetRef } from './targets.js';
import { renderWarmPlan } from './warm.js';
import type { CampaignWindow, WindowTime } from './window.js';

type Style = Pick<Output, 'style'>;

const hhmm = (local: string) => local.replace('T', ' ').slice(0, 16);
const zulu = (utc: string) => utc.replace('T', ' ').replace(/:00Z$/, 'Z');
/** `2027-11-07 01:59 (05:59Z)`: local time in the campaign's zone, and UTC (which never happens twice). */
const when = (t: { local: string; utc: string }) => `${hhmm(t.local)} (${t.utc.slice(11, 16)}Z)`;

export function renderWindow(w: CampaignWindow): string {
  return `send ${hhmm(w.sendAt.local)} ${w.timezone} (${zulu(w.sendAt.utc)}); ready by ${hhmm(w.readyBy.local)} (${zulu(w.readyBy.utc)}); back down at ${hhmm(w.endsAt.local)} (${zulu(w.endsAt.utc)})`;
}

function renderShared(s: SharedCampaign): string {
  const from = s.start ? `from ${when(s.start)}` : 'raised now';
  const source = s.source === 'config' ? '' : ', read from its scheduled actions';
  return `${s.campaign} (min ${s.min} ${from} until ${when(s.end)}${source})`;
}

const atOf = (a: ScheduledActionPlan) => when({ local: a.local, utc: a.utc });

/** The plan: before → after per target, the way down, other campaigns sharing a target, cost, refusals and warnings. */
export function renderPrescalePlan(plan: PrescalePlan, out: Style): string {
  const lines = [`${out.style('bold', `prescale ${plan.campaign}`)} (${plan.mode === 'now' ? 'raise now, scheduled scale-down' : 'scheduled up and down'}): ${renderWindow(plan.window)}`];
  const width = Math.max(...plan.targets.map((t) => t.ref.label.length));
  for (const t of plan.targets) {
    const max = t.planned.max !== t.baseline.max ? `max ${t.baseline.max} → ${t.planned.max}${t.raisesMax ? ' (raised to fit)' : ''}` : `max ${t.planned.max}`;
    const at = t.up ? ` at ${atOf(t.up)}` : '';
    const back = t.drain
      ? `capped at ${t.drain.max} at ${atOf(t.drain)} (no scaling policy to bring it down), back to ${t.down.min}/${t.down.max} at ${atOf(t.down)}`
      : `back to ${t.down.min}/${t.down.max} at ${atOf(t.down)}`;
    const merged = t.planned.min !== t.own.min ? ` (this campaign ${t.own.min}; more while another campaign needs it)` : '';
    const recorded = t.baselineSource === 'down-action' ? (t.baselineCampaign && t.baselineCampaign !== plan.campaign ? ` (baseline recorded by campaign ${t.baselineCampaign})` : ' (baseline recorded by an earlier run)') : '';
    lines.push(`  ${t.ref.label.padEnd(width)}  min ${t.baseline.min} → ${out.style('bold', String(t.planned.min))}${merged}${at}, ${max}; ${back}${recorded}`);
    const pad = `  ${' '.repeat(width)}  `;
    if (t.ref.sizing) lines.push(`${pad}sized: ${t.ref.sizing.formula}`);
    const together = t.shared.filter((s) => s.together);
    const apart = t.shared.filter((s) => !s.together);
    if (together.length) lines.push(`${pad}${out.style('yellow', 'shared')} with ${together.map(renderShared).join(', ')}: planned together, the largest minimum while both are live, one way down after the last window`);
    if (apart.length) lines.push(`${pad}also used by ${apart.map(renderShared).join(', ')}: windows apart, planned independently`);
    for (const u of t.otherUpdates) lines.push(`${pad}${u.campaign}'s ${u.direction}: ${u.previous.min}/${u.previous.max} at ${u.previous.utc ? zulu(u.previous.utc) : u.previous.schedule} → ${u.min}/${u.max} at ${atOf(u)}`);
    for (const d of t.deletes) lines.push(`${pad}${d.self ? 'this campaign' : d.campaign}'s ${d.direction} (${d.previous.min}/${d.previous.max} at ${d.previous.utc ? zulu(d.previous.utc) : d.previous.schedule}) deleted: ${d.reason}`);
    if (t.drain && t.capacityBefore > t.baseline.min) lines.push(`${pad}capacity before: ${t.capacityBefore} (the drain caps the maximum there, so it comes back to where it was)`);
  }
  lines.push(...renderWarmPlan(plan.warm, plan.targets.length ? width : 0, (s) => out.style('bold', s)));
  if (plan.cost.lines.length) {
    lines.push(`  estimated provisioned-concurrency cost: $${plan.cost.usd.toFixed(2)} for ${formatDuration(plan.cost.seconds * 1000)} (${plan.cost.assumption})`);
    for (const l of plan.cost.lines) lines.push(`    ${l}`);
  }
  for (const n of plan.notes) lines.push(`  ${out.style('bold', 'note:')} ${n}`);
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
  /** Other retailctl campaigns' actions on the same target. */
  others: OtherCampaignActions[];
}

const actionLine = (direction: string, a: ActionState) => `${direction.padEnd(5)} ${a.name}: ${a.schedule} ${a.timezone ?? 'UTC'}${a.utc ? ` (${zulu(a.utc)})` : ''} → ${a.min}/${a.max}`;

/** `prescale status`: per target baseline, planned, current and readiness, scheduled actions (as written and in UTC), other campaigns on the target. */
export function renderPrescaleStatus(campaign: string, window: CampaignWindow, rows: StatusRow[], out: Style): string {
  const lines = [`${out.style('bold', campaign)}: ${renderWindow(window)}`];
  for (const r of rows) {
    lines.push(`  ${r.ref.label}`);
    lines.push(`    baseline ${r.baseline ? `${r.baseline.min}/${r.baseline.max}` : 'not recorded (not prescaled)'}, planned min ${r.planned}, registered ${r.registered ? `${r.registered.min}/${r.registered.max}` : 'no'}, now ${r.readiness.ready ? out.style('green', r.readiness.detail) : r.readiness.detail}`);
    for (const direction of ['up', 'drain', 'down'] as const) {
      const a = r.actions[direction];
      if (a) lines.push(`    ${actionLine(direction, a)}`);
    }
    for (const o of r.others) {
      lines.push(`    shared with campaign ${o.campaign}:`);
      for (const direction of ['up', 'drain', 'down'] as const) {
        const a = o[direction];
        if (a) lines.push(`      ${actionLine(direction, a)}`);
      }
    }
  }
  return lines.join('\n');
}

const untilText = (t: WindowTime) => when(t);

/** `prescale restore`: per target what is put back, what is kept for other live campaigns, what is deleted. */
export function renderRestorePlan(campaign: string, steps: readonly RestoreStep[], out: Style): string {
  const lines = [`${out.style('bold', `prescale restore ${campaign}`)}:`];
  for (const s of steps) {
    const reg = s.registered ? `${s.registered.min}/${s.registered.max}` : '?';
    if (!s.baseline || !s.to) {
      const why = s.finished === 'fired' ? `every scheduled action of ${campaign} has fired, its way down included: left at ${reg}` : 'nothing recorded by retailctl (no down action)';
      lines.push(`  ${s.ref.label}: ${why}${s.deletes.length ? `; delete ${s.deletes.join(', ')}` : ''}`);
      continue;
    }
    if (s.finished === 'missed') lines.push(`  ${s.ref.label}: its way down did not take effect: the window is over and it is still above the baseline ${s.baseline.min}/${s.baseline.max} its down action recorded (registered ${reg}${s.drainFirst ? ', capacity up' : ''})`);
    const drain = s.drainFirst ? `${s.to.min}/${s.drainTo ?? s.to.min} until capacity is down, then ` : '';
    const kept = s.keptFor.length
      ? ` (not the baseline ${s.baseline.min}/${s.baseline.max}: kept for ${s.keptFor.map((k) => `campaign ${k.campaign}, min ${k.min} until ${untilText(k.until)}`).join('; ')}, which is still live and comes down after its window)`
      : '';
    lines.push(`  ${s.ref.label}: min/max ${reg} → ${drain}${s.to.min}/${s.to.max}${kept}; delete ${s.deletes.join(', ')}`);
    for (const u of s.otherUpdates) lines.push(`    ${u.campaign}'s ${u.direction}: ${u.previous.min}/${u.previous.max} at ${u.previous.utc ? zulu(u.previous.utc) : u.previous.schedule} → ${u.min}/${u.max} at ${atOf(u)}`);
    for (const d of s.otherDeletes) lines.push(`    ${d.campaign}'s ${d.direction} deleted: ${d.reason}`);
  }
  return lines.join('\n');
}
