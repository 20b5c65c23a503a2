import type { WarmTargetPlan } from './warm.js';
import type { Campaign } from '../config/schema.js';
import {
  campaignMax,
  firstRecordedBaseline,
  groupOf,
  needAt,
  MERGE_GAP_MS,
  otherOccupant,
  type ActionState,
  type CampaignActions,
  type Occupant,
  type OtherCampaignActions,
} from './shared.js';
import { actionName, resolveTargets, slug, type ScalableTargetRef, type SizedValue } from './targets.js';
import { campaignWindow, windowTime, type CampaignWindow, type WindowTime } from './window.js';

/** Provisioned concurrency configured on a Lambda alias or version outside this campaign. */
export interface LambdaElsewhere {
  /** `function:qualifier` */
  target: string;
  requested: number;
}

/** A retailctl campaign's scheduled actions on a Lambda alias outside this campaign. */
export interface LambdaScheduled {
  /** `function:qualifier` */
  target: string;
  campaign: string;
  up?: ActionState;
  drain?: ActionState;
  down?: ActionState;
}


/** What was read about one scalable target before planning. */
export interface TargetObservation {
  /** The registered min/max, if the target is registered with Application Auto Scaling. */
  registered?: { min: number; max: number };
  /**
   * retailctl's own down action for this campaign, if a previous run created it. Its min/max are the
   * baseline recorded before the first change: that is what makes a rerun (or a restore from another
   * machine) put back the real original values, not the raised ones.
   */
  downAction?: { min: number; max: number };
  /** This campaign's scheduled actions on the target, as read (a rerun updates them). */
  actions?: CampaignActions;
  /** Other retailctl campaigns' scheduled actions on the same target. */
  others?: OtherCampaignActions[];
  /** Capacity in place now (allocated provisioned concurrency, running tasks, provisioned units). */
  current?: number;
  /** A scaling policy is attached: it brings capacity back down once the minimum is lowered. */
  hasPolicy?: boolean;
  /** The capacity configured now: ECS desired count, DynamoDB provisioned units, Lambda requested provisioned concurrency. */
  capacity?: number;
}

/** What was read about a Lambda alias. */
export interface LambdaObservation {
  exists: boolean;
  memoryMb: number;
  architecture: 'x86_64' | 'arm64';
  /** Provisioned concurrency already configured on this alias (counts toward the account already). */
  provisioned: number;
}

export interface PrescaleInputs {
  campaignName: string;
  campaign: Campaign;
  /** `now`: raise now and schedule the way down; `schedule`: scheduled actions both ways. */
  mode: 'now' | 'schedule';
  now: Date;
  observations: Record<string, TargetObservation>;
  lambdas: Record<string, LambdaObservation>;
  /** GetAccountSettings: account limit and unreserved concurrency. */
  account?: { limit: number; unreserved: number };
  /** Provisioned concurrency on other aliases and versions in the account. */
  lambdaElsewhere?: LambdaElsewhere[];
  /** Other retailctl campaigns' actions on Lambda aliases that are not this campaign's. */
  lambdaScheduled?: LambdaScheduled[];
  /** Region the cost estimate assumes. */
  region: string;
  /** Targets sized from the last campaign's metrics (`sizing.fromSend`), by target key, as read in the gather step. */
  sized?: Record<string, SizedValue>;
  /**
   * Every campaign in the config (this one included). Another campaign found on a shared target is
   * taken at its configured minimum and window when it is here; otherwise at what its scheduled
   * actions say.
   */
  campaigns?: Record<string, Campaign>;
}

export interface ScheduledActionPlan {
  name: string;
  /** `at(yyyy-mm-ddThh:mm:ss)` in `timezone`, which is always UTC: a UTC time never happens twice. */
  schedule: string;
  timezone: string;
  utc: string;
  /** The same instant as local time in the campaign's zone, with its offset (`2027-11-07T01:59:00-04:00`). */
  local: string;
  min: number;
  max: number;
  /** False when the action already exists exactly like this (nothing to write). */
  changed: boolean;
  /** When the action exists at another time: that time (the action moves). */
  previousUtc?: string;
}

/** A change to another campaign's scheduled action on a shared target (planned together). */
export interface OtherActionUpdate extends ScheduledActionPlan {
  campaign: string;
  direction: 'up' | 'drain' | 'down';
  /** The action as it was read. */
  previous: ActionState;
}

/** Another campaign that holds, or will hold, the same scalable target. */
export interface SharedCampaign {
  campaign: string;
  /** When its minimum applies; null when it raised at once (no up action). */
  start: WindowTime | null;
  end: WindowTime;
  min: number;
  max: number;
  /** Where its needs were read from (see Occupant.source). */
  source: Occupant['source'];
  /** Its window overlaps this campaign's: planned together (largest minimum, one way down after the last). */
  together: boolean;
}

