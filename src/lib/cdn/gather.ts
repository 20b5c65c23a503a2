import type { AwsClients } from '../aws/context.js';
import type { CdnGroup } from '../config/schema.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { normalizeName, recordNames, type DistributionState, type HealthState, type RecordState } from './model.js';

/** Route 53 counts an endpoint healthy when more than 18% of its checkers report it healthy. */
const HEALTHY_SHARE = 0.18;

type ListPage = import('@aws-sdk/client-route-53').ListResourceRecordSetsCommandOutput;
type Route53 = import('@aws-sdk/client-route-53').Route53Client;

/** Route 53 lists names with their labels reversed (`com.example.www`): the order to start a listing at. */
const reversedLabels = (name: string) => normalizeName(name).split('.').reverse().join('.');

function addSet(record: RecordState, set: import('@aws-sdk/client-route-53').ResourceRecordSet): void {
  if (record.sets.some((s) => s.SetIdentifier === set.SetIdentifier)) return;
  // an alias record has no TTL on AWS; some emulators report TTL 0, which AWS would refuse in a DELETE
  if (set.AliasTarget) delete set.TTL;
  record.sets.push(set);
}

/**
 * The records of a group read from ONE ListResourceRecordSets page that starts at the group's first
 * name in Route 53's order: the apex and `www` of one domain usually sort next to each other. A
 * record counts as read only if the page shows its whole run of sets (something after them on the
 * page, or the page is the zone's last); any other record is left to `readRecord`.
 */
async function readTogether(route53: Route53, config: CdnGroup, names: readonly string[], signal?: AbortSignal): Promise<Map<string, RecordState>> {
  const { ListResourceRecordSetsCommand } = await import('@aws-sdk/client-route-53');
  const first = [...names].sort((a, b) => (reversedLabels(a) < reversedLabels(b) ? -1 : reversedLabels(a) > reversedLabels(b) ? 1 : 0))[0]!;
  const page: ListPage = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: config.zoneId, StartRecordName: first, StartRecordType: config.type as never, MaxItems: 300 }), { abortSignal: signal });
  const sets = page.ResourceRecordSets ?? [];
  const done = new Map<string, RecordState>();
  for (const name of names) {
    const at = sets.flatMap((set, i) => (normalizeName(set.Name ?? '') === name && set.Type === config.type ? [i] : []));
    if (!at.length) continue;
    const whole = !page.IsTruncated || at[at.length - 1]! < sets.length - 1;
    if (!whole) continue;
    const record: RecordState = { name, type: config.type, sets: [] };
    for (const i of at) addSet(record, sets[i]!);
    done.set(name, record);
  }
  return done;
}

/**
 * Every record set at one record name: ListResourceRecordSets starting at the name and type. Pages
 * inside a weighted set are followed with NextRecordIdentifier; a page pointer that repeats ends the
 * listing (some emulators ignore it).
 */
async function readRecord(route53: Route53, config: CdnGroup, name: string, signal?: AbortSignal): Promise<RecordState> {
  const { ListResourceRecordSetsCommand } = await import('@aws-sdk/client-route-53');
  type Start = { name: string; type: string; identifier?: string | undefined };
  const record: RecordState = { name, type: config.type, sets: [] };
  const seen = new Set<string>();
  let start: Start | undefined = { name, type: config.type };
  while (start) {
    const page: ListPage = await route53.send(
      new ListResourceRecordSetsCommand({ HostedZoneId: config.zoneId, StartRecordName: start.name, StartRecordType: start.type as never, StartRecordIdentifier: start.identifier, MaxItems: 300 }),
      { abortSignal: signal },
    );
    for (const set of page.ResourceRecordSets ?? []) if (normalizeName(set.Name ?? '') === name && set.Type === config.type) addSet(record, set);
    const next: Start | undefined = page.IsTruncated && page.NextRecordName && normalizeName(page.NextRecordName) === name && page.NextRecordType === config.type
      ? { name, type: config.type, identifier: page.NextRecordIdentifier }
      : undefined;
    const key = JSON.stringify(next);
    start = next && !seen.has(key) ? next : undefined;
    seen.add(key);
  }
  if (record.sets.length === 0) {
    throw new RetailctlError('CDN_RECORD_NOT_FOUND', `no ${config.type} records named ${name} in hosted zone ${config.zoneId}`, {
      exitCode: ExitCode.Usage,
      hint: 'check cdn.<group>.zoneId, record and type in the config (`aws route53 list-resource-record-sets` shows what is there)',
    });
  }
  return record;
}

