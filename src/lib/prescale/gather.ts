import type { ScheduledAction } from '@aws-sdk/client-application-auto-scaling';
import type { AwsClients } from '../aws/context.js';
import { isAwsError } from '../errors.js';
import { atInstant, utcText } from '../util/time.js';
import type { LambdaElsewhere, LambdaObservation, LambdaScheduled, TargetObservation } from './plan.js';

export type { LambdaElsewhere, LambdaScheduled } from './plan.js';
import type { ActionState, CampaignActions, OtherCampaignActions } from './shared.js';
import { slug, type Readiness, type ScalableTargetRef } from './targets.js';

export type { Readiness };

/** A scheduled action as read back from Application Auto Scaling. */
export type ScheduledActionState = ActionState;

/** A Lambda alias's provisioned concurrency config as read (GetProvisionedConcurrencyConfig). */
export interface ProvisionedConcurrency {
  requested: number;
  allocated: number;
  status: string;
  reason?: string;
}

/** The alias's provisioned concurrency, or undefined when none is configured. */
async function readProvisionedConcurrency(aws: AwsClients, ref: ScalableTargetRef, signal?: AbortSignal): Promise<ProvisionedConcurrency | undefined> {
  const lambda = await aws.client('lambda');
  const { GetProvisionedConcurrencyConfigCommand } = await import('@aws-sdk/client-lambda');
  try {
    const pc = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: ref.lambda!.functionName, Qualifier: ref.lambda!.qualifier }), { abortSignal: signal });
    const out: ProvisionedConcurrency = { requested: pc.RequestedProvisionedConcurrentExecutions ?? 0, allocated: pc.AllocatedProvisionedConcurrentExecutions ?? 0, status: pc.Status ?? 'unknown' };
    if (pc.StatusReason) out.reason = pc.StatusReason;
    return out;
  } catch (err) {
    if (!isAwsError(err, 'ProvisionedConcurrencyConfigNotFoundException')) throw err;
    return undefined;
  }
}

/** Pure: whether provisioned concurrency as read has reached `wanted`. */
export function lambdaReadiness(pc: ProvisionedConcurrency | undefined, wanted: number): Readiness {
  if (!pc) return { ready: wanted === 0, current: 0, detail: `no provisioned concurrency 0/${wanted}` };
  return { ready: pc.status === 'READY' && pc.allocated >= wanted, current: pc.allocated, detail: `${pc.status} ${pc.allocated}/${wanted}${pc.status === 'FAILED' && pc.reason ? `: ${pc.reason}` : ''}` };
}


export interface PrescaleState {
  observations: Record<string, TargetObservation>;
  lambdas: Record<string, LambdaObservation>;
  account?: { limit: number; unreserved: number };
  /** Provisioned concurrency as read, by target key (Lambda targets with a config only). */
  pc: Record<string, ProvisionedConcurrency>;
  /** Scheduled actions of this campaign, by target key. */
  actions: Record<string, CampaignActions>;
  /** Provisioned concurrency on the account's other Lambda aliases and versions (not this campaign's targets), requested now. */
  lambdaElsewhere?: LambdaElsewhere[];
  /** Other retailctl campaigns' scheduled actions on Lambda targets that are not this campaign's. */
  lambdaScheduled?: LambdaScheduled[];
}

const DIRECTIONS = ['up', 'drain', 'down'] as const;
const keyOf = (ref: Pick<ScalableTargetRef, 'resourceId' | 'dimension'>) => `${ref.resourceId}|${ref.dimension}`;

/** A scheduled action as retailctl reads it: its instant from the schedule in its own Timezone (UTC, or a local zone written by older versions). */
function actionState(a: ScheduledAction): ActionState {
  const state: ActionState = { name: a.ScheduledActionName!, schedule: a.Schedule ?? '' };
  if (a.Timezone) state.timezone = a.Timezone;
  const at = atInstant(state.schedule, a.Timezone);
  if (at !== undefined) state.utc = utcText(at);
  if (a.ScalableTargetAction?.MinCapacity !== undefined) state.min = a.ScalableTargetAction.MinCapacity;
  if (a.ScalableTargetAction?.MaxCapacity !== undefined) state.max = a.ScalableTargetAction.MaxCapacity;
  return state;
}

/**
 * The retailctl campaigns' actions on one target, by the names retailctl gives them
 * (`retailctl-<campaign>-<key>-up|drain|down`): this campaign's, and every other campaign's.
 */
