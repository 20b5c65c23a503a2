import type { Campaign } from '../config/schema.js';
import { othersOn, otherUpdatesOf, wayDownOf, type OtherActionUpdate, type TargetObservation } from './plan.js';
import { firstRecordedBaseline, groupsOf, needAt, type Occupant } from './shared.js';
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
  /** Without a scaling policy, lowering the minimum leaves capacity up: cap the maximum at `to.min` first. */
  drainFirst: boolean;
  /** This campaign's actions, deleted. */
  deletes: string[];
  /** Other campaigns' actions re-planned without this one (their way down back to their own windows). */
  otherUpdates: OtherActionUpdate[];
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
    const others = othersOn(ref, seen, nowMs, inputs.campaigns);
    const step: RestoreStep = { ref, keptFor: [], drainFirst: false, deletes, otherUpdates: [] };
    if (seen.registered) step.registered = seen.registered;
    const ownDown = seen.downAction ?? (own.down?.min !== undefined && own.down.max !== undefined ? { min: own.down.min, max: own.down.max } : undefined);
    if (!ownDown) return step;

    const self: Occupant = { campaign: inputs.campaignName, self: true, start: own.up?.utc ? Date.parse(own.up.utc) : -Infinity, end: nowMs, holds: nowMs, min: 0, max: 0, source: 'this-run', actions: own, recordedBaseline: ownDown };
    const baseline = firstRecordedBaseline([self, ...others])!.baseline;
    step.baseline = baseline;
    for (const o of others) o.max = Math.max(o.max, o.min, o.source === 'config' ? baseline.max : 0);

    const live = needAt(others, nowMs);
    step.to = live ? { min: live.min, max: live.max } : baseline;
    step.keptFor = others.filter((o) => live?.campaigns.includes(o.campaign)).map((o) => ({ campaign: o.campaign, min: o.min, max: o.max, until: windowTime(o.end, tz), source: o.source }));
    const current = seen.current ?? seen.registered?.min ?? 0;
    step.drainFirst = !seen.hasPolicy && current > step.to.min;
    for (const group of groupsOf(others)) {
      step.otherUpdates.push(...otherUpdatesOf(group, baseline, wayDownOf(group, baseline, Boolean(seen.hasPolicy), nowMs), nowMs, tz));
    }
    return step;
  });
}