/**
 * Read every record set at each of the group's record names: one listing for the records that sort
 * together in the zone, then one per record not read whole by it.
 */
export async function readRecords(aws: AwsClients, config: CdnGroup, signal?: AbortSignal): Promise<RecordState[]> {
  const route53 = await aws.client('route53');
  const names = recordNames(config);
  const together = names.length > 1 ? await readTogether(route53, config, names, signal) : new Map<string, RecordState>();
  return Promise.all(names.map((name) => together.get(name) ?? readRecord(route53, config, name, signal)));
}

type HealthCheckDoc = import('@aws-sdk/client-route-53').HealthCheck;

/**
 * The health checks named in `ids` from ONE ListHealthChecks page (up to 1,000 checks: most
 * accounts' all) instead of one GetHealthCheck each. Ids not on that page, or a policy without
 * route53:ListHealthChecks (AccessDenied), leave the caller to GetHealthCheck them.
 */
async function listHealthChecks(route53: Route53, ids: readonly string[], signal?: AbortSignal): Promise<Map<string, HealthCheckDoc>> {
  const { ListHealthChecksCommand } = await import('@aws-sdk/client-route-53');
  const found = new Map<string, HealthCheckDoc>();
  try {
    const page = await route53.send(new ListHealthChecksCommand({ MaxItems: 1000 }), { abortSignal: signal });
    for (const check of page.HealthChecks ?? []) if (check.Id && ids.includes(check.Id)) found.set(check.Id, check);
  } catch (err) {
    if (signal?.aborted || !/AccessDenied/.test(`${(err as Error).name} ${(err as { Code?: string }).Code ?? ''}`)) throw err;
  }
  return found;
}

/**
 * Read health checks: the checkers' verdict always (GetHealthCheckStatus per check); with `details`,
 * also Inverted/Disabled/HealthCheckVersion (one ListHealthChecks for two or more, else GetHealthCheck).
 */
export async function readHealth(aws: AwsClients, ids: readonly string[], details: readonly string[], signal?: AbortSignal): Promise<Record<string, HealthState>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return {};
  const route53 = await aws.client('route53');
  const { GetHealthCheckStatusCommand, GetHealthCheckCommand } = await import('@aws-sdk/client-route-53');
  const detailed = unique.filter((id) => details.includes(id));
  const listed = detailed.length >= 2 ? listHealthChecks(route53, detailed, signal) : Promise.resolve(new Map<string, HealthCheckDoc>());
  const configOf = async (id: string): Promise<HealthCheckDoc | undefined> => {
    if (!details.includes(id)) return undefined;
    return (await listed).get(id) ?? (await route53.send(new GetHealthCheckCommand({ HealthCheckId: id }), { abortSignal: signal })).HealthCheck;
  };
  const entries = await Promise.all(
    unique.map(async (id): Promise<[string, HealthState]> => {
      const [status, check] = await Promise.all([route53.send(new GetHealthCheckStatusCommand({ HealthCheckId: id }), { abortSignal: signal }), configOf(id)]);
      const observations = status.HealthCheckObservations ?? [];
      const checkersHealthy = observations.filter((o) => o.StatusReport?.Status?.startsWith('Success')).length;
      const times = observations.map((o) => o.StatusReport?.CheckedTime).filter((t): t is Date => t instanceof Date).map((t) => t.toISOString()).sort();
      const health: HealthState = {
        healthCheckId: id,
        healthy: observations.length > 0 && checkersHealthy / observations.length > HEALTHY_SHARE,
        checkersHealthy,
        checkersTotal: observations.length,
      };
      if (times.length) health.lastChecked = times[times.length - 1];
      if (check) {
        health.inverted = check.HealthCheckConfig?.Inverted ?? false;
        health.disabled = check.HealthCheckConfig?.Disabled ?? false;
        health.version = check.HealthCheckVersion;
      }
      return [id, health];
    }),
  );
  return Object.fromEntries(entries);
}