export function campaignActionsOn(scheduled: readonly ScheduledAction[], ref: ScalableTargetRef, campaignName: string): { own: CampaignActions; others: OtherCampaignActions[] } {
  const own: CampaignActions = {};
  const others = new Map<string, OtherCampaignActions>();
  for (const a of scheduled) {
    if (a.ResourceId !== ref.resourceId || a.ScalableDimension !== ref.dimension || !a.ScheduledActionName?.startsWith('retailctl-')) continue;
    const direction = DIRECTIONS.find((d) => a.ScheduledActionName!.endsWith(`-${ref.key}-${d}`));
    if (!direction) continue;
    const campaign = a.ScheduledActionName.slice('retailctl-'.length, -`-${ref.key}-${direction}`.length);
    if (!campaign) continue;
    if (campaign === slug(campaignName)) own[direction] = actionState(a);
    else {
      const entry = others.get(campaign) ?? { campaign };
      entry[direction] = actionState(a);
      others.set(campaign, entry);
    }
  }
  return { own, others: [...others.values()].sort((a, b) => a.campaign.localeCompare(b.campaign)) };
}

/** Retailctl actions on Lambda aliases that are not among `refs` (another campaign's provisioned concurrency, counted by the preflight). */
function lambdaActionsElsewhere(scheduled: readonly ScheduledAction[], refs: readonly ScalableTargetRef[], campaignName: string): LambdaScheduled[] {
  const out = new Map<string, LambdaScheduled>();
  for (const a of scheduled) {
    if (!a.ResourceId?.startsWith('function:') || refs.some((r) => r.resourceId === a.ResourceId)) continue;
    const target = a.ResourceId.slice('function:'.length);
    const ref = { key: slug(target), resourceId: a.ResourceId, dimension: a.ScalableDimension ?? 'lambda:function:ProvisionedConcurrency' } as ScalableTargetRef;
    const { own, others } = campaignActionsOn([a], ref, campaignName);
    for (const o of [{ campaign: slug(campaignName), ...own }, ...others]) {
      const direction = (['up', 'drain', 'down'] as const).find((d) => o[d]);
      if (!direction) continue;
      const entry = out.get(`${target}|${o.campaign}`) ?? { target, campaign: o.campaign };
      entry[direction] = o[direction];
      out.set(`${target}|${o.campaign}`, entry);
    }
  }
  return [...out.values()];
}

/**
 * Read the scalable targets' side, read-only: registered targets, then every scheduled action on
 * them (so a target seen raised by another run is seen with that run's way down, which it writes
 * first), and scaling policies; one listing per namespace for each.
 */
export async function readScalableTargets(aws: AwsClients, campaignName: string, refs: readonly ScalableTargetRef[], signal?: AbortSignal): Promise<Pick<PrescaleState, 'observations' | 'actions' | 'lambdaScheduled'>> {
  const aas = await aws.client('autoscaling');
  const { DescribeScalableTargetsCommand, DescribeScheduledActionsCommand, DescribeScalingPoliciesCommand } = await import('@aws-sdk/client-application-auto-scaling');
  const namespaces = [...new Set(refs.map((r) => r.namespace))];
  const observations: Record<string, TargetObservation> = {};
  const actions: PrescaleState['actions'] = {};
  const lambdaScheduled: LambdaScheduled[] = [];

  await Promise.all(
    namespaces.map(async (namespace) => {
      const mine = refs.filter((r) => r.namespace === namespace);
      const resourceIds = [...new Set(mine.map((r) => r.resourceId))];
      const [[targets, scheduled], policies] = await Promise.all([
        (async () => {
          const t = await paginate((NextToken) => aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: namespace, ResourceIds: resourceIds, NextToken }), { abortSignal: signal }), (p) => p.ScalableTargets ?? []);
          // every campaign's actions, not only this one's: another campaign may share a target.
          // The API filters by one ResourceId at most: list the namespace (a page per 50 actions)
          const a = await paginate((NextToken) => aas.send(new DescribeScheduledActionsCommand({ ServiceNamespace: namespace, NextToken }), { abortSignal: signal }), (p) => p.ScheduledActions ?? []);
          return [t, a] as const;
        })(),
        // the API filters policies by one ResourceId at most: list the namespace instead (a page per 50 policies, not a call per target)
        paginate((NextToken) => aas.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: namespace, NextToken }), { abortSignal: signal }), (p) => p.ScalingPolicies ?? []),
      ]);
      for (const ref of mine) {
        const obs: TargetObservation = {};
        const t = targets.find((x) => x.ResourceId === ref.resourceId && x.ScalableDimension === ref.dimension);
        if (t) obs.registered = { min: t.MinCapacity ?? 0, max: t.MaxCapacity ?? 0 };
        obs.hasPolicy = policies.some((p) => p.ResourceId === ref.resourceId && p.ScalableDimension === ref.dimension);
        const { own, others } = campaignActionsOn(scheduled, ref, campaignName);
        actions[ref.key] = own;
        obs.actions = own;
        obs.others = others;
        if (own.down?.min !== undefined && own.down.max !== undefined) obs.downAction = { min: own.down.min, max: own.down.max };
        observations[keyOf(ref)] = obs;
      }
      if (namespace === 'lambda') lambdaScheduled.push(...lambdaActionsElsewhere(scheduled, mine, campaignName));
    }),
  );
  return { observations, actions, lambdaScheduled };
}