export interface TargetPlan {
  ref: ScalableTargetRef;
  /** Registered min/max before retailctl changed anything (restored at the end). */
  baseline: { min: number; max: number };
  /** Where the baseline came from. */
  baselineSource: 'down-action' | 'registered' | 'unregistered';
  /** The campaign whose down action recorded the baseline (this one, or one sharing the target). */
  baselineCampaign?: string;
  /** What this run writes at the scale-up: this campaign's own minimum, or more while another campaign on the target needs more. */
  planned: { min: number; max: number };
  /** This campaign's own needs from the config. */
  own: { min: number; max: number };
  /** The plan raises the registered maximum to fit the new minimum. */
  raisesMax: boolean;
  current?: number;
  /** The registered min/max as read. */
  registered?: { min: number; max: number };
  /** now mode: RegisterScalableTarget with the planned min/max. */
  register?: { min: number; max: number };
  up?: ScheduledActionPlan;
  /**
   * Lowering the minimum does not remove capacity (Application Auto Scaling only scales in when
   * capacity is above the maximum). A target without a scaling policy therefore gets a drain
   * action at the end of the window that caps max at the baseline minimum, and the exact baseline
   * is restored by the down action DRAIN_MS later.
   */
  drain?: ScheduledActionPlan;
  down: ScheduledActionPlan;
  /** Other campaigns on this target (empty when it is this campaign's alone). */
  shared: SharedCampaign[];
  /** Other campaigns' actions rewritten so that the campaigns planned together stay consistent. */
  otherUpdates: OtherActionUpdate[];
  /** Actions removed: this campaign's that the plan no longer wants (a drain once a scaling policy is attached), other campaigns' drains the group no longer has. */
  deletes: ActionDelete[];
  /** The capacity before the first campaign (ECS desired count, DynamoDB units, Lambda provisioned concurrency), clamped to the baseline: the drain caps the maximum there. */
  capacityBefore: number;
}

/** Lambda provisioned concurrency price, per GB-second (published, us-east-1, Nov 2026). */
export const PC_PRICE_PER_GB_SECOND = { x86_64: 0.0000041667, arm64: 0.0000033334 } as const;
/** Time between the drain action (capacity forced down) and the down action (exact baseline restored). */
export const DRAIN_MS = 2 * 60_000;
/** Raising now more than this long before capacity is needed gets a warning (and the cost shows why). */
export const EARLY_WARNING_MS = 6 * 3_600_000;
/** AWS keeps at least this much unreserved concurrency in every account. */
export const MIN_UNRESERVED = 100;
/**
 * A scheduled action must fire at least this long after planning: an at() time in the past never
 * fires, and a plan takes a moment to confirm and apply.
 */
export const SCHEDULE_MARGIN_MS = 60_000;

/** A problem with the config that only shows against the clock: exit 2, located like other config problems. */
export interface ConfigTimingProblem {
  /** Config path of the key to blame, e.g. `campaigns.spring.leadTime`… */
  path: (string | number)[];
  /** …or this one, when the first is not written in the file (a default applied). */
  fallbackPath?: (string | number)[];
  message: string;
}

export interface PrescalePlan {
  /** `prescale.schedule` (--schedule) or `prescale.raise` (now). */
  kind: 'prescale.schedule' | 'prescale.raise';
  version: 1;
  campaign: string;
  mode: 'now' | 'schedule';
  window: CampaignWindow;
  targets: TargetPlan[];
  cost: { usd: number; seconds: number; region: string; assumption: string; lines: string[] };
  /** Config problems shown by the clock (exit 2): nothing is written. */
  configProblems: ConfigTimingProblem[];
  /** Preflight failures: nothing is written. */
  refusals: string[];
  warnings: string[];
  /** Facts the operator should see (e.g. the window has started, so capacity is raised now). */
  notes: string[];
  /** On-demand DynamoDB tables and indexes whose warm throughput is raised now (never lowered). */
  warm?: WarmTargetPlan[];
}

/** An action at an instant, in UTC, compared with what was read. */
export function actionAt(name: string, ms: number, timezone: string, min: number, max: number, read?: ActionState): ScheduledActionPlan {
  const t = windowTime(ms, timezone);
  const schedule = `at(${t.utc.replace(/Z$/, '').slice(0, 19)})`;
  const changed = !(read && read.schedule === schedule && read.timezone === 'UTC' && read.min === min && read.max === max);
  const plan: ScheduledActionPlan = { name, schedule, timezone: 'UTC', utc: t.utc, local: t.localOffset, min, max, changed };
  if (read?.utc && read.utc !== t.utc) plan.previousUtc = read.utc;
  return plan;
}

/**
 * The order to write a drain and its down in, so that a run that dies between the two never leaves
 * a drain with no down after it (the maximum would stay capped): a way down that moves later (or
 * is new) gets its down first, one that moves earlier its drain first.
 */
