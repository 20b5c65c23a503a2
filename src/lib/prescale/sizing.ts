/**
 * Sizing from the last campaign (`sizing.fromSend`): the peak of a target's own CloudWatch metrics
 * in the window of an earlier send, times a growth factor. The queries are pure (from the config);
 * the read is GetMetricData through the run's read-only clients, in the gather step.
 */
import type { AwsClients, ClientFor } from '../aws/context.js';
import type { CampaignTarget, FromSendSizing } from '../config/capacity.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { instantsOfLocal, utcText } from '../util/time.js';
import { slug, type SizedValue } from './targets.js';

/** One metric to read for one target sized from the last campaign. */
export interface SizingQuery {
  /** The target's key (see ScalableTargetRef.key). */
  key: string;
  label: string;
  namespace: 'AWS/Lambda' | 'AWS/DynamoDB' | 'AWS/ECS';
  metricName: 'ConcurrentExecutions' | 'ConsumedReadCapacityUnits' | 'ConsumedWriteCapacityUnits' | 'CPUUtilization';
  /** Lambda: the maximum per minute; DynamoDB: the sum per minute, divided by 60 (units per second); ECS: the average per minute. */
  stat: 'Maximum' | 'Sum' | 'Average';
  /**
   * ECS: the second series multiplied minute by minute with the first (the running tasks), so the
   * peak is of the CPU the service used in tasks' worth (CPUUtilization × RunningTaskCount), and the
   * utilisation the sized minimum is to run at.
   */
  times?: { namespace: 'ECS/ContainerInsights'; metricName: 'RunningTaskCount'; stat: 'Average'; targetCpu: number };
  period: 60;
  dimensions: { Name: string; Value: string }[];
  /** The look-back: send − leadTime to send + window (UTC). */
  startUtc: string;
  endUtc: string;
  growth: number;
  /** The send as given, for messages: `2026-11-03T09:00:00 America/New_York`. */
  send: string;
}

type Look = Pick<SizingQuery, 'startUtc' | 'endUtc' | 'growth' | 'send'>;

/** The look-back of a `sizing.fromSend` in a campaign. */
function lookBack(label: string, sizing: FromSendSizing, campaign: { timezone: string; leadTime: number; duration: number }): Look {
  const send = instantsOfLocal(sizing.fromSend, campaign.timezone)[0];
  if (send === undefined) {
    throw new RetailctlError('CONFIG_INVALID', `${label}: sizing.fromSend ${sizing.fromSend} does not exist in ${campaign.timezone} (the clocks skip that hour that night)`, { exitCode: ExitCode.Usage });
  }
  return { startUtc: utcText(send - campaign.leadTime), endUtc: utcText(send + (sizing.window ?? campaign.duration)), growth: sizing.growth, send: `${sizing.fromSend} ${campaign.timezone}` };
}