/**
 * Read what planning needs, all read-only: the scalable targets' side (readScalableTargets), each
 * Lambda alias and its provisioned concurrency, the account's concurrency, and current capacity.
 */
export async function gatherPrescale(aws: AwsClients, campaignName: string, refs: readonly ScalableTargetRef[], signal?: AbortSignal): Promise<PrescaleState> {
  const { observations, actions, lambdaScheduled } = await readScalableTargets(aws, campaignName, refs, signal);
  let lambdaElsewhere: LambdaElsewhere[] | undefined;
  // capacity before anything changes (ECS desired count, DynamoDB units): where the target comes back to
  await Promise.all(
    refs.filter((r) => !r.lambda).map(async (ref) => {
      const capacity = await readConfiguredCapacity(aws, ref, signal);
      if (capacity !== undefined) observations[keyOf(ref)]!.capacity = capacity;
    }),
  );

  const lambdaRefs = refs.filter((r) => r.lambda);
  const lambdas: Record<string, LambdaObservation> = {};
  const pc: Record<string, ProvisionedConcurrency> = {};
  let account: PrescaleState['account'];
  if (lambdaRefs.length) {
    const lambda = await aws.client('lambda');
    const { GetFunctionConfigurationCommand, GetAccountSettingsCommand } = await import('@aws-sdk/client-lambda');
    await Promise.all([
      ...lambdaRefs.map(async (ref) => {
        const { functionName, qualifier } = ref.lambda!;
        const name = `${functionName}:${qualifier}`;
        try {
          const fn = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: qualifier }), { abortSignal: signal });
          const config = await readProvisionedConcurrency(aws, ref, signal);
          if (config) pc[ref.key] = config;
          const provisioned = config?.requested ?? 0;
          observations[keyOf(ref)]!.current = config?.allocated ?? 0;
          observations[keyOf(ref)]!.capacity = provisioned;
          lambdas[name] = { exists: true, memoryMb: fn.MemorySize ?? 128, architecture: fn.Architectures?.[0] === 'arm64' ? 'arm64' : 'x86_64', provisioned };
        } catch (err) {
          if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
          lambdas[name] = { exists: false, memoryMb: 0, architecture: 'x86_64', provisioned: 0 };
        }
      }),
      (async () => {
        const settings = await lambda.send(new GetAccountSettingsCommand({}), { abortSignal: signal });
        account = { limit: settings.AccountLimit?.ConcurrentExecutions ?? 1000, unreserved: settings.AccountLimit?.UnreservedConcurrentExecutions ?? 1000 };
      })(),
      (async () => {
        lambdaElsewhere = await readProvisionedElsewhere(aws, lambdaRefs, signal);
      })(),
    ]);
  }
  const state: PrescaleState = { observations, lambdas, pc, actions };
  if (lambdaElsewhere) state.lambdaElsewhere = lambdaElsewhere;
  if (lambdaScheduled?.length) state.lambdaScheduled = lambdaScheduled;
  if (account) state.account = account;
  return state;
}

/**
 * Provisioned concurrency configured on every other alias or version in the account (ListFunctions,
 * then ListProvisionedConcurrencyConfigs per function): it counts against the same account limit.
 */