export function wayDownOrder<A extends Pick<ScheduledActionPlan, 'utc' | 'previousUtc'>>(drain: A | undefined, down: A | undefined): A[] {
  const earlier = drain?.previousUtc !== undefined && Date.parse(drain.utc) < Date.parse(drain.previousUtc);
  return (earlier ? [drain, down] : [down, drain]).filter((a): a is A => a !== undefined);
}

/** One write call of a target's plan, in the order made. */
export type TargetWrite =
  | { type: 'register'; min: number; max: number; why: string }
  | { type: 'delete'; names: string[] }
  | { type: 'put'; action: ScheduledActionPlan }
  /** Another campaign's action: written only if that campaign still has its down action when read just before. */
  | { type: 'putOther'; update: OtherActionUpdate };

/**
 * A target's writes in the order that keeps it safe if the run dies half-way: the way down is
 * scheduled BEFORE capacity goes up (so it always comes back down), other campaigns' ways down are
 * moved after this window before anything rises, and an unregistered Lambda alias is first
 * registered at its baseline so the down action has a target to live on. Actions AWS already holds
 * exactly are not written again. Pure: the executor makes exactly these calls, and a plan file lists them.
 */
export function targetWrites(t: TargetPlan): TargetWrite[] {
  const out: TargetWrite[] = [];
  const put = (a: ScheduledActionPlan | undefined) => {
    if (a?.changed) out.push({ type: 'put', action: a });
  };
  const del = (names: string[]) => {
    if (names.length) out.push({ type: 'delete', names });
  };
  if (t.baselineSource === 'unregistered' && !t.registered) out.push({ type: 'register', min: t.baseline.min, max: Math.max(t.baseline.max, 0), why: 'register at the baseline first' });
  // removing a drain never leaves a cap behind: other campaigns' drains the group no longer has go first
  del(t.deletes.filter((d) => !d.self).map((d) => d.name));
  const others = t.otherUpdates.filter((u) => u.changed);
  for (const campaign of new Set(others.map((u) => u.campaign))) {
    const mine = others.filter((u) => u.campaign === campaign);
    for (const u of wayDownOrder(mine.find((x) => x.direction === 'drain'), mine.find((x) => x.direction === 'down'))) out.push({ type: 'putOther', update: u });
  }
  for (const a of wayDownOrder(t.drain, t.down)) put(a);
  del(t.deletes.filter((d) => d.self).map((d) => d.name));
  for (const u of others.filter((x) => x.direction === 'up')) out.push({ type: 'putOther', update: u });
  put(t.up);
  if (t.register && !(t.registered && t.registered.min === t.register.min && t.registered.max === t.register.max)) out.push({ type: 'register', min: t.register.min, max: t.register.max, why: 'raise now' });
  return out;
}

/** Number of writes a target's plan still needs (0: AWS already holds it). */
export function pendingWrites(t: TargetPlan): number {
  const actions = [t.up, t.drain, t.down, ...t.otherUpdates].filter((a) => a?.changed).length + t.deletes.length;
  const register = t.register && !(t.registered && t.registered.min === t.register.min && t.registered.max === t.register.max) ? 1 : 0;
  return actions + register;
}

const fmt = (t: WindowTime) => `${t.local.replace('T', ' ').slice(0, 16)}`;

