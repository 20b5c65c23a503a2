import type { AwsClients } from '../aws/context.js';
import type { CdnGroup } from '../config/schema.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { normalizeName, recordNames, type DistributionState, type HealthState, type RecordState } from './model.js';

/** Route 53 counts an endpoint healthy when more than 18% of its checkers report it healthy. */
const HEALTHY_SHARE = 0.18;

/**
 * Read every record set at each of the group's record names (one ListResourceRecordSets per record,
 * starting at the name and type). Pages inside a weighted set are followed with
 * NextRecordIdentifier; a page pointer that repeats ends the listing (some emulators ignore it).
 */
export async function readRecords(aws: AwsClients, config: CdnGroup, signal?: AbortSignal): Promise<RecordState[]> {
  const route53 = await aws.client('route53');
  const { ListResourceRecordSetsCommand } = await import('@aws-sdk/client-route-53');
  type Start = { name: string; type: string; identifier?: string | undefined };
  return Promise.all(
    recordNames(config).map(async (name) => {
      const record: RecordState = { name, type: config.type, sets: [] };
      const seen = new Set<string>();
      let start: Start | undefined = { name, type: config.type };
      while (start) {
        const page: import('@aws-sdk/client-route-53').ListResourceRecordSetsCommandOutput = await route53.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: config.zoneId,
            StartRecordName: start.name,
            StartRecordType: start.type as never,
            StartRecordIdentifier: start.identifier,
            MaxItems: 300,
          }),
          { abortSignal: signal },
        );
        for (const set of page.ResourceRecordSets ?? []) {
          if (normalizeName(set.Name ?? '') === name && set.Type === config.type && !record.sets.some((s) => s.SetIdentifier === set.SetIdentifier)) {
            // an alias record has no TTL on AWS; some emulators report TTL 0, which AWS would refuse in a DELETE
            if (set.AliasTarget) delete set.TTL;
            record.sets.push(set);
          }
        }
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
    }),
  );
}

/** Read health checks: the checkers' verdict always; with `details`, also Inverted/Disabled/HealthCheckVersion. */
export async function readHealth(aws: AwsClients, ids: readonly string[], details: readonly string[], signal?: AbortSignal): Promise<Record<string, HealthState>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return {};
  const route53 = await aws.client('route53');
  const { GetHealthCheckStatusCommand, GetHealthCheckCommand } = await import('@aws-sdk/client-route-53');
  const entries = await Promise.all(
    unique.map(async (id): Promise<[string, HealthState]> => {
      const [status, check] = await Promise.all([
        route53.send(new GetHealthCheckStatusCommand({ HealthCheckId: id }), { abortSignal: signal }),
        details.includes(id) ? route53.send(new GetHealthCheckCommand({ HealthCheckId: id }), { abortSignal: signal }) : undefined,
      ]);
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
      if (check?.HealthCheck) {
        health.inverted = check.HealthCheck.HealthCheckConfig?.Inverted ?? false;
        health.disabled = check.HealthCheck.HealthCheckConfig?.Disabled ?? false;
        health.version = check.HealthCheck.HealthCheckVersion;
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
