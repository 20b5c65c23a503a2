import type { Campaign } from '../config/schema.js';
import { capacityBeforeOf, otherDeletesOf, othersOn, otherUpdatesOf, finishedActions, wayDownOf, type ActionDelete, type OtherActionUpdate, type TargetObservation } from './plan.js';
import { aboveBaseline, firstRecordedBaseline, groupsOf, needAt, type Occupant, type OtherCampaignActions } from './shared.js';
import { actionName, resolveTargets, type ScalableTargetRef } from './targets.js';
import { campaignWindow, windowTime, type WindowTime } from './window.js';

/** Another campaign still live on a target when this one is restored: its capacity stays. */
export interface KeptFor {
  campaign: string;
  min: number;
  max: number;
  /** When its window (and so the capacity kept for it) ends. */
  until: WindowTime;
  source: Occupant['source'];
}

/** What `prescale restore` does to one target. */
export interface RestoreStep {
  ref: ScalableTargetRef;
  /** The baseline recorded before the first retailctl campaign (undefined: nothing recorded by this campaign). */
  baseline?: { min: number; max: number };
  registered?: { min: number; max: number };
  /** The values registered now: the baseline, or what the campaigns still live on the target need. */
  to?: { min: number; max: number };
  /** Campaigns whose capacity is kept (empty: back to the baseline). */
  keptFor: KeptFor[];
  /** Without a scaling policy, lowering the minimum leaves capacity up: cap the maximum at `drainTo` first. */
  drainFirst: boolean;
  /** Where the maximum is capped while capacity comes down: the capacity before the campaign (back to the baseline), or `to.min` (kept for others). */
  drainTo?: number;
  /** This campaign's actions, deleted. */
  deletes: string[];
  /** Other campaigns' actions re-planned without this one (their way down back to their own windows). */
  otherUpdates: OtherActionUpdate[];
  /** Other campaigns' drains their re-planned way down no longer has (a scaling policy brings capacity down). */
  otherDeletes: ActionDelete[];
  /** Other campaigns' actions as read before planning (to tell, after writing, whether one was being restored meanwhile). */
  othersRead?: OtherCampaignActions[];
  /**
   * Every action of this campaign is in the past: `fired` (the target is at or below the baseline its
   * down action recorded: left as it is), or `missed` (still above it after the window: the way down
   * did not take effect, so the baseline is put back, as `status --check` asks).
   */
  finished?: 'fired' | 'missed';
}

export interface RestoreInputs {
  campaignName: string;
  campaign: Campaign;
  now: Date;
  observations: Record<string, TargetObservation>;
  /** Every campaign in the config, for the needs of others sharing a target. */
  campaigns?: Record<string, Campaign>;
}

/**
 * Pure: put back what this campaign changed, and only that. Where another campaign is live on the
 * target, its capacity is kept (lowered to what it needs, not to the baseline) and its way down
 * re-planned without this campaign; otherwise the target goes back to the recorded baseline.
 */
export function planRestore(inputs: RestoreInputs): RestoreStep[] {
  const nowMs = inputs.now.getTime();
  const tz = campaignWindow(inputs.campaign).timezone;
  return resolveTargets(inputs.campaign).map((ref) => {
    const seen = inputs.observations[`${ref.resourceId}|${ref.dimension}`] ?? {};
    const own = seen.actions ?? {};
    const deletes = (['up', 'drain', 'down'] as const).filter((d) => own[d]).map((d) => own[d]?.name ?? actionName(inputs.campaignName, ref, d));
    // a finished run's actions (every one fired already) are deleted, and the baseline they recorded is not put back: it may be stale
    // unless the target is still above it: then the way down did not take effect
    const finished = finishedActions(own, nowMs) ? (aboveBaseline(own, { registered: seen.registered, capacity: seen.capacity ?? seen.current, hasPolicy: Boolean(seen.hasPolicy) }).length ? 'missed' : 'fired') : undefined;
    const ownDown = finished === 'fired' ? undefined : (seen.downAction ?? (own.down?.min !== undefined && own.down.max !== undefined ? { min: own.down.min, max: own.down.max } : undefined));
    const others = othersOn(ref, seen, nowMs, inputs.campaigns);
    const step: RestoreStep = { ref, keptFor: [], drainFirst: false, deletes, otherUpdates: [], otherDeletes: [] };
    if (finished) step.finished = finished;
    if (seen.registered) step.registered = seen.registered;
    if (seen.others) step.othersRead = seen.others;
    if (!ownDown) return step;

    const self: Occupant = { campaign: inputs.campaignName, self: true, start: own.up?.utc ? Date.parse(own.up.utc) : -Infinity, end: nowMs, holds: nowMs, min: 0, max: 0, source: 'this-run', actions: own, recordedBaseline: ownDown };
    const first = firstRecordedBaseline([self, ...others])!;
    const baseline = first.baseline;
    const capacityBefore = capacityBeforeOf([self, ...others], baseline, first.campaign, undefined);
    step.baseline = baseline;
    for (const o of others) o.max = Math.max(o.max, o.min, o.source === 'config' ? baseline.max : 0);

    const live = needAt(others, nowMs);
    step.to = live ? { min: live.min, max: live.max } : baseline;
    step.keptFor = others.filter((o) => live?.campaigns.includes(o.campaign)).map((o) => ({ campaign: o.campaign, min: o.min, max: o.max, until: windowTime(o.end, tz), source: o.source }));
    const current = seen.capacity ?? seen.current ?? seen.registered?.min ?? 0;
    // back to the baseline: down to the capacity before the campaign, not to the minimum
    const drainTo = live ? step.to.min : Math.max(step.to.min, capacityBefore);
    step.drainFirst = !seen.hasPolicy && current > drainTo;
    if (step.drainFirst) step.drainTo = drainTo;
    for (const group of groupsOf(others)) {
      const way = wayDownOf(group, baseline, Boolean(seen.hasPolicy), nowMs);
      step.otherUpdates.push(...otherUpdatesOf(group, baseline, way, nowMs, tz, capacityBefore));
      step.otherDeletes.push(...otherDeletesOf(group, way));
    }
    return step;
  });
}
