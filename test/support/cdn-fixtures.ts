/**
 * CDN groups for the cdn tests, created in the emulator: one per routing type, with health checks,
 * a CloudFront distribution for the primary, and a config file that describes them.
 * Set identifiers are unique per record name: moto deletes by set identifier zone-wide.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CloudFrontClient, CreateDistributionCommand } from '@aws-sdk/client-cloudfront';
import { ChangeResourceRecordSetsCommand, CreateHealthCheckCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client, type ResourceRecordSet } from '@aws-sdk/client-route-53';
import { afterAll } from 'vitest';
import { stringify } from 'yaml';
import type { FaultRule } from './aws-shim.js';
import { spawnCli, type SpawnOptions } from './spawn-cli.js';

export type Routing = 'weighted' | 'failover' | 'latency';

export interface CdnFixture {
  configFile: string;
  dir: string;
  zoneId: string;
  records: string[];
  healthChecks: { primary: string; secondary: string };
  distributionId: string;
  distributionDomain: string;
  route53: Route53Client;
  /** Current record sets at a name, by set identifier. */
  sets(name: string): Promise<Record<string, ResourceRecordSet>>;
  close(): void;
}

let counter = 0;

export async function createCdnFixture(endpoint: string, routing: Routing, options: { records?: string[]; ttl?: number; auditBucket?: string; type?: 'CNAME' | 'A' } = {}): Promise<CdnFixture> {
  const type = options.type ?? 'CNAME';
  counter += 1;
  const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const route53 = new Route53Client(common);
  const cloudfront = new CloudFrontClient(common);
  const zoneName = `${routing}${counter}.shop.example.com`;
  const records = (options.records ?? ['www']).map((r) => (r === '@' ? zoneName : `${r}.${zoneName}`));
  const zone = await route53.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: `zone-${counter}-${Date.now()}` }));
  const zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
  const dist = await cloudfront.send(
    new CreateDistributionCommand({
      DistributionConfig: {
        CallerReference: `dist-${counter}-${Date.now()}`,
        Comment: 'test',
        Enabled: true,
        Origins: { Quantity: 1, Items: [{ Id: 'o', DomainName: 'origin.example.com', CustomOriginConfig: { HTTPPort: 80, HTTPSPort: 443, OriginProtocolPolicy: 'https-only' } }] },
        DefaultCacheBehavior: { TargetOriginId: 'o', ViewerProtocolPolicy: 'redirect-to-https', CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6' },
      },
    }),
  );
  cloudfront.destroy();
  const hc = async (name: string) =>
    (await route53.send(new CreateHealthCheckCommand({ CallerReference: `${name}-${counter}-${Date.now()}`, HealthCheckConfig: { Type: 'HTTPS', FullyQualifiedDomainName: `${name}.example.net`, Port: 443, ResourcePath: '/health' } }))).HealthCheck!.Id!;
  const healthChecks = { primary: await hc('primary'), secondary: await hc('secondary') };
  const ttl = options.ttl ?? 60;
  const changes = records.flatMap((name, i) => {
    const base = (side: 'primary' | 'secondary'): ResourceRecordSet => {
      const set: ResourceRecordSet = { Name: name, Type: type, SetIdentifier: `${side === 'primary' ? 'cloudfront' : 'fastly'}-${i}`, HealthCheckId: healthChecks[side] };
      if (type === 'A' && side === 'primary') {
        // an alias to CloudFront: its fixed hosted zone id, no TTL
        set.AliasTarget = { HostedZoneId: 'Z2FDTNDATAQYW2', DNSName: dist.Distribution!.DomainName!, EvaluateTargetHealth: false };
      } else {
        set.TTL = ttl;
        set.ResourceRecords = [{ Value: type === 'A' ? '151.101.1.57' : side === 'primary' ? dist.Distribution!.DomainName! : `${name}.global.prod.fastly.net` }];
      }
      return set;
    };
    const p = base('primary');
    const s = base('secondary');
    if (routing === 'weighted') Object.assign(p, { Weight: 100 }) && Object.assign(s, { Weight: 0 });
    if (routing === 'failover') Object.assign(p, { Failover: 'PRIMARY' }) && Object.assign(s, { Failover: 'SECONDARY' });
    if (routing === 'latency') Object.assign(p, { Region: 'us-east-1' }) && Object.assign(s, { Region: 'eu-west-1' });
    return [{ Action: 'CREATE' as const, ResourceRecordSet: p }, { Action: 'CREATE' as const, ResourceRecordSet: s }];
  });
  await route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes } }));

  const dir = await mkdtemp(path.join(os.tmpdir(), `retailctl-cdn-${routing}-`));
  const group = {
    zoneId,
    record: records.length === 1 ? records[0] : records,
    type,
    routing,
    primary: { setIdentifier: Object.fromEntries(records.map((r, i) => [r, `cloudfront-${i}`])), distributionId: dist.Distribution!.Id },
    secondary: { setIdentifier: Object.fromEntries(records.map((r, i) => [r, `fastly-${i}`])) },
  };
  const cdn: Record<string, unknown> = { auditLog: 'audit.jsonl', storefront: group };
  if (options.auditBucket) cdn.auditBucket = options.auditBucket;
  const configFile = path.join(dir, 'retailctl.yaml');
  await writeFile(configFile, stringify({ cdn }));
  return {
    configFile,
    dir,
    zoneId,
    records,
    healthChecks,
    distributionId: dist.Distribution!.Id!,
    distributionDomain: dist.Distribution!.DomainName!,
    route53,
    async sets(name) {
      const res = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: name, StartRecordType: type, MaxItems: 300 }));
      return Object.fromEntries((res.ResourceRecordSets ?? []).filter((s) => s.Name === `${name}.` && s.Type === type).map((s) => [s.SetIdentifier!, s]));
    },
    close: () => route53.destroy(),
  };
}

