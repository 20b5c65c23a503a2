import type { Campaign, CampaignTarget } from '../config/schema.js';

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
  /** How `desired` was computed, when the config gave `sizing`. */
  sizing?: { peakRps: number; avgDurationMs: number; headroom: number; formula: string };
  /** Lambda `function:alias`. */
  lambda?: { functionName: string; qualifier: string };
}

/** Provisioned concurrency from Little's law: requests in flight = rate × time in system, plus headroom, rounded up. */
export function sizeConcurrency(peakRps: number, avgDurationMs: number, headroom: number): { value: number; formula: string } {
  const inFlight = (peakRps * avgDurationMs) / 1000;
  const value = Math.ceil(Number((inFlight * (1 + headroom)).toFixed(6)));
  return { value, formula: `ceil(${peakRps} req/s × ${avgDurationMs} ms / 1000 × (1 + ${headroom})) = ceil(${Number((inFlight * (1 + headroom)).toFixed(3))}) = ${value}` };
}

/** The form a campaign or target name takes inside a scheduled action name. */
export const slug = (text: string) => text.replace(/[:/|\s]+/g, '-');

/** Pure: the scalable targets of a campaign (a DynamoDB target is one per capacity dimension). */
export function resolveTargets(campaign: Pick<Campaign, 'targets'>): ScalableTargetRef[] {
  return campaign.targets.flatMap((t: CampaignTarget): ScalableTargetRef[] => {
    if (t.kind === 'lambda') {
      const [functionName, qualifier] = t.lambda.split(':') as [string, string];
      const sized = t.sizing ? sizeConcurrency(t.sizing.peakRps, t.sizing.avgDurationMs, t.sizing.headroom) : undefined;
      const ref: ScalableTargetRef = {
        key: slug(t.lambda),
        label: `lambda ${t.lambda}`,
        namespace: 'lambda',
        resourceId: `function:${functionName}:${qualifier}`,
        dimension: 'lambda:function:ProvisionedConcurrency',
        desired: t.provisioned ?? sized!.value,
        lambda: { functionName, qualifier },
      };
      if (t.sizing && sized) ref.sizing = { ...t.sizing, formula: sized.formula };
      return [ref];
    }
    if (t.kind === 'ecs') {
      const ref: ScalableTargetRef = { key: slug(t.ecs), label: `ecs ${t.ecs}`, namespace: 'ecs', resourceId: `service/${t.ecs}`, dimension: 'ecs:service:DesiredCount', desired: t.min };
      if (t.max !== undefined) ref.max = t.max;
      return [ref];
    }
    const isIndex = t.dynamodb.includes('/index/');
    const kind = isIndex ? 'index' : 'table';
    const out: ScalableTargetRef[] = [];
    for (const [what, value] of [['read', t.read], ['write', t.write]] as const) {
      if (value === undefined) continue;
      out.push({
        key: `${slug(t.dynamodb)}-${what}`,
        label: `dynamodb ${t.dynamodb} (${what})`,
        namespace: 'dynamodb',
        resourceId: `table/${t.dynamodb}`,
        dimension: `dynamodb:${kind}:${what === 'read' ? 'ReadCapacityUnits' : 'WriteCapacityUnits'}`,
        desired: value,
      });
    }
    return out;
  });
}

/** `retailctl-<campaign>-<key>-up|drain|down`: deterministic, so a rerun updates instead of duplicating. */
export function actionName(campaign: string, ref: Pick<ScalableTargetRef, 'key'>, direction: 'up' | 'drain' | 'down'): string {
  return `retailctl-${slug(campaign)}-${ref.key}-${direction}`;
}
