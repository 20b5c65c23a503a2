import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { CdnEndpoint, CdnGroup } from '../config/schema.js';

/** The two CDNs of a group, as the config names them. */
export type Side = 'primary' | 'secondary';
export const SIDES: readonly Side[] = ['primary', 'secondary'];

/** A Route 53 health check as read: what its checkers see, and how Route 53 is told to use it. */
export interface HealthState {
  healthCheckId: string;
  /** Raw verdict of Route 53's checkers (more than 18% report success), before any inversion. */
  healthy: boolean;
  checkersHealthy: number;
  checkersTotal: number;
  /** Newest observation time reported by any checker. */
  lastChecked?: string;
  /**
   * When the verdict last flipped, from the AWS/Route53 HealthCheckStatus metric (last 24 h):
   * an ISO time; null = no change in 24 h; undefined = not read or not available.
   */
  lastChanged?: string | null;
  /** Read with GetHealthCheck; undefined when only the status was read. */
  inverted?: boolean;
  disabled?: boolean;
  /** HealthCheckVersion, for compare-and-set updates. */
  version?: number;
}

export interface DistributionState {
  id: string;
  domainName: string;
  enabled: boolean;
  /** `Deployed` or `InProgress`. */
  status: string;
}

/** Every record set found at one record name and type. */
export interface RecordState {
  name: string;
  type: string;
  sets: ResourceRecordSet[];
}

/** What was read about a group, plain data: the input of every planner. */
export interface GroupState {
  group: string;
  config: CdnGroup;
  records: RecordState[];
  /** Health checks read, by id. */
  health: Record<string, HealthState>;
  /** CloudFront distributions read, by side. */
  distributions: Partial<Record<Side, DistributionState>>;
  /** When the state was read (ISO time). */
  readAt: string;
}

/** The SetIdentifier of `side` for `recordName` (a config string applies to every record). */
export function setIdentifierFor(endpoint: CdnEndpoint, recordName: string): string | undefined {
  if (typeof endpoint.setIdentifier === 'string') return endpoint.setIdentifier;
  const name = normalizeName(recordName);
  return Object.entries(endpoint.setIdentifier).find(([key]) => normalizeName(key) === name)?.[1];
}

/** Lower case, no trailing dot: how record names are compared. */
export function normalizeName(name: string): string {
  // Route 53 lists characters outside a-z0-9-_ as octal escapes: `*.shop.example.com` is `\052.shop.example.com.`
  return name.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))).toLowerCase().replace(/\.$/, '');
}

/** Record names of a group, normalised. */
export function recordNames(config: CdnGroup): string[] {
  return (Array.isArray(config.record) ? config.record : [config.record]).map(normalizeName);
}

/** The record set of `side` at a record, or undefined if it is not there. */
export function sideSet(state: GroupState, record: RecordState, side: Side): ResourceRecordSet | undefined {
  const id = setIdentifierFor(state.config[side], record.name);
  return record.sets.find((s) => s.SetIdentifier === id);
}

/** The health check that speaks for a side: the configured one, else the one on its record sets. */
export function healthCheckIdFor(state: Pick<GroupState, 'config' | 'records'>, side: Side): string | undefined {
  const configured = state.config[side].healthCheckId;
  if (configured) return configured;
  for (const record of state.records) {
    const id = setIdentifierFor(state.config[side], record.name);
    const set = record.sets.find((s) => s.SetIdentifier === id);
    if (set?.HealthCheckId) return set.HealthCheckId;
  }
  return undefined;
}

/** Where a record set sends clients: its values, or its alias target. */
export function targetOf(set: ResourceRecordSet): string {
  if (set.AliasTarget?.DNSName) return `alias ${normalizeName(set.AliasTarget.DNSName)}`;
  return (set.ResourceRecords ?? []).map((r) => r.Value ?? '').join(', ');
}

/** The routing attribute shown next to a record set: weight, failover role or region. */
export function routingOf(set: ResourceRecordSet): string {
  if (set.Weight !== undefined) return `weight ${set.Weight}`;
  if (set.Failover) return `failover ${set.Failover}`;
  if (set.Region) return `latency ${set.Region}`;
  return 'simple';
}
