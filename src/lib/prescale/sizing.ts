/**
 * Sizing from the last campaign (`sizing.fromSend`): the peak of a target's own CloudWatch metrics
 * in the window of an earlier send, times a growth factor. The queries are pure (from the config);
 * the read is GetMetricData through the run's read-only clients, in the gather step.
 */
import type { AwsClients } from '../aws/context.js';
import type { CampaignTarget, FromSendSizing } from '../config/capacity.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { instantsOfLocal, utcText } from '../util/time.js';
import { slug, type SizedValue } from './targets.js';

/** One metric to read for one target sized from the last campaign. */
export interface SizingQuery {
  /** The target's key (see ScalableTargetRef.key). */
  key: string;
  label: string;
  namespace: 'AWS/Lambda' | 'AWS/DynamoDB';
  metricName: 'ConcurrentExecutions' | 'ConsumedReadCapacityUnits' | 'ConsumedWriteCapacityUnits';
  /** Lambda: the maximum per minute; DynamoDB: the sum per minute, divided by 60 (units per second). */
  stat: 'Maximum' | 'Sum';
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
  const lambda = q.namespace === 'AWS/Lambda';
  const perSecond = lambda ? peak : Number((peak / q.period).toFixed(3));
  const sized = Math.ceil(Number((perSecond * q.growth).toFixed(6)));
  const value = lambda ? sized : Math.max(1, sized);
  const what = lambda ? `${perSecond} concurrent (max of ${q.metricName}, ${renderLookBack(q)})` : `${perSecond} units/s (sum of ${q.metricName} per ${q.period} s / ${q.period}, ${renderLookBack(q)})`;
  return { value, formula: `ceil(peak ${what} × ${q.growth}) = ${sized}${value !== sized ? ` (at least ${value})` : ''}` };
}

const describe = (q: SizingQuery) => `${q.namespace} ${q.metricName} (${q.dimensions.map((d) => `${d.Name}=${d.Value}`).join(', ')}) from ${q.startUtc} to ${q.endUtc}`;

/**
 * Read the peaks (GetMetricData, read-only) and size each target. No datapoints for a metric in its
 * window is a config problem (exit 2): the message names the metric, its dimensions and the window.
 */
export async function readSizing(aws: AwsClients, queries: readonly SizingQuery[], signal?: AbortSignal): Promise<Record<string, SizedValue>> {
  if (!queries.length) return {};
  const cloudwatch = await aws.client('cloudwatch');
  const { GetMetricDataCommand } = await import('@aws-sdk/client-cloudwatch');
  const peaks = await Promise.all(
    queries.map(async (q) => {
      const values: number[] = [];
      let token: string | undefined;
      do {
        const res = await cloudwatch.send(
          new GetMetricDataCommand({
            StartTime: new Date(q.startUtc),
            EndTime: new Date(q.endUtc),
            NextToken: token,
            MetricDataQueries: [{ Id: 'peak', ReturnData: true, MetricStat: { Metric: { Namespace: q.namespace, MetricName: q.metricName, Dimensions: q.dimensions }, Period: q.period, Stat: q.stat } }],
          }),
          { abortSignal: signal },
        );
        for (const r of res.MetricDataResults ?? []) values.push(...(r.Values ?? []));
        token = res.NextToken && res.NextToken !== token ? res.NextToken : undefined;
      } while (token);
      return { q, peak: values.length ? Math.max(...values) : undefined };
    }),
  );
  const missing = peaks.filter((p) => p.peak === undefined).map(({ q }) => `${q.label}: no datapoints for ${describe(q)} (UTC; the campaign sent ${q.send}): nothing to size it from`);
  if (missing.length) {
    throw new RetailctlError('PRESCALE_SIZING_NO_DATA', missing[0]!, {
      exitCode: ExitCode.Usage,
      details: missing.slice(1),
      hint: 'nothing was changed; check sizing.fromSend (and window), or give the value itself',
    });
  }
  return Object.fromEntries(peaks.map(({ q, peak }) => [q.key, sizeFromPeak(q, peak!)]));
}
