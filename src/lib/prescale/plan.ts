import type { Campaign } from '../config/schema.js';
import { actionName, resolveTargets, type ScalableTargetRef } from './targets.js';
import { campaignWindow, shiftLocal, type CampaignWindow } from './window.js';

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
  /** Capacity in place now (allocated provisioned concurrency, running tasks, provisioned units). */
  current?: number;
  /** A scaling policy is attached: it brings capacity back down once the minimum is lowered. */
  hasPolicy?: boolean;
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
  /** Region the cost estimate assumes. */
  region: string;
}

export interface ScheduledActionPlan {
  name: string;
  /** `at(yyyy-mm-ddThh:mm:ss)` in `timezone`. */
  schedule: string;
  timezone: string;
  utc: string;
  min: number;
  max: number;
}

export interface TargetPlan {
  ref: ScalableTargetRef;
  /** Registered min/max before retailctl changed anything (restored at the end). */
  baseline: { min: number; max: number };
  /** Where the baseline came from. */
  baselineSource: 'down-action' | 'registered' | 'unregistered';
  planned: { min: number; max: number };
  /** The plan raises the registered maximum to fit the new minimum. */
  raisesMax: boolean;
  current?: number;
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
}

/** Lambda provisioned concurrency price, per GB-second (published, us-east-1, Nov 2026). */
export const PC_PRICE_PER_GB_SECOND = { x86_64: 0.0000041667, arm64: 0.0000033334 } as const;
/** Time between the drain action (capacity forced down) and the down action (exact baseline restored). */
export const DRAIN_MS = 2 * 60_000;
/** Raising now more than this long before capacity is needed gets a warning (and the cost shows why). */
export const EARLY_WARNING_MS = 6 * 3_600_000;
/** AWS keeps at least this much unreserved concurrency in every account. */
export const MIN_UNRESERVED = 100;

export interface PrescalePlan {
  version: 1;
  campaign: string;
  mode: 'now' | 'schedule';
  window: CampaignWindow;
  targets: TargetPlan[];
  cost: { usd: number; seconds: number; region: string; assumption: string; lines: string[] };
  /** Preflight failures: nothing is written. */
  refusals: string[];
  warnings: string[];
}

const atExpression = (local: string) => `at(${local})`;