async function readProvisionedElsewhere(aws: AwsClients, refs: readonly ScalableTargetRef[], signal?: AbortSignal): Promise<LambdaElsewhere[]> {
  const lambda = await aws.client('lambda');
  const { ListFunctionsCommand, ListProvisionedConcurrencyConfigsCommand } = await import('@aws-sdk/client-lambda');
  const functions = await paginateMarker((Marker) => lambda.send(new ListFunctionsCommand({ Marker }), { abortSignal: signal }), (p) => p.Functions ?? []);
  const out: LambdaElsewhere[] = [];
  const { default: pLimit } = await import('p-limit');
  const limit = pLimit(5);
  await Promise.all(
    functions.map((fn) =>
      limit(async () => {
        const configs = await paginateMarker((Marker) => lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: fn.FunctionName!, Marker }), { abortSignal: signal }), (p) => p.ProvisionedConcurrencyConfigs ?? []);
        for (const c of configs) {
          const qualifier = c.FunctionArn?.split(':').pop() ?? '';
          const target = `${fn.FunctionName}:${qualifier}`;
          if (refs.some((r) => `${r.lambda!.functionName}:${r.lambda!.qualifier}` === target)) continue;
          out.push({ target, requested: c.RequestedProvisionedConcurrentExecutions ?? 0 });
        }
      }),
    ),
  );
  return out.sort((a, b) => a.target.localeCompare(b.target));
}

async function paginateMarker<P extends { NextMarker?: string }, T>(call: (marker: string | undefined) => Promise<P>, items: (page: P) => T[]): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  do {
    const page = await call(marker);
    out.push(...items(page));
    marker = page.NextMarker && page.NextMarker !== marker ? page.NextMarker : undefined;
  } while (marker);
  return out;
}

/** The capacity configured now (not what is running): ECS desired count, DynamoDB provisioned units. */
async function readConfiguredCapacity(aws: AwsClients, ref: ScalableTargetRef, signal?: AbortSignal): Promise<number | undefined> {
  if (ref.namespace === 'ecs') {
    const ecs = await aws.client('ecs');
    const { DescribeServicesCommand } = await import('@aws-sdk/client-ecs');
    const [cluster, service] = ref.resourceId.replace(/^service\//, '').split('/') as [string, string];
    const res = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }), { abortSignal: signal });
    return res.services?.[0]?.desiredCount;
  }
  if (ref.namespace === 'dynamodb') return (await readReadiness(aws, ref, 0, signal)).current;
  return undefined;
}

/** Capacity in place now for one target, and whether it has reached `wanted`. */
export async function readReadiness(aws: AwsClients, ref: ScalableTargetRef, wanted: number, signal?: AbortSignal): Promise<Readiness> {
  if (ref.namespace === 'lambda') return lambdaReadiness(await readProvisionedConcurrency(aws, ref, signal), wanted);
  if (ref.namespace === 'ecs') {
    const ecs = await aws.client('ecs');
    const { DescribeServicesCommand } = await import('@aws-sdk/client-ecs');
    const [cluster, service] = ref.resourceId.replace(/^service\//, '').split('/') as [string, string];
    const res = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }), { abortSignal: signal });
    const running = res.services?.[0]?.runningCount ?? 0;
    return { ready: running >= wanted, current: running, detail: `running ${running}/${wanted}` };
  }
  const dynamodb = await aws.client('dynamodb');
  const { DescribeTableCommand } = await import('@aws-sdk/client-dynamodb');
  const [table, , index] = ref.resourceId.replace(/^table\//, '').split('/') as [string, string?, string?];
  const res = await dynamodb.send(new DescribeTableCommand({ TableName: table }), { abortSignal: signal });
  const read = ref.dimension.endsWith('ReadCapacityUnits');
  const source = index ? res.Table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === index) : res.Table;
  const throughput = source?.ProvisionedThroughput;
  const units = (read ? throughput?.ReadCapacityUnits : throughput?.WriteCapacityUnits) ?? 0;
  const status = (index ? (source as { IndexStatus?: string } | undefined)?.IndexStatus : res.Table?.TableStatus) ?? 'unknown';
  return { ready: status === 'ACTIVE' && units >= wanted, current: units, detail: `${status} ${units}/${wanted} ${read ? 'RCU' : 'WCU'}` };
}

async function paginate<P extends { NextToken?: string }, T>(call: (token: string | undefined) => Promise<P>, items: (page: P) => T[]): Promise<T[]> {
  const out: T[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await call(token);
    out.push(...items(page));
    token = page.NextToken && !seen.has(page.NextToken) ? page.NextToken : undefined;
    if (token) seen.add(token);
  } while (token);
  return out;
}
