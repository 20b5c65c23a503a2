/**
 * Pure: several campaigns on one scalable target. Every retailctl campaign leaves its intent in its
 * own scheduled actions on the target (`retailctl-<campaign>-<key>-up|drain|down`), so any run, from
 * any machine, can read who else holds the target and when. Overlapping windows are planned
 * together: while several are live the minimum is the largest of theirs, and the way down (drain,
 * then down to the baseline recorded before the first of them) happens once, after the last ends.
 */
import { resolveTargets, slug, type ScalableTargetRef } from './targets.js';
import type { Campaign } from '../config/schema.js';
import { campaignWindow } from './window.js';

/** A scheduled action as read back from Application Auto Scaling. */
export interface ActionState {
  name: string;
  schedule: string;
  timezone?: string;
  /** When it fires, read as AWS reads the schedule in its Timezone; absent when not an `at()` time. */
  utc?: string;
  min?: number;
  max?: number;
}

/** One campaign's retailctl actions on one target. */
export interface CampaignActions {
  up?: ActionState;
  drain?: ActionState;
  down?: ActionState;
}

/** Another campaign's actions on the same target, found by their names. */
export interface OtherCampaignActions extends CampaignActions {
  /** The campaign as it appears in the action names (`retailctl-<campaign>-<key>-…`). */
  campaign: string;
}

/** Windows closer than this are planned together: a drain and down take 2 minutes and AWS runs at() actions within about a minute. */
export const MERGE_GAP_MS = 5 * 60_000;

/** Another campaign's up that fires at most this long after now counts as holding the target now. */
export const UP_SOON_MS = MERGE_GAP_MS;

/** A campaign holding (or about to hold) capacity on a target. */
export interface Occupant {
  campaign: string;
  self: boolean;
  /**
   * When its minimum applies (its up action; now when that fires within UP_SOON_MS, as a raise-now
   * run's does); -Infinity when it was raised already by an earlier version (raise-now, no up action,
   * and the target is raised or its configured window has started). A campaign with no up
   * action that has not raised the target starts at its configured window, or, when it is not in the
   * config, at its way down (it holds nothing until then).
   */
  start: number;
  /** When its own window ends. */
  end: number;
  /** Until when it holds the target: its end, or now when its (late) way down is still to come. */
  holds: number;
  min: number;
  max: number;
  /**
   * Where min, max and end come from: this run's config; the config, for another campaign also in it;
   * or, for one that is not, its scheduled actions (its up action's values, or the registered ones when
   * it raised at once, and its way down's time), which can only overstate what it needs, never understate.
   */
  source: 'this-run' | 'config' | 'scheduled-actions';
  actions: CampaignActions;
  /** Its down action's values (the baseline it recorded). */
  recordedBaseline?: { min: number; max: number };
  /** Its actions in AWS end later than its window in the config (edited since it was scheduled): the actions' time is used. */
  endFromActions?: boolean;
  /** Its way down is at this campaign's own way down, later than its config says: taken as put there by planning together, so its config end is used. */
  movedHere?: boolean;
}

/** The target is raised for a campaign when the registered values differ from the baseline its down action recorded. */
export function raisedFor(recorded: { min: number; max: number } | undefined, registered: { min: number; max: number } | undefined): boolean {
  return Boolean(recorded && registered && (recorded.min !== registered.min || recorded.max !== registered.max));
}

const atMs = (a: ActionState | undefined) => (a?.utc ? Date.parse(a.utc) : undefined);

/** The maximum a campaign needs on a target: its own, the registered one and the baseline's, and never below its minimum. */
export function campaignMax(ref: Pick<ScalableTargetRef, 'max' | 'desired'>, registered: { max: number } | undefined, baseline: { max: number }): number {
  return Math.max(ref.max ?? 0, ref.desired, registered?.max ?? 0, baseline.max);
}

/**
 * Another campaign as an occupant of `ref`, or undefined when it has nothing left to do (every
 * action in the past). Its needs come from `config` when that campaign is in it with this target;
 * otherwise from its up action, or the registered values when it raised at once.
 */