/** A CloudFront distribution's Enabled flag and deployment status. */
export async function readDistribution(aws: AwsClients, id: string, signal?: AbortSignal): Promise<DistributionState> {
  const cloudfront = await aws.client('cloudfront');
  const { GetDistributionCommand } = await import('@aws-sdk/client-cloudfront');
  const res = await cloudfront.send(new GetDistributionCommand({ Id: id }), { abortSignal: signal });
  return {
    id,
    domainName: res.Distribution?.DomainName ?? '',
    enabled: res.Distribution?.DistributionConfig?.Enabled ?? false,
    status: res.Distribution?.Status ?? 'unknown',
  };
}

/** How far back `cdn status` looks for the last health change. */
export const HEALTH_HISTORY_MS = 24 * 3_600_000;

/**
 * When each health check's verdict last changed, from the 1-minute AWS/Route53 HealthCheckStatus
 * metric (1 healthy, 0 unhealthy; published in us-east-1 only). One GetMetricData call for all.
 * Returns id -> ISO time, or null when the verdict did not change in the window.
 */
export async function readHealthChanges(aws: AwsClients, ids: readonly string[], now: Date, signal?: AbortSignal): Promise<Record<string, string | null>> {
  if (ids.length === 0) return {};
  const cloudwatch = await aws.client('cloudwatch', { region: 'us-east-1' });
  const { GetMetricDataCommand } = await import('@aws-sdk/client-cloudwatch');
  const series = new Map<string, { t: number; v: number }[]>();
  let nextToken: string | undefined;
  do {
    const res = await cloudwatch.send(
      new GetMetricDataCommand({
        // minute-aligned, as CloudWatch recommends for a 60 s period
        StartTime: new Date(Math.floor((now.getTime() - HEALTH_HISTORY_MS) / 60_000) * 60_000),
        EndTime: new Date(Math.ceil(now.getTime() / 60_000) * 60_000),
        ScanBy: 'TimestampDescending',
        NextToken: nextToken,
        MetricDataQueries: ids.map((id, i) => ({
          Id: `hc${i}`,
          MetricStat: { Metric: { Namespace: 'AWS/Route53', MetricName: 'HealthCheckStatus', Dimensions: [{ Name: 'HealthCheckId', Value: id }] }, Period: 60, Stat: 'Minimum' },
        })),
      }),
      { abortSignal: signal },
    );
    for (const result of res.MetricDataResults ?? []) {
      const id = ids[Number(result.Id?.slice(2))]!;
      const points = series.get(id) ?? [];
      (result.Timestamps ?? []).forEach((t, i) => points.push({ t: t.getTime(), v: result.Values?.[i] ?? 0 }));
      series.set(id, points);
    }
    nextToken = res.NextToken;
  } while (nextToken);
  return Object.fromEntries(ids.map((id) => [id, lastChange(series.get(id) ?? [])]));
}

/** Pure: the time of the newest point whose verdict differs from the one before it. */
export function lastChange(points: readonly { t: number; v: number }[]): string | null {
  const sorted = [...points].sort((a, b) => b.t - a.t);
  const healthy = (v: number) => v >= 1;
  for (let i = 0; i + 1 < sorted.length; i++) {
    if (healthy(sorted[i]!.v) !== healthy(sorted[i + 1]!.v)) return new Date(sorted[i]!.t).toISOString();
  }
  return null;
}