/** Pure: everything `prescale` would do, and why it would refuse. */
export function planPrescale(inputs: PrescaleInputs): PrescalePlan {
  const { campaign, campaignName, mode } = inputs;
  const window = campaignWindow(campaign);
  const refusals: string[] = [];
  const warnings: string[] = [];
  const nowMs = inputs.now.getTime();
  if (nowMs >= Date.parse(window.endsAt.utc)) {
    refusals.push(`campaign ${campaignName} ended at ${window.endsAt.local} ${window.timezone} (${window.endsAt.utc}): nothing to prescale`);
  } else if (mode === 'now' && Date.parse(window.readyBy.utc) - nowMs > EARLY_WARNING_MS) {
    warnings.push(`raising now holds the capacity (and pays for it) from now until ${window.endsAt.local} ${window.timezone}, ${Math.round((Date.parse(window.readyBy.utc) - nowMs) / 3_600_000)} h before it is needed: --schedule raises it at ${window.readyBy.local} instead`);
  } else if (mode === 'schedule' && nowMs >= Date.parse(window.readyBy.utc)) {
    warnings.push(`the scale-up time ${window.readyBy.local} ${window.timezone} has passed: run without --schedule to raise capacity now`);
  }

  const targets: TargetPlan[] = resolveTargets(campaign).map((ref) => {
    const seen = inputs.observations[`${ref.resourceId}|${ref.dimension}`] ?? {};
    let baseline: { min: number; max: number };
    let baselineSource: TargetPlan['baselineSource'];
    if (seen.downAction) {
      baseline = seen.downAction;
      baselineSource = 'down-action';
    } else if (seen.registered) {
      baseline = seen.registered;
      baselineSource = 'registered';
    } else {
      // only Lambda can be prescaled unregistered: no provisioned concurrency before, none after
      baseline = { min: 0, max: 0 };
      baselineSource = 'unregistered';
      if (ref.namespace !== 'lambda') {
        refusals.push(`${ref.label} is not registered with Application Auto Scaling (${ref.dimension}): register it with its normal min/max first, so retailctl knows what to restore`);
      }
    }
    const max = Math.max(ref.max ?? 0, ref.desired, seen.registered?.max ?? 0, baseline.max);
    const planned = { min: ref.desired, max };
    const drains = !seen.hasPolicy && planned.min > baseline.min;
    const restoreAt = drains ? shiftLocal(window, window.endsAt, DRAIN_MS) : window.endsAt;
    const plan: TargetPlan = {
      ref,
      baseline,
      baselineSource,
      planned,
      raisesMax: planned.max > (seen.registered?.max ?? baseline.max),
      down: { name: actionName(campaignName, ref, 'down'), schedule: atExpression(restoreAt.local), timezone: window.timezone, utc: restoreAt.utc, min: baseline.min, max: baseline.max },
    };
    if (drains) plan.drain = { name: actionName(campaignName, ref, 'drain'), schedule: atExpression(window.endsAt.local), timezone: window.timezone, utc: window.endsAt.utc, min: baseline.min, max: baseline.min };
    if (seen.current !== undefined) plan.current = seen.current;
    if (mode === 'now') plan.register = planned;
    else plan.up = { name: actionName(campaignName, ref, 'up'), schedule: atExpression(window.readyBy.local), timezone: window.timezone, utc: window.readyBy.utc, min: planned.min, max: planned.max };
    if (planned.min < baseline.min) warnings.push(`${ref.label}: the campaign minimum ${planned.min} is below the normal minimum ${baseline.min}; it is kept at ${planned.min} during the window`);
    return plan;
  });

  // Lambda preflight: aliases exist, and the account keeps AWS's minimum unreserved concurrency
  let extraPc = 0;
  for (const t of targets.filter((t) => t.ref.namespace === 'lambda')) {
    const fn = `${t.ref.lambda!.functionName}:${t.ref.lambda!.qualifier}`;
    const seen = inputs.lambdas[fn];
    if (!seen?.exists) refusals.push(`${t.ref.label}: function ${t.ref.lambda!.functionName} has no alias or version "${t.ref.lambda!.qualifier}" (provisioned concurrency needs an alias or a published version)`);
    else extraPc += Math.max(0, t.planned.min - seen.provisioned);
  }
  if (inputs.account && extraPc > 0) {
    const after = inputs.account.unreserved - extraPc;
    if (after < MIN_UNRESERVED) {
      refusals.push(
        `not enough Lambda concurrency: the plan adds ${extraPc} provisioned concurrency, leaving ${after} of the account's ${inputs.account.unreserved} unreserved (limit ${inputs.account.limit}); AWS keeps at least ${MIN_UNRESERVED} unreserved. Ask AWS for a higher concurrency limit or lower the campaign's targets by ${MIN_UNRESERVED - after}`,
      );
    }
  }

  // cost of the provisioned concurrency held through the window
  // now mode holds capacity from now; schedule mode from the scale-up time
  const start = mode === 'now' ? nowMs : Math.max(nowMs, Date.parse(window.readyBy.utc));
  const seconds = Math.max(0, Math.round((Date.parse(window.endsAt.utc) - start) / 1000));
  const lines: string[] = [];
  let usd = 0;
  for (const t of targets.filter((t) => t.ref.namespace === 'lambda')) {
    const seen = inputs.lambdas[`${t.ref.lambda!.functionName}:${t.ref.lambda!.qualifier}`];
    if (!seen?.exists) continue;
    const price = PC_PRICE_PER_GB_SECOND[seen.architecture];
    const cost = (seen.memoryMb / 1024) * t.planned.min * seconds * price;
    usd += cost;
    lines.push(`${t.ref.label}: ${seen.memoryMb} MB × ${t.planned.min} × ${seconds} s × $${price}/GB-s (${seen.architecture}) = $${cost.toFixed(2)}`);
  }
  return {
    version: 1,
    campaign: campaignName,
    mode,
    window,
    targets,
    cost: { usd: Number(usd.toFixed(2)), seconds, region: inputs.region, assumption: `Lambda provisioned concurrency list price in ${inputs.region === 'us-east-1' ? 'us-east-1' : `us-east-1 (your region ${inputs.region} may differ)`}; invocations are billed on top`, lines },
    refusals,
    warnings,
  };
}