/** Pure: everything `prescale` would do, and why it would refuse. */
export function planPrescale(inputs: PrescaleInputs): PrescalePlan {
  const { campaign, campaignName, mode } = inputs;
  const window = campaignWindow(campaign);
  const tz = window.timezone;
  const configProblems: ConfigTimingProblem[] = [];
  const refusals: string[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  const nowMs = inputs.now.getTime();
  const readyMs = Date.parse(window.readyBy.utc);
  const endMs = Date.parse(window.endsAt.utc);
  if (nowMs >= endMs) {
    refusals.push(`campaign ${campaignName} ended at ${window.endsAt.local} ${tz} (${window.endsAt.utc}): nothing to prescale`);
  } else if (mode === 'schedule' && readyMs < nowMs + SCHEDULE_MARGIN_MS) {
    configProblems.push({
      path: ['campaigns', campaignName, 'leadTime'],
      fallbackPath: ['campaigns', campaignName, 'sendAt'],
      message: `the scale-up time ${fmt(window.readyBy)} ${tz} (${window.readyBy.utc}, sendAt − leadTime) ${readyMs <= nowMs ? 'has passed' : 'is less than a minute away'}: a scheduled action for it would never fire. The window has started: run without --schedule to raise capacity now`,
    });
  } else if (mode === 'now' && readyMs <= nowMs) {
    notes.push(`the window started at ${fmt(window.readyBy)} ${tz} (${window.readyBy.utc}): capacity is raised now, and only raise-now is possible`);
  } else if (mode === 'now' && readyMs - nowMs > EARLY_WARNING_MS) {
    warnings.push(`raising now holds the capacity (and pays for it) from now until ${window.endsAt.local} ${tz}, ${Math.round((readyMs - nowMs) / 3_600_000)} h before it is needed: --schedule raises it at ${window.readyBy.local} instead`);
  }
  if (window.sendAtAlsoAt) {
    warnings.push(`sendAt ${campaign.sendAt} happens twice in ${tz} (clocks go back that night): the first, ${window.sendAt.localOffset} (${window.sendAt.utc}), is used, not ${window.sendAtAlsoAt.localOffset}`);
  }

  const planned = resolveTargets(campaign, inputs.sized).map((ref) => planTarget(ref, inputs, window, { nowMs, readyMs, endMs }, refusals, warnings, notes));
  const targets: TargetPlan[] = planned.map((p) => p.plan);

  // Lambda preflight: aliases exist, and the account keeps AWS's minimum unreserved concurrency at
  // every instant of this window (at each action that fires in it): the sum, over this campaign's
  // aliases, of what their groups of campaigns need then, plus the provisioned concurrency on every
  // other alias while it holds (until retailctl's own way down there) and what other retailctl
  // campaigns schedule on other aliases then
  const windowStart = mode === 'now' ? nowMs : readyMs;
  const lambdaTargets = planned.filter((p) => p.plan.ref.namespace === 'lambda');
  const ms = (a: ActionState | undefined) => (a?.utc ? Date.parse(a.utc) : undefined);
  const instants = new Set<number>([windowStart]);
  const addInstant = (t: number | undefined) => {
    if (t !== undefined && t > windowStart && t < endMs) instants.add(t);
  };
  const ownAt: ((t: number) => number)[] = [];
  let heldHere = 0;
  for (const { plan: t, group } of lambdaTargets) {
    const fn = `${t.ref.lambda!.functionName}:${t.ref.lambda!.qualifier}`;
    const seen = inputs.lambdas[fn];
    if (!seen?.exists) {
      refusals.push(`${t.ref.label}: function ${t.ref.lambda!.functionName} has no alias or version "${t.ref.lambda!.qualifier}" (provisioned concurrency needs an alias or a published version)`);
      continue;
    }
    heldHere += seen.provisioned;
    for (const o of group) [o.start, o.holds].forEach(addInstant);
    // what is provisioned now on this alias holds until a campaign outside this group takes it down
    const outside = t.shared.length ? (inputs.observations[`${t.ref.resourceId}|${t.ref.dimension}`]?.others ?? []).filter((o) => !group.some((g) => !g.self && slug(g.campaign) === o.campaign)) : [];
    const releasedAt = outside.map((o) => ms(o.drain) ?? ms(o.down)).filter((x): x is number => x !== undefined && x > nowMs);
    const release = releasedAt.length ? Math.max(...releasedAt) : Infinity;
    addInstant(release);
    const after = Math.min(seen.provisioned, t.capacityBefore);
    ownAt.push((at) => Math.max(needAt(group, at)?.min ?? t.own.min, at < release ? seen.provisioned : after));
  }
  const elsewhereAt = new Map<string, (at: number) => number>();
  const scheduledOn = (target: string) => (inputs.lambdaScheduled ?? []).filter((o) => o.target === target);
  for (const e of inputs.lambdaElsewhere ?? []) {
    // provisioned concurrency retailctl's own way down removes: counted until then (then what that way down leaves)
    const downs = scheduledOn(e.target).map((o) => ({ at: ms(o.drain) ?? ms(o.down), leaves: o.drain?.max ?? o.down?.min ?? 0 })).filter((d): d is { at: number; leaves: number } => d.at !== undefined && d.at > nowMs);
    const last = downs.sort((x, y) => y.at - x.at)[0];
    addInstant(last?.at);
    const prev = elsewhereAt.get(e.target);
    elsewhereAt.set(e.target, (at) => Math.max(prev?.(at) ?? 0, last && at >= last.at ? Math.min(e.requested, last.leaves) : e.requested));
  }
  for (const o of inputs.lambdaScheduled ?? []) {
    const upAt = ms(o.up);
    const downAt = ms(o.drain) ?? ms(o.down);
    if (upAt === undefined || o.up?.min === undefined) continue;
    const min = o.up.min;
    addInstant(upAt);
    const prev = elsewhereAt.get(o.target);
    elsewhereAt.set(o.target, (at) => Math.max(prev?.(at) ?? 0, upAt <= at && at < (downAt ?? Infinity) ? min : 0));
  }
  let peak = { at: windowStart, pc: 0, others: 0, detail: [] as [string, number][] };
  for (const at of [...instants].sort((x, y) => x - y)) {
    const pc = ownAt.reduce((sum, f) => sum + f(at), 0);
    const detail = [...elsewhereAt].map(([k, f]) => [k, f(at)] as [string, number]).filter(([, n]) => n > 0);
    const others = detail.reduce((sum, [, n]) => sum + n, 0);
    if (pc + others > peak.pc + peak.others) peak = { at, pc, others, detail };
  }
  const peakPc = peak.pc;
  const others = peak.others;
  if (inputs.account && peakPc > heldHere) {
    const after = inputs.account.unreserved - others - peakPc;
    if (after < MIN_UNRESERVED) {
      const when = peak.at > windowStart ? ` (at ${windowTime(peak.at, tz).utc})` : '';
      const detail = others > 0 ? ` and ${others} on other functions (allocated now or scheduled by other campaigns during this window: ${peak.detail.map(([k, n]) => `${k} ${n}`).join(', ')})` : '';
      refusals.push(
        `not enough Lambda concurrency: the plan needs ${peakPc} provisioned concurrency at its peak${when}${detail}, leaving ${after} of the account's ${inputs.account.unreserved} unreserved (limit ${inputs.account.limit}); AWS keeps at least ${MIN_UNRESERVED} unreserved. Ask AWS for a higher concurrency limit or lower the campaign's targets by ${MIN_UNRESERVED - after}`,
      );
    }
  }

  // cost of the provisioned concurrency this campaign holds through its window
  // now mode holds capacity from now; schedule mode from the scale-up time
  const start = mode === 'now' ? nowMs : Math.max(nowMs, readyMs);
  const seconds = Math.max(0, Math.round((endMs - start) / 1000));
  const lines: string[] = [];
  let usd = 0;
  for (const t of targets.filter((t) => t.ref.namespace === 'lambda')) {
    const seen = inputs.lambdas[`${t.ref.lambda!.functionName}:${t.ref.lambda!.qualifier}`];
    if (!seen?.exists) continue;
    const price = PC_PRICE_PER_GB_SECOND[seen.architecture];
    const cost = (seen.memoryMb / 1024) * t.own.min * seconds * price;
    usd += cost;
    lines.push(`${t.ref.label}: ${seen.memoryMb} MB × ${t.own.min} × ${seconds} s × $${price}/GB-s (${seen.architecture}) = $${cost.toFixed(2)}`);
  }
  return {
    kind: mode === 'schedule' ? 'prescale.schedule' : 'prescale.raise',
    version: 1,
    campaign: campaignName,
    mode,
    window,
    targets,
    cost: { usd: Number(usd.toFixed(2)), seconds, region: inputs.region, assumption: `Lambda provisioned concurrency list price in ${inputs.region === 'us-east-1' ? 'us-east-1' : `us-east-1 (your region ${inputs.region} may differ)`}; invocations are billed on top`, lines },
    configProblems,
    refusals,
    warnings,
    notes,
  };
}

/** One target: baseline, the raised values (together with other campaigns), the way down after the last window. */
function planTarget(
  ref: ScalableTargetRef,
  inputs: PrescaleInputs,
  window: CampaignWindow,
  clock: { nowMs: number; readyMs: number; endMs: number },
  refusals: string[],
  warnings: string[],
  notes: string[] = [],
): { plan: TargetPlan; group: Occupant[] } {
  // the grouping is a fixed point of this run's own writes: another campaign's way down found at this
  // campaign's own is taken as put there by planning together (its config end applies) only when the
  // plan keeps it with this campaign; otherwise its actions are what will happen
  const first = planTargetWith(ref, inputs, window, clock, new Set());
  const keep = first.others.filter((o) => o.movedHere && !first.group.includes(o)).map((o) => slug(o.campaign));
  const chosen = keep.length ? planTargetWith(ref, inputs, window, clock, new Set(keep)) : first;
  refusals.push(...chosen.refusals);
  warnings.push(...chosen.warnings);
  notes.push(...chosen.notes);
  return { plan: chosen.plan, group: chosen.group };
}

function planTargetWith(
  ref: ScalableTargetRef,
  inputs: PrescaleInputs,
  window: CampaignWindow,
  clock: { nowMs: number; readyMs: number; endMs: number },
  keepActionsFor: ReadonlySet<string>,
): { plan: TargetPlan; group: Occupant[]; others: Occupant[]; refusals: string[]; warnings: string[]; notes: string[] } {
  const refusals: string[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  const { campaignName, mode } = inputs;
  const { nowMs, readyMs, endMs } = clock;
  const tz = window.timezone;
  const seen = inputs.observations[`${ref.resourceId}|${ref.dimension}`] ?? {};
  // this campaign's actions from a finished run (every one fired already) record nothing for this one: a new baseline is read, and they are overwritten
  const finished = finishedActions(seen.actions, nowMs);
  const ownActions: CampaignActions = finished ? {} : (seen.actions ?? {});
  const ownDown = ownActions.down ?? (!finished && seen.downAction ? { name: actionName(campaignName, ref, 'down'), schedule: '', ...seen.downAction } : undefined);

  // every campaign on the target: this one, and the others that still have something to do
  const selfStart = mode === 'now' ? Math.min(nowMs, readyMs) : readyMs;
  const ownUpAt = ownActions.up?.utc ? Date.parse(ownActions.up.utc) : undefined;
  const others = othersOn(ref, seen, nowMs, inputs.campaigns, keepActionsFor);
  const self: Occupant = { campaign: campaignName, self: true, start: selfStart, end: endMs, holds: endMs, min: ref.desired, max: ref.desired, source: 'this-run', actions: ownActions };
  if (ownDown?.min !== undefined && ownDown.max !== undefined) self.recordedBaseline = { min: ownDown.min, max: ownDown.max };

  // the baseline: recorded before the first retailctl campaign raised the target, never the raised values
  let baseline: { min: number; max: number };
  let baselineSource: TargetPlan['baselineSource'];
  let baselineCampaign: string | undefined;
  const recorded = firstRecordedBaseline([self, ...others]);
  if (recorded) {
    baseline = recorded.baseline;
    baselineSource = 'down-action';
    baselineCampaign = recorded.campaign;
  } else if (seen.registered) {
    baseline = seen.registered;
    baselineSource = 'registered';
  } else {
    // only Lambda can be prescaled unregistered: the provisioned concurrency it has now (none, or what
    // was configured outside Application Auto Scaling) is its baseline, registered as min = max = that
    const pcNow = seen.capacity ?? 0;
    baseline = { min: pcNow, max: pcNow };
    baselineSource = 'unregistered';
    if (ref.namespace !== 'lambda') {
      refusals.push(`${ref.label} is not registered with Application Auto Scaling (${ref.dimension}): register it with its normal min/max first, so retailctl knows what to restore`);
    } else if (pcNow > 0) {
      notes.push(`${ref.label} is not registered with Application Auto Scaling and has ${pcNow} provisioned concurrency: it is registered at ${pcNow}/${pcNow} first (keeping it), and the way down comes back to ${pcNow}/${pcNow}`);
    }
  }
  for (const o of [self, ...others]) {
    if (o.recordedBaseline && (o.recordedBaseline.min !== baseline.min || o.recordedBaseline.max !== baseline.max)) {
      warnings.push(`${ref.label}: ${o.self ? 'this campaign' : `campaign ${o.campaign}`}'s down action records ${o.recordedBaseline.min}/${o.recordedBaseline.max} as the baseline; ${baseline.min}/${baseline.max}, recorded by ${baselineCampaign} before it, is the one restored`);
    }
  }
  self.max = campaignMax(ref, seen.registered, baseline);
  for (const o of others) o.max = Math.max(o.max, o.min, o.source === 'config' ? baseline.max : 0);
  const own = { min: self.min, max: self.max };

  const group = groupOf([self, ...others], self);
  // whatever the windows say, no other campaign's drain or down may fire inside this one's window
  for (const o of others) {
    if (group.includes(o)) continue;
    const inside = [o.actions.drain, o.actions.down].some((a) => a?.utc && Date.parse(a.utc) >= selfStart && Date.parse(a.utc) <= endMs + MERGE_GAP_MS);
    if (inside) group.push(o);
  }
  for (const o of group) {
    if (!o.self && o.endFromActions) {
      warnings.push(`${ref.label}: campaign ${o.campaign}'s way down is scheduled in AWS at ${windowTime(o.end, tz).utc}, after its window in the config ends: the scheduled actions are what will happen, so they are planned with (rerun prescale for ${o.campaign} to apply its config)`);
    }
  }
  const need = needAt(group, mode === 'now' ? nowMs : readyMs) ?? { min: self.min, max: self.max, campaigns: [campaignName] };
  const planned = { min: need.min, max: need.max };
  const way = wayDownOf(group, baseline, Boolean(seen.hasPolicy), nowMs);
  // a run stopped after writing its down (its first write) and before its drain raised nothing: the capacity now is still the one before
  const untouched = baselineCampaign === campaignName && !ownActions.drain && (ownUpAt === undefined || ownUpAt > nowMs) && seen.registered?.min === baseline.min && seen.registered?.max === baseline.max;
  const capacityBefore = capacityBeforeOf(group, baseline, baselineCampaign, seen.capacity, untouched);
  const deletes: ActionDelete[] = [];
  if (mode === 'now' && seen.actions?.up && finished && !upFitsBefore(nowMs, way)) deletes.push({ name: seen.actions.up.name, campaign: campaignName, direction: 'up', self: true, previous: seen.actions.up, reason: 'left by a finished run of this campaign' });
  if (!way.drains && seen.actions?.drain) deletes.push({ name: seen.actions.drain.name, campaign: campaignName, direction: 'drain', self: true, previous: seen.actions.drain, reason: seen.hasPolicy ? 'a scaling policy brings capacity down: no drain needed' : 'no drain needed' });
  deletes.push(...otherDeletesOf(group, way));

  const plan: TargetPlan = {
    ref,
    baseline,
    baselineSource,
    planned,
    own,
    raisesMax: planned.max > (seen.registered?.max ?? baseline.max),
    down: actionAt(actionName(campaignName, ref, 'down'), way.downAt, tz, baseline.min, baseline.max, seen.actions?.down),
    shared: others.map((o) => sharedCampaign(o, group.includes(o), tz)),
    otherUpdates: otherUpdatesOf(group, baseline, way, nowMs, tz, capacityBefore),
    deletes,
    capacityBefore,
  };
  if (baselineCampaign) plan.baselineCampaign = baselineCampaign;
  if (seen.registered) plan.registered = seen.registered;
  if (way.drains) plan.drain = actionAt(actionName(campaignName, ref, 'drain'), way.drainAt, tz, baseline.min, capacityBefore, seen.actions?.drain);
  if (seen.current !== undefined) plan.current = seen.current;
  if (mode === 'now') {
    plan.register = planned;
    const up = raiseNowUp(actionName(campaignName, ref, 'up'), planned, ownActions.up, nowMs, Math.min(way.downAt, way.drains ? way.drainAt : Infinity), tz);
    if (up) plan.up = up;
  } else plan.up = actionAt(actionName(campaignName, ref, 'up'), readyMs, tz, planned.min, planned.max, seen.actions?.up);
  if (self.min < baseline.min) warnings.push(`${ref.label}: the campaign minimum ${self.min} is below the normal minimum ${baseline.min}; it is kept at ${self.min} during the window`);
  return { plan, group, others, refusals, warnings, notes };
}

/** When a raise-now run writes its up action: a minute from now (an at() in the past never fires). */
export const RAISE_NOW_UP_MS = SCHEDULE_MARGIN_MS;

/** A raise-now up action fits strictly before the way down (else it is not written). */
function upFitsBefore(nowMs: number, way: { drains: boolean; drainAt: number; downAt: number }): boolean {
  return nowMs + RAISE_NOW_UP_MS < (way.drains ? way.drainAt : way.downAt);
}

/**
 * The up action a raise-now run writes: the values it registers, recorded where other runs read a
 * campaign's needs (the registered values alone are overwritten by the next run). It fires once, a
 * minute from now, re-applying the same minimum and maximum (a no-op for this run). An existing one
 * with the same values is kept where it is (even when it fired already); one still to fire keeps its
 * time. None when it would not fire strictly before the way down.
 */
export function raiseNowUp(name: string, values: { min: number; max: number }, read: ActionState | undefined, nowMs: number, wayDownMs: number, tz: string): ScheduledActionPlan | undefined {
  const readAt = read?.utc ? Date.parse(read.utc) : undefined;
  if (read && readAt !== undefined && readAt < wayDownMs && read.min === values.min && read.max === values.max) return actionAt(name, readAt, tz, values.min, values.max, read);
  const at = readAt !== undefined && readAt > nowMs + SCHEDULE_MARGIN_MS / 2 && readAt < wayDownMs ? readAt : nowMs + RAISE_NOW_UP_MS;
  if (at >= wayDownMs) return undefined;
  return actionAt(name, at, tz, values.min, values.max, read);
}

/**
 * The other campaigns on a target that still have something to do. A campaign with no up action
 * counts as live now when its configured window has started, or when it raised at once: its whole
 * way down is written and the target is raised (see otherOccupant). `keepActionsFor`: campaigns whose
 * way down at this campaign's own is taken as theirs (not as put there by planning together).
 */
export function othersOn(ref: ScalableTargetRef, seen: TargetObservation, nowMs: number, campaigns: Record<string, Campaign> | undefined, keepActionsFor: ReadonlySet<string> = new Set()): Occupant[] {
  const ownWayDown = [seen.actions?.drain, seen.actions?.down].filter((a) => a?.utc).map((a) => Date.parse(a!.utc!));
  return (seen.others ?? [])
    .map((o) => otherOccupant(o, ref, nowMs, seen.registered, campaigns, Boolean(seen.hasPolicy), keepActionsFor.has(o.campaign) ? [] : ownWayDown))
    .filter((o): o is Occupant => o !== undefined);
}

/** A finished run's actions: at least one timed action, and every one fired already. */
export function finishedActions(actions: CampaignActions | undefined, nowMs: number): boolean {
  return [actions?.up, actions?.drain, actions?.down].some((a) => a?.utc !== undefined) && !stillToFire(actions, nowMs);
}

/** True when a campaign's actions still have something to do (one fires after now); false for a finished campaign's actions. */
export function stillToFire(actions: CampaignActions | undefined, nowMs: number): boolean {
  return [actions?.up, actions?.drain, actions?.down].some((a) => a?.utc !== undefined && Date.parse(a.utc) > nowMs);
}

/** When a group of campaigns comes down: once, after the last window; a drain first where no scaling policy brings capacity down. */
export function wayDownOf(group: readonly Occupant[], baseline: { min: number }, hasPolicy: boolean, nowMs: number): { drains: boolean; drainAt: number; downAt: number } {
  const lastEnd = Math.max(...group.map((o) => o.holds));
  const drains = !hasPolicy && (group.some((o) => o.min > baseline.min) || group.some((o) => !o.self && o.actions.drain !== undefined));
  const drainAt = Math.max(lastEnd, nowMs + SCHEDULE_MARGIN_MS);
  // a drain is always strictly before its down: AWS does not order actions at the same instant
  return { drains, drainAt, downAt: drains ? drainAt + DRAIN_MS : drainAt };
}

/**
 * The capacity the target had before the first campaign raised it, clamped to the baseline: what
 * the drain caps the maximum at, so that the target comes back where it was (not to its minimum).
 * Recorded in AWS as the drain's maximum (earlier versions wrote the baseline minimum there: the
 * same as a capacity at the minimum). Read from the drain of the campaign that recorded the
 * baseline; the capacity read now when nothing is recorded yet.
 */
export function capacityBeforeOf(occupants: readonly Occupant[], baseline: { min: number; max: number }, recordedBy: string | undefined, capacityNow: number | undefined, untouched = false): number {
  const clamp = (n: number) => Math.min(baseline.max, Math.max(baseline.min, n));
  if (recordedBy !== undefined) {
    const drain = occupants.find((o) => o.campaign === recordedBy)?.actions.drain;
    // no drain recorded yet and nothing raised since the down was written: the capacity now is the one before
    if (drain?.max === undefined && untouched && capacityNow !== undefined) return clamp(capacityNow);
    return clamp(drain?.max ?? baseline.min);
  }
  return clamp(capacityNow ?? baseline.min);
}

/** An action a plan removes: this campaign's that the plan no longer wants, or another campaign's drain the group no longer has. */
export interface ActionDelete {
  name: string;
  campaign: string;
  direction: 'up' | 'drain' | 'down';
  self: boolean;
  previous: ActionState;
  reason: string;
}

/**
 * Other campaigns' actions in a group, made consistent with it: a scale-up still to come carries
 * what the whole group needs at that time, and every way down moves to the group's (never inside
 * another campaign's window). Only the actions that change. Where the group has no drain (a scaling
 * policy brings capacity down), another campaign's drain is deleted (see otherDeletesOf), never put
 * at the same instant as the down.
 */
export function otherUpdatesOf(group: readonly Occupant[], baseline: { min: number; max: number }, way: { drains: boolean; drainAt: number; downAt: number }, nowMs: number, tz: string, capacityBefore = baseline.min): OtherActionUpdate[] {
  const out: OtherActionUpdate[] = [];
  for (const o of group.filter((g) => !g.self)) {
    const { up, drain, down } = o.actions;
    const upAt = up?.utc ? Date.parse(up.utc) : undefined;
    if (up && upAt !== undefined && upAt > nowMs) {
      const then = needAt(group, upAt)!;
      out.push({ ...actionAt(up.name, upAt, tz, then.min, then.max, up), campaign: o.campaign, direction: 'up', previous: up });
    }
    if (drain && way.drains) out.push({ ...actionAt(drain.name, way.drainAt, tz, baseline.min, capacityBefore, drain), campaign: o.campaign, direction: 'drain', previous: drain });
    if (down) out.push({ ...actionAt(down.name, way.downAt, tz, baseline.min, baseline.max, down), campaign: o.campaign, direction: 'down', previous: down });
  }
  return out.filter((u) => u.changed);
}

/** Other campaigns' drains in a group whose way down has none (a scaling policy): deleted, so no drain can fire with or after the down. */
export function otherDeletesOf(group: readonly Occupant[], way: { drains: boolean }): ActionDelete[] {
  if (way.drains) return [];
  return group
    .filter((o) => !o.self && o.actions.drain)
    .map((o) => ({ name: o.actions.drain!.name, campaign: o.campaign, direction: 'drain' as const, self: false, previous: o.actions.drain!, reason: 'a scaling policy brings capacity down: no drain needed' }));
}

function sharedCampaign(o: Occupant, together: boolean, tz: string): SharedCampaign {
  return { campaign: o.campaign, start: Number.isFinite(o.start) ? windowTime(o.start, tz) : null, end: windowTime(o.end, tz), min: o.min, max: o.max, source: o.source, together };
}