/** Pure: the metric queries of a campaign's targets sized from the last campaign. */
export function sizingQueries(campaign: { targets: readonly CampaignTarget[]; timezone: string; leadTime: number; duration: number }): SizingQuery[] {
  const out: SizingQuery[] = [];
  for (const t of campaign.targets) {
    if (t.kind === 'lambda' && t.sizing && 'fromSend' in t.sizing) {
      const [functionName] = t.lambda.split(':') as [string, string];
      const dimensions = [
        { Name: 'FunctionName', Value: functionName },
        { Name: 'Resource', Value: t.lambda },
      ];
      out.push({ key: slug(t.lambda), label: `lambda ${t.lambda}`, namespace: 'AWS/Lambda', metricName: 'ConcurrentExecutions', stat: 'Maximum', period: 60, dimensions, ...lookBack(`lambda ${t.lambda}`, t.sizing, campaign) });
    }
    if (t.kind === 'ecs' && t.sizing) {
      const [cluster, service] = t.ecs.split('/') as [string, string];
      const dimensions = [
        { Name: 'ClusterName', Value: cluster },
        { Name: 'ServiceName', Value: service },
      ];
      const times = { namespace: 'ECS/ContainerInsights', metricName: 'RunningTaskCount', stat: 'Average', targetCpu: t.sizing.targetCpu } as const;
      out.push({ key: slug(t.ecs), label: `ecs ${t.ecs}`, namespace: 'AWS/ECS', metricName: 'CPUUtilization', stat: 'Average', period: 60, dimensions, times, ...lookBack(`ecs ${t.ecs}`, t.sizing, campaign) });
    }
    if (t.kind === 'dynamodb' && t.sizing) {
      const [table, , index] = t.dynamodb.split('/') as [string, string?, string?];
      const dimensions = [{ Name: 'TableName', Value: table }, ...(index ? [{ Name: 'GlobalSecondaryIndexName', Value: index }] : [])];
      const look = lookBack(`dynamodb ${t.dynamodb}`, t.sizing, campaign);
      for (const what of ['read', 'write'] as const) {
        const metricName = what === 'read' ? 'ConsumedReadCapacityUnits' : 'ConsumedWriteCapacityUnits';
        out.push({ key: `${slug(t.dynamodb)}-${what}`, label: `dynamodb ${t.dynamodb} (${what})`, namespace: 'AWS/DynamoDB', metricName, stat: 'Sum', period: 60, dimensions, ...look });
      }
    }
  }
  return out;
}

/** `2026-11-03 13:45Z–17:00Z` (the end's date is written when it differs). */
export function renderLookBack(q: Pick<SizingQuery, 'startUtc' | 'endUtc'>): string {
  const [startDay, startTime] = [q.startUtc.slice(0, 10), q.startUtc.slice(11, 16)];
  const [endDay, endTime] = [q.endUtc.slice(0, 10), q.endUtc.slice(11, 16)];
  return `${startDay} ${startTime}Z–${endDay === startDay ? '' : `${endDay} `}${endTime}Z`;
}

/**
 * Pure: the value sized from a peak (the largest datapoint: concurrent executions, or consumed units
 * per minute), and its arithmetic for the plan. Provisioned DynamoDB capacity is at least 1 unit.
 */
export function sizeFromPeak(q: SizingQuery, peak: number): SizedValue {
  if (q.times) {
    // peak: CPU % × running tasks in the busiest minute; the tasks that run it at targetCpu
    const used = Number(peak.toFixed(3));
    const sized = Math.ceil(Number(((used / q.times.targetCpu) * q.growth).toFixed(6)));
    const value = Math.max(1, sized);
    return { value, formula: `ceil(peak ${used} %·tasks (max per ${q.period} s of ${q.metricName} × ${q.times.metricName}, ${renderLookBack(q)}) / ${q.times.targetCpu}% × ${q.growth}) = ${sized}${value !== sized ? ` (at least ${value})` : ''}` };
  }
  const lambda = q.namespace === 'AWS/Lambda';
  const perSecond = lambda ? peak : Number((peak / q.period).toFixed(3));
  const sized = Math.ceil(Number((perSecond * q.growth).toFixed(6)));
  const value = lambda ? sized : Math.max(1, sized);
  const what = lambda ? `${perSecond} concurrent (max of ${q.metricName}, ${renderLookBack(q)})` : `${perSecond} units/s (sum of ${q.metricName} per ${q.period} s / ${q.period}, ${renderLookBack(q)})`;
  return { value, formula: `ceil(peak ${what} × ${q.growth}) = ${sized}${value !== sized ? ` (at least ${value})` : ''}` };
}

const dims = (q: SizingQuery) => q.dimensions.map((d) => `${d.Name}=${d.Value}`).join(', ');
const describe = (q: SizingQuery, which: 'first' | 'times' | 'both' = 'first') => {
  const metrics = which === 'times' ? `${q.times!.namespace} ${q.times!.metricName}` : which === 'both' ? `${q.namespace} ${q.metricName} and ${q.times!.namespace} ${q.times!.metricName} in the same minutes` : `${q.namespace} ${q.metricName}`;
  return `${metrics} (${dims(q)}) from ${q.startUtc} to ${q.endUtc}`;
};