export function otherOccupant(
  other: OtherCampaignActions,
  ref: Pick<ScalableTargetRef, 'resourceId' | 'dimension'>,
  nowMs: number,
  registered: { min: number; max: number } | undefined,
  config: Record<string, Campaign> | undefined,
  /** A scaling policy is attached to the target (a campaign raised at once then writes no drain). */
  hasPolicy = false,
  /** This campaign's own drain and down times: another campaign's way down there was put there by planning together with this one. */
  ownWayDown: readonly number[] = [],
): Occupant | undefined {
  const times = [atMs(other.up), atMs(other.drain), atMs(other.down)].filter((t): t is number => t !== undefined);
  if (!times.some((t) => t > nowMs)) return undefined;
  const entry = Object.entries(config ?? {}).find(([name]) => slug(name) === other.campaign);
  const configured = entry ? resolveTargets(entry[1]).find((r) => r.resourceId === ref.resourceId && r.dimension === ref.dimension) : undefined;
  const window = entry && configured ? campaignWindow(entry[1]) : undefined;
  // when its capacity is taken away: its drain (or its down, when it has no drain), as AWS will run them
  const wayDownAt = atMs(other.drain) ?? atMs(other.down);
  const recorded = other.down?.min !== undefined && other.down.max !== undefined ? { min: other.down.min, max: other.down.max } : undefined;
  let start: number;
  const upAt = atMs(other.up);
  // an up that fires within minutes holds from now: a campaign raised now records its minimum in an
  // up action a minute ahead (an at() in the past never fires), and raising a little early is harmless
  if (upAt !== undefined) start = upAt <= nowMs + UP_SOON_MS ? Math.min(upAt, nowMs) : upAt;
  else if (window && Date.parse(window.readyBy.utc) <= nowMs) {
    // raised at once (no up action) and its window has started: live now
    start = -Infinity;
  } else if (raisedFor(recorded, registered) && (other.drain !== undefined || hasPolicy) && (wayDownAt ?? -Infinity) > nowMs) {
    // raised at once: its whole way down is written (a drain, or no drain needed under a policy) and the
    // target is raised; it holds the target until that way down, whoever else explains the raised values
    start = -Infinity;
  } else if (window) {
    // not raised for it (e.g. a run stopped after writing its way down): from its configured window
    start = Date.parse(window.readyBy.utc);
  } else {
    // not raised for it, not in this config: it holds nothing before its way down (kept out of other windows all the same)
    start = wayDownAt ?? Math.max(...times);
  }
  let end: number;
  let min: number;
  let max: number;
  let endFromActions = false;
  let movedHere = false;
  if (entry && configured) {
    // what is scheduled in AWS is what will happen: the config (perhaps edited since) never shortens it
    const configEnd = Date.parse(window!.endsAt.utc);
    movedHere = wayDownAt !== undefined && ownWayDown.includes(wayDownAt) && wayDownAt > configEnd;
    end = movedHere ? configEnd : Math.max(configEnd, wayDownAt ?? -Infinity);
    endFromActions = end > configEnd;
    min = configured.desired;
    // the caller raises this to the baseline maximum once it knows the baseline
    max = Math.max(configured.max ?? 0, configured.desired);
  } else {
    end = wayDownAt ?? Math.max(...times);
    min = other.up?.min ?? registered?.min ?? 0;
    max = Math.max(other.up?.max ?? registered?.max ?? min, min);
  }
  const occupant: Occupant = {
    campaign: entry?.[0] ?? other.campaign,
    self: false,
    start,
    end,
    holds: Math.max(end, nowMs),
    min,
    max,
    source: entry && configured ? 'config' : 'scheduled-actions',
    actions: { ...(other.up ? { up: other.up } : {}), ...(other.drain ? { drain: other.drain } : {}), ...(other.down ? { down: other.down } : {}) },
  };
  if (recorded) occupant.recordedBaseline = recorded;
  if (endFromActions) occupant.endFromActions = true;
  if (movedHere) occupant.movedHere = true;
  return occupant;
}

/** Occupants whose windows overlap (or nearly touch) are one group; returns the group holding `of`. */
export function groupOf(occupants: readonly Occupant[], of: Occupant): Occupant[] {
  const sorted = [...occupants].sort((a, b) => a.start - b.start || a.campaign.localeCompare(b.campaign));
  let group: Occupant[] = [];
  let until = -Infinity;
  for (const o of sorted) {
    if (group.length && o.start >= until + MERGE_GAP_MS) {
      if (group.includes(of)) return group;
      group = [];
      until = -Infinity;
    }
    group.push(o);
    until = Math.max(until, o.holds);
  }
  return group.includes(of) ? group : [of];
}

/** Every group of overlapping occupants. */
export function groupsOf(occupants: readonly Occupant[]): Occupant[][] {
  const out: Occupant[][] = [];
  for (const o of occupants) if (!out.some((g) => g.includes(o))) out.push(groupOf(occupants, o));
  return out;
}

/** What the occupants live at `t` need together: the largest minimum and maximum; undefined when none is live. */
export function needAt(group: readonly Occupant[], t: number): { min: number; max: number; campaigns: string[] } | undefined {
  const live = group.filter((o) => o.start <= t && t < o.holds);
  if (!live.length) return undefined;
  const min = Math.max(...live.map((o) => o.min));
  return { min, max: Math.max(min, ...live.map((o) => o.max)), campaigns: live.map((o) => o.campaign) };
}

/**
 * The baseline to come back to: the one recorded by the campaign that started first (it was read
 * before any retailctl campaign raised the target); later campaigns may have recorded raised values
 * (older retailctl versions did), and those are corrected.
 */
export function firstRecordedBaseline(occupants: readonly Occupant[]): { baseline: { min: number; max: number }; campaign: string } | undefined {
  const recorded = occupants.filter((o) => o.recordedBaseline).sort((a, b) => a.start - b.start || Number(b.self) - Number(a.self) || a.campaign.localeCompare(b.campaign));
  const first = recorded[0];
  return first ? { baseline: first.recordedBaseline!, campaign: first.campaign } : undefined;
}

/**
 * Pure: how a target is still above the baseline a campaign's down action recorded, one reason per
 * way (none: it is not): its registered min or max above it, or, with no scaling policy, its
 * capacity above the capacity before the campaign (the drain's maximum; else the baseline maximum).
 * What `status --check` fails on after the window, and what `restore` then puts back.
 */
export function aboveBaseline(actions: Pick<CampaignActions, 'drain' | 'down'>, state: { registered?: { min: number; max: number } | undefined; capacity?: number | undefined; hasPolicy: boolean }): string[] {
  const { drain, down } = actions;
  const baseline = down?.min !== undefined && down.max !== undefined ? { min: down.min, max: down.max } : undefined;
  const { registered, capacity } = state;
  const above: string[] = [];
  if (baseline && registered && (registered.min > baseline.min || registered.max > baseline.max)) above.push(`registered ${registered.min}/${registered.max}, baseline ${baseline.min}/${baseline.max}`);
  const before = drain?.max;
  const cap = before ?? baseline?.max;
  if (!state.hasPolicy && capacity !== undefined && cap !== undefined && capacity > cap) above.push(`capacity ${capacity}, ${before !== undefined ? 'before the campaign' : 'baseline maximum'} ${cap}`);
  return above;
}