/** GetHealthCheckStatus as Route 53 answers when every checker sees the endpoint failing (moto is always healthy). */
export function failingHealthCheck(healthCheckId: string): FaultRule {
  return {
    service: 'route53',
    method: 'GET',
    path: `/healthcheck/${healthCheckId}/status`,
    times: 0,
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body:
      '<?xml version="1.0"?><GetHealthCheckStatusResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HealthCheckObservations>' +
      ['us-east-1', 'eu-west-1', 'ap-southeast-1']
        .map((r) => `<HealthCheckObservation><Region>${r}</Region><IPAddress>192.0.2.1</IPAddress><StatusReport><Status>Failure: HTTP Status Code 503, Service Unavailable</Status><CheckedTime>2026-11-27T09:00:00Z</CheckedTime></StatusReport></HealthCheckObservation>`)
        .join('') +
      '</HealthCheckObservations></GetHealthCheckStatusResponse>',
  };
}

/** TestDNSAnswer answering `value` for `record`, whatever the records say (a Route 53 that never moves). */
export function staleDnsAnswer(record: string, value: string): FaultRule {
  return {
    service: 'route53',
    method: 'GET',
    path: '/testdnsanswer',
    times: 0,
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<?xml version="1.0"?><TestDNSAnswerResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Nameserver>ns-1.awsdns-01.org</Nameserver><RecordName>${record}</RecordName><RecordType>CNAME</RecordType><RecordData><RecordDataEntry>${value}</RecordDataEntry></RecordData><ResponseCode>NOERROR</ResponseCode><Protocol>UDP</Protocol></TestDNSAnswerResponse>`,
  };
}

/** GetChange as Route 53 answers while a change is still propagating (moto always says INSYNC). */
export const pendingChange: FaultRule = {
  service: 'route53',
  method: 'GET',
  path: '/2013-04-01/change/',
  times: 0,
  status: 200,
  headers: { 'content-type': 'text/xml' },
  body: '<?xml version="1.0"?><GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C0PENDING</Id><Status>PENDING</Status><SubmittedAt>2026-11-27T09:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>',
};

/**
 * For a cdn test file: `fixture()` makes a group on the emulator (closed when the file ends), `cdn()`
 * runs `retailctl cdn …` on the built binary against its config, `auditLines()` reads its audit log.
 */
export function useCdnFixtures(endpoint: string, env: Record<string, string>) {
  const fixtures: CdnFixture[] = [];
  afterAll(() => fixtures.forEach((f) => f.close()));
  return {
    async fixture(routing: Routing, options: Parameters<typeof createCdnFixture>[2] = {}): Promise<CdnFixture> {
      const f = await createCdnFixture(endpoint, routing, options);
      fixtures.push(f);
      return f;
    },
    cdn(f: CdnFixture, args: string[], options: SpawnOptions = {}) {
      return spawnCli(['cdn', ...args, '--config', f.configFile], { env, ...options });
    },
    async auditLines(f: CdnFixture): Promise<Record<string, unknown>[]> {
      const text = await readFile(path.join(f.dir, 'audit.jsonl'), 'utf8').catch(() => '');
      return text.trim() ? text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
    },
  };
}
