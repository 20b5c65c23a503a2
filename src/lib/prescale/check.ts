/**
 * `prescale status --check`: after the campaign window, is every target back at its baseline, with
 * its way down in place? Pure: verdicts from the state `status` reads. The baseline is the one
 * prescale records in AWS, in the campaign's down action (min/max before the first change), and the
 * capacity before the campaign in its drain's maximum (where no scaling policy brings it down).
 * Warm throughput cannot be lowered: it is reported, never a failure.
 */
import { ExitCode, type ExitCodeValue } from '../errors.js';
import type { Output } from '../io/output.js';
import type { TargetObservation } from './plan.js';
import type { StatusRow } from './render.js';
import { aboveBaseline, UP_SOON_MS, type OtherCampaignActions, type CampaignActions } from './shared.js';
import type { CampaignWindow } from './window.js';
import { actionName, type ScalableTargetRef } from './targets.js';
import { currentWarm, type TableInfo, type WarmTargetRef, type WarmValues } from './warm.js';

export type Verdict = 'ok' | 'pending' | 'held' | 'above-baseline' | 'missing-actions' | 'warm';

export interface TargetVerdict {
  target: string;
  verdict: Verdict;
  /** Whether this verdict fails the check (exit 5). */
  fails: boolean;
  reasons: string[];
  baseline: { min: number; max: number } | null;
  registered: { min: number; max: number } | null;
  capacity: number | null;
  /** The capacity before the campaign (the drain's maximum), where one is recorded. */
  capacityBefore: number | null;
}

export interface CheckInput {
  campaign: string;
  ref: ScalableTargetRef;
  actions: CampaignActions;
  others: readonly OtherCampaignActions[];
  registered?: { min: number; max: number };
  capacity?: number;
  hasPolicy: boolean;
}

const at = (a: { utc?: string } | undefined) => (a?.utc ? Date.parse(a.utc) : undefined);

/** Pure: the verdict for one scalable target, judged at `nowMs` (after the window has ended). */
export function checkTarget(input: CheckInput, nowMs: number): TargetVerdict {
  const { ref, actions, registered, capacity, hasPolicy } = input;
  const { up, drain, down } = actions;
  const baseline = down?.min !== undefined && down.max !== undefined ? { min: down.min, max: down.max } : null;
  const capacityBefore = drain?.max ?? null;
  const out: TargetVerdict = { target: ref.label, verdict: 'ok', fails: false, reasons: [], baseline, registered: registered ?? null, capacity: capacity ?? null, capacityBefore };
  if (!up && !drain && !down) {
    out.reasons.push('no scheduled actions of this campaign: restored, or never prescaled');
    return out;
  }
  const missing: string[] = [];
  if (!down) missing.push(`its down action ${actionName(input.campaign, ref, 'down')} is missing: nothing brings the target back to its baseline`);
  if (down && !drain && !hasPolicy && up?.min !== undefined && baseline && up.min > baseline.min) {
    missing.push(`its drain action ${actionName(input.campaign, ref, 'drain')} is missing: with no scaling policy, lowering the minimum does not remove capacity`);
  }
  if (missing.length) {
    out.verdict = 'missing-actions';
    out.fails = true;
    out.reasons.push(...missing);
    return out;
  }
  // another campaign holds the target only once its way up has fired (or is about to), until its own way down:
  // a campaign merely scheduled for later holds nothing now (a raise-now campaign has no up action)
  const holders = input.others.filter((o) => (at(o.up) ?? 0) <= nowMs + UP_SOON_MS && (at(o.drain) ?? at(o.down) ?? 0) > nowMs);
  if (holders.length) {
    out.verdict = 'held';
    out.reasons.push(`held by ${holders.map((o) => `campaign ${o.campaign} until ${(o.drain ?? o.down)!.utc}`).join(', ')}`);
    return out;
  }
  const wayDown = at(drain) ?? at(down);
  if (wayDown !== undefined && wayDown > nowMs) {
    out.verdict = 'pending';
    out.reasons.push(`its way down is still to fire, at ${(drain ?? down)!.utc} (planned together with a later campaign)`);
    return out;
  }
  const above = aboveBaseline(actions, { registered, capacity, hasPolicy });
  if (above.length) {
    out.verdict = 'above-baseline';
    out.fails = true;
    out.reasons.push(`still above its baseline after the window: ${above.join('; ')}`);
    return out;
  }
  out.reasons.push(baseline ? `back at its baseline ${baseline.min}/${baseline.max}` : 'at its baseline');
  return out;
}

/** Pure: a warm target's verdict: reported, never a failure (warm throughput cannot be lowered). */
export function checkWarm(ref: WarmTargetRef, w: WarmValues): TargetVerdict {
  const value = `read ${w.read ?? 'unknown'}, write ${w.write ?? 'unknown'} units/s (${w.status ?? 'unknown'})`;
  return { target: ref.label, verdict: 'warm', fails: false, reasons: [`warm throughput ${value}: it cannot be lowered, so it is not checked against a baseline`], baseline: null, registered: null, capacity: w.read, capacityBefore: null };
}

/** `status --check`: the verdicts, the exit code (5 when one fails) and the text after the status. */
export function checkReport(
  campaign: string,
  window: CampaignWindow,
  now: Date,
  rows: readonly { row: StatusRow; seen: TargetObservation }[],
  warmRefs: readonly WarmTargetRef[],
  tables: Record<string, TableInfo>,
  out: Pick<Output, 'style'>,
): { exitCode: ExitCodeValue; data: Record<string, unknown>; text: string } {
  const endMs = Date.parse(window.endsAt.utc);
  if (now.getTime() < endMs) {
    return { exitCode: ExitCode.Ok, data: { windowEnded: false, endsAt: window.endsAt.utc, passed: true, verdicts: [] }, text: `check: the window of ${campaign} has not ended (it ends at ${window.endsAt.local.replace('T', ' ').slice(0, 16)} ${window.timezone}, ${window.endsAt.utc}): nothing to check yet` };
  }
  const verdicts = [
    ...rows.map(({ row, seen }) => checkTarget({ campaign, ref: row.ref, actions: row.actions, others: row.others, ...(row.registered ? { registered: row.registered } : {}), ...(seen.capacity !== undefined ? { capacity: seen.capacity } : {}), hasPolicy: seen.hasPolicy ?? false }, now.getTime())),
    ...warmRefs.map((ref) => checkWarm(ref, currentWarm(ref, tables))),
  ];
  const failing = verdicts.filter((v) => v.fails);
  const lines = verdicts.map((v) => `  ${v.fails ? out.style('red', '✗') : '✓'} ${v.target}: ${v.verdict}: ${v.reasons.join('; ')}`);
  const head = failing.length
    ? `check failed: ${failing.length} of ${verdicts.length} targets of ${campaign} are not back after the window (ended ${window.endsAt.utc}): ${failing.map((v) => v.target).join(', ')}`
    : `check passed: every target of ${campaign} is back at its baseline after the window (ended ${window.endsAt.utc})`;
  const hint = failing.length ? [`  run \`retailctl prescale restore --campaign ${campaign}\` to bring them back now`] : [];
  return { exitCode: failing.length ? ExitCode.CheckFailed : ExitCode.Ok, data: { windowEnded: true, endsAt: window.endsAt.utc, passed: failing.length === 0, verdicts }, text: [head, ...lines, ...hint].join('\n') };
}
