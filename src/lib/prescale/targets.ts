import type { CampaignTarget } from '../config/capacity.js';

/** Readiness of one target's capacity right now. */
export interface Readiness {
  ready: boolean;
  /** e.g. "READY 300/300", "running 12/40", "ACTIVE 2000 RCU". */
  detail: string;
  current: number;
}

/** One Application Auto Scaling scalable target a campaign raises. */
export interface ScalableTargetRef {
  /** Slug used in scheduled action names: `retailctl-<campaign>-<key>-up|down`. */
  key: string;
  /** For people: `lambda checkout-api:live`, `ecs storefront/web`, `dynamodb Carts (read)`. */
  label: string;
  namespace: 'lambda' | 'ecs' | 'dynamodb';
  resourceId: string;
  dimension: string;
  /** Minimum to hold during the window. */
  desired: number;
  /** ECS `max` from the config, if given. */
  max?: number;
  /**
   * How `desired` was computed, when the config gave `sizing`: Little's law, or the peak of the
   * target's own metrics in the last campaign's window (`fromSend`, read when planning).
   */
  sizing?: { peakRps: number; avgDurationMs: number; headroom: number; formula: string } | { fromSend: string; growth: number; window?: number; formula: string };
  /** Lambda `function:alias`. */
  lambda?: { functionName: string; qualifier: string };
}

/** Provisioned concurrency from Little's law: requests in flight = rate × time in system, plus headroom, rounded up. */
export function sizeConcurrency(peakRps: number, avgDurationMs: number, headroom: number): { value: number; formula: string } {
  const inFlight = (peakRps * avgDurationMs) / 1000;
  const value = Math.ceil(Number((inFlight * (1 + headroom)).toFixed(6)));
  return { value, formula: `ceil(${peakRps} req/s × ${avgDurationMs} ms / 1000 × (1 + ${headroom})) = ceil(${Number((inFlight * (1 + headroom)).toFixed(3))}) = ${value}` };
}

/** A value sized from the last campaign's metrics (read in the gather step), by target key. */
export interface SizedValue {
  value: number;
  formula: string;
}

/** The form a campaign or target name takes inside a scheduled action name. */
export const slug = (text: string) => text.replace(/[:/|\s]+/g, '-');

/**
 * Pure: the scalable targets of a campaign (a DynamoDB target is one per capacity dimension).
 * A target sized from the last campaign (`sizing.fromSend`) takes its value from `sized` (read in
 * the gather step); without it its desired value is 0 and its formula says it is read when planning.
 */
export function resolveTargets(campaign: { targets: readonly CampaignTarget[] }, sized: Readonly<Record<string, SizedValue>> = {}): ScalableTargetRef[] {
  return campaign.targets.flatMap((t: CampaignTarget): ScalableTargetRef[] => {
    if (t.kind === 'lambda') {
      const [functionName, qualifier] = t.lambda.split(':') as [string, string];
      const key = slug(t.lambda);
      const sizing = t.sizing;
      const result = sizing
        ? 'fromSend' in sizing
          ? (sized[key] ?? { value: 0, formula: `ceil(peak of ConcurrentExecutions in the campaign sent ${sizing.fromSend} × ${sizing.growth}), read when planning` })
          : sizeConcurrency(sizing.peakRps, sizing.avgDurationMs, sizing.headroom)
        : undefined;
      const ref: ScalableTargetRef = {
        key,
        label: `lambda ${t.lambda}`,
        namespace: 'lambda',
        resourceId: `function:${functionName}:${qualifier}`,
        dimension: 'lambda:function:ProvisionedConcurrency',
        desired: t.provisioned ?? result!.value,
        lambda: { functionName, qualifier },
      };
      if (sizing && result) ref.sizing = { ...sizing, formula: result.formula };
      return [ref];
    }
    if (t.kind === 'ecs') {
      const key = slug(t.ecs);
      const sizing = t.sizing;
      const result = sizing ? (sized[key] ?? { value: 0, formula: `ceil(peak of CPUUtilization × RunningTaskCount in the campaign sent ${sizing.fromSend} / ${sizing.targetCpu}% × ${sizing.growth}), read when planning` }) : undefined;
      const ref: ScalableTargetRef = { key, label: `ecs ${t.ecs}`, namespace: 'ecs', resourceId: `service/${t.ecs}`, dimension: 'ecs:service:DesiredCount', desired: t.min ?? result!.value };
      if (t.max !== undefined) ref.max = t.max;
      if (sizing && result) ref.sizing = { ...sizing, formula: result.formula };
      return [ref];
    }
    const isIndex = t.dynamodb.includes('/index/');
    const kind = isIndex ? 'index' : 'table';
    const out: ScalableTargetRef[] = [];
    const sizing = t.sizing;
    for (const [what, given] of [['read', t.read], ['write', t.write]] as const) {
      const key = `${slug(t.dynamodb)}-${what}`;
      const metric = what === 'read' ? 'ConsumedReadCapacityUnits' : 'ConsumedWriteCapacityUnits';
      const result = sizing ? (sized[key] ?? { value: 0, formula: `ceil(peak of ${metric} per second in the campaign sent ${sizing.fromSend} × ${sizing.growth}), read when planning` }) : undefined;
      const value = given ?? result?.value;
      if (value === undefined) continue;
      const ref: ScalableTargetRef = {
        key,
        label: `dynamodb ${t.dynamodb} (${what})`,
        namespace: 'dynamodb',
        resourceId: `table/${t.dynamodb}`,
        dimension: `dynamodb:${kind}:${what === 'read' ? 'ReadCapacityUnits' : 'WriteCapacityUnits'}`,
        desired: value,
      };
      if (sizing && result) ref.sizing = { ...sizing, formula: result.formula };
      out.push(ref);
    }
    return out;
  });
}

/** `retailctl-<campaign>-<key>-up|drain|down`: deterministic, so a rerun updates instead of duplicating. */
export function actionName(campaign: string, ref: Pick<ScalableTargetRef, 'key'>, direction: 'up' | 'drain' | 'down'): string {
  return `retailctl-${slug(campaign)}-${ref.key}-${direction}`;
}