type Series = Map<number, number>;

/** One GetMetricData read (every page) of a query's series: `peak`, and `times` for ECS. */
async function readSeries(cloudwatch: ClientFor<'cloudwatch'>, q: SizingQuery, signal: AbortSignal | undefined): Promise<{ peak: Series; times?: Series }> {
  const { GetMetricDataCommand } = await import('@aws-sdk/client-cloudwatch');
  const stat = (namespace: string, metricName: string, stat: string) => ({ Metric: { Namespace: namespace, MetricName: metricName, Dimensions: q.dimensions }, Period: q.period, Stat: stat });
  const queries = [{ Id: 'peak', ReturnData: true, MetricStat: stat(q.namespace, q.metricName, q.stat) }, ...(q.times ? [{ Id: 'times', ReturnData: true, MetricStat: stat(q.times.namespace, q.times.metricName, q.times.stat) }] : [])];
  const series: Record<string, Series> = { peak: new Map(), times: new Map() };
  let token: string | undefined;
  do {
    const res = await cloudwatch.send(
      new GetMetricDataCommand({ StartTime: new Date(q.startUtc), EndTime: new Date(q.endUtc), NextToken: token, MetricDataQueries: queries }),
      { abortSignal: signal },
    );
    for (const r of res.MetricDataResults ?? []) {
      const into = series[r.Id ?? 'peak']!;
      // by minute (CloudWatch always sends the timestamps; without them each value stands alone)
      (r.Values ?? []).forEach((v, i) => into.set(r.Timestamps?.[i] instanceof Date ? r.Timestamps[i]!.getTime() : -(into.size + 1), v));
    }
    token = res.NextToken && res.NextToken !== token ? res.NextToken : undefined;
  } while (token);
  return q.times ? { peak: series.peak!, times: series.times! } : { peak: series.peak! };
}

/** The peak of a query's series (ECS: of the minute-by-minute product), or why there is none. */
function peakOf(q: SizingQuery, s: { peak: Series; times?: Series }): { peak?: number; missing?: string } {
  if (!s.times) return s.peak.size ? { peak: Math.max(...s.peak.values()) } : { missing: describe(q) };
  if (!s.peak.size) return { missing: describe(q) };
  if (!s.times.size) return { missing: `${describe(q, 'times')} (it is a Container Insights metric: turn Container Insights on for the cluster, or give \`min\`)` };
  const products = [...s.peak].filter(([t]) => s.times!.has(t)).map(([t, cpu]) => cpu * s.times!.get(t)!);
  return products.length ? { peak: Math.max(...products) } : { missing: describe(q, 'both') };
}

/**
 * Read the peaks (GetMetricData, read-only) and size each target. No datapoints for a metric in its
 * window is a config problem (exit 2): the message names the metric, its dimensions and the window.
 */
export async function readSizing(aws: AwsClients, queries: readonly SizingQuery[], signal?: AbortSignal): Promise<Record<string, SizedValue>> {
  if (!queries.length) return {};
  const cloudwatch = await aws.client('cloudwatch');
  const peaks = await Promise.all(queries.map(async (q) => ({ q, ...peakOf(q, await readSeries(cloudwatch, q, signal)) })));
  const missing = peaks.filter((p) => p.peak === undefined).map(({ q, missing: what }) => `${q.label}: no datapoints for ${what} (UTC; the campaign sent ${q.send}): nothing to size it from`);
  if (missing.length) {
    throw new RetailctlError('PRESCALE_SIZING_NO_DATA', missing[0]!, {
      exitCode: ExitCode.Usage,
      details: missing.slice(1),
      hint: 'nothing was changed; check sizing.fromSend (and window), or give the value itself',
    });
  }
  return Object.fromEntries(peaks.map(({ q, peak }) => [q.key, sizeFromPeak(q, peak!)]));
}
