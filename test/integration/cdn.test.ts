/**
 * retailctl cdn against moto over the wire, with the shim supplying what moto lacks (each use says so):
 * failing health checks and PENDING changes (moto is always healthy and always INSYNC), Route 53's
 * DELETE-must-match and HealthCheckVersion compare-and-set (moto enforces neither), and
 * PriorRequestNotComplete throttling.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ChangeResourceRecordSetsCommand, GetHealthCheckCommand, UpdateHealthCheckCommand } from '@aws-sdk/client-route-53';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetObjectCommand, CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config/load.js';
import { executeCdnPlan } from '../../src/lib/cdn/execute.js';
import { readHealth, readRecords } from '../../src/lib/cdn/gather.js';
import type { GroupState } from '../../src/lib/cdn/model.js';
import { planCdnChange } from '../../src/lib/cdn/plan.js';
import { RetailctlError } from '../../src/lib/errors.js';
import { emulatorContext } from '../support/aws.js';
import { createCdnFixture, failingHealthCheck, pendingChange, type CdnFixture } from '../support/cdn-fixtures.js';
import { awsErrors } from '../support/emulator.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const fixtures: CdnFixture[] = [];
afterAll(() => fixtures.forEach((f) => f.close()));

async function fixture(routing: 'weighted' | 'failover' | 'latency', options: Parameters<typeof createCdnFixture>[2] = {}): Promise<CdnFixture> {
  const f = await createCdnFixture(endpoint, routing, options);
  fixtures.push(f);
  return f;
}

function cli(f: CdnFixture, args: string[], now?: () => Date) {
  return runInProcess([...args, '--config', f.configFile, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, now });
}

async function weights(f: CdnFixture, name: string): Promise<Record<string, number | undefined>> {
  return Object.fromEntries(Object.entries(await f.sets(name)).map(([id, s]) => [id, s.Weight]));
}

async function inverted(f: CdnFixture, id: string): Promise<boolean> {
  return (await f.route53.send(new GetHealthCheckCommand({ HealthCheckId: id }))).HealthCheck!.HealthCheckConfig!.Inverted ?? false;
}

async function auditLines(f: CdnFixture): Promise<Record<string, unknown>[]> {
  return (await readFile(path.join(f.dir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('cdn status', () => {
  it('shows every record set with weight, TTL, health and CloudFront state, and where traffic goes', async () => {
    const f = await fixture('weighted');
    const res = await cli(f, ['cdn', 'status', '--json']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { groups: { traffic: string; records: { sets: { setIdentifier: string; weight: number; ttl: number; healthCheck: { healthy: boolean; inverted: boolean } }[] }[]; distributions: { primary: { enabled: boolean; status: string } } }[] };
    const [group] = doc.groups;
    expect(group!.traffic).toBe('100% cloudfront-0');
    expect(group!.records[0]!.sets.map((s) => [s.setIdentifier, s.weight, s.ttl, s.healthCheck.healthy, s.healthCheck.inverted]).sort()).toEqual([
      ['cloudfront-0', 100, 60, true, false],
      ['fastly-0', 0, 60, true, false],
    ]);
    expect(group!.distributions.primary).toMatchObject({ enabled: true, status: 'Deployed' });
  });
});

describe('cdn status: when health last changed', () => {
  it('reads it from the AWS/Route53 HealthCheckStatus metric [seeded in moto with PutMetricData, as Route 53 publishes it]', async () => {
    const f = await fixture('weighted');
    const cloudwatch = new CloudWatchClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const minute = 60_000;
    const now = Date.now();
    const flipped = new Date(Math.floor((now - 5 * minute) / minute) * minute);
    const points = Array.from({ length: 30 }, (_, i) => new Date(Math.floor((now - (30 - i) * minute) / minute) * minute));
    await cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: 'AWS/Route53',
        MetricData: points.map((t) => ({ MetricName: 'HealthCheckStatus', Dimensions: [{ Name: 'HealthCheckId', Value: f.healthChecks.secondary }], Timestamp: t, Value: t < flipped ? 0 : 1 })),
      }),
    );
    cloudwatch.destroy();
    const realClock = () => new Date();
    const res = await cli(f, ['cdn', 'status', '--json'], realClock);
    expect(res.code).toBe(0);
    const sets = (JSON.parse(res.stdout) as { groups: { records: { sets: { setIdentifier: string; healthCheck: { lastChanged?: string | null } }[] }[] }[] }).groups[0]!.records[0]!.sets;
    const byId = Object.fromEntries(sets.map((x) => [x.setIdentifier, x.healthCheck.lastChanged]));
    expect(byId['fastly-0']).toBe(flipped.toISOString());
    expect(byId['cloudfront-0']).toBeNull(); // no datapoints: no change seen in 24 h
    expect((await cli(f, ['cdn', 'status'], realClock)).stdout).toContain(`healthy 1/1 since ${flipped.toISOString()}`);
  });
});

describe('weighted routing', () => {
  it('fails over and back: weights 0/100 and 100/0, both record sets kept, audit lines with the change id', async () => {
    const f = await fixture('weighted');
    const name = f.records[0]!;
    const over = await cli(f, ['cdn', 'failover', '--yes', '--json']);
    expect(over.code).toBe(0);
    const doc = JSON.parse(over.stdout) as { changeId: string; status: string };
    expect(doc.status).toBe('INSYNC');
    expect(doc.changeId).toMatch(/^\/change\//);
    expect(await weights(f, name)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });

    const back = await cli(f, ['cdn', 'failback', '--yes']);
    expect(back.code).toBe(0);
    expect(await weights(f, name)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
    const audit = await auditLines(f);
    // each change's line, then its DNS verification's line naming it
    expect(audit.map((a) => [a.action, a.outcome, a.trafficAfter, a.caller])).toEqual([
      ['failover', 'applied', '100% fastly-0', 'arn:aws:sts::123456789012:user/moto'],
      ['failover', 'verified', '100% fastly-0', 'arn:aws:sts::123456789012:user/moto'],
      ['failback', 'applied', '100% cloudfront-0', 'arn:aws:sts::123456789012:user/moto'],
      ['failback', 'verified', '100% cloudfront-0', 'arn:aws:sts::123456789012:user/moto'],
    ]);
    expect(audit[0]!.changeId).toBe(doc.changeId);
    expect(audit[1]).toMatchObject({ changeId: doc.changeId, follows: audit[0]!.time });
    expect(audit[0]!.verification).toBeUndefined();
  });

  it('A records with an alias to CloudFront (no TTL) fail over and back, the alias kept exactly', async () => {
    const f = await fixture('weighted', { type: 'A' });
    const name = f.records[0]!;
    const before = await f.sets(name);
    expect(before['cloudfront-0']).toMatchObject({ AliasTarget: { HostedZoneId: 'Z2FDTNDATAQYW2' } });
    // the batch carries the alias exactly and no TTL (AWS refuses a TTL on an alias; moto lists one as 0)
    const dry = JSON.parse((await cli(f, ['cdn', 'failover', '--dry-run', '--json'])).stdout) as { plan: { changeBatch: { Changes: { Action: string; ResourceRecordSet: Record<string, unknown> }[] } } };
    const aliasChanges = dry.plan.changeBatch.Changes.filter((c) => c.ResourceRecordSet.SetIdentifier === 'cloudfront-0');
    expect(aliasChanges.map((c) => [c.Action, c.ResourceRecordSet.Weight, 'TTL' in c.ResourceRecordSet, c.ResourceRecordSet.AliasTarget])).toEqual([
      ['DELETE', 100, false, before['cloudfront-0']!.AliasTarget],
      ['CREATE', 0, false, before['cloudfront-0']!.AliasTarget],
    ]);
    expect((await cli(f, ['cdn', 'failover', '--yes'])).code).toBe(0);
    const after = await f.sets(name);
    expect(after['cloudfront-0']).toMatchObject({ Weight: 0, AliasTarget: before['cloudfront-0']!.AliasTarget });
    expect(after['fastly-0']).toMatchObject({ Weight: 100, TTL: 60, ResourceRecords: [{ Value: '151.101.1.57' }] });
    expect((await cli(f, ['cdn', 'failback', '--yes'])).code).toBe(0);
    expect(await weights(f, name)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
    const status = await cli(f, ['cdn', 'status']);
    expect(status.stdout).toContain(`alias ${f.distributionDomain}`);
  });

  it('moves a two-record group in ONE batch', async () => {
    const f = await fixture('weighted', { records: ['www', '@'] });
    await control.clearRequests();
    const res = await cli(f, ['cdn', 'failover', '--yes']);
    expect(res.code).toBe(0);
    for (const [i, name] of f.records.entries()) expect(await weights(f, name)).toEqual({ [`cloudfront-${i}`]: 0, [`fastly-${i}`]: 100 });
    const writes = (await control.requests()).filter((r) => r.service === 'route53' && r.method === 'POST');
    expect(writes).toHaveLength(1);
    expect(writes[0]!.path).toMatch(/\/rrset\/?$/);
  });

  it('shift sets gradual weights; all-zero and >255 are usage errors', async () => {
    const f = await fixture('weighted');
    expect((await cli(f, ['cdn', 'shift', '--weights', 'cloudfront-0=90,fastly-0=10', '--yes'])).code).toBe(0);
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 90, 'fastly-0': 10 });
    const zero = await cli(f, ['cdn', 'shift', '--weights', 'cloudfront-0=0,fastly-0=0', '--yes']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('all weights are 0');
    expect((await cli(f, ['cdn', 'shift', '--weights', 'cloudfront-0=256', '--yes'])).code).toBe(2);
    // split traffic: failover means 100% on the secondary
    const split = await cli(f, ['cdn', 'failover', '--yes']);
    expect(split.code).toBe(0);
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
  });

  it('a config whose two sides name the same record set is refused (exit 2) and nothing changes', async () => {
    const f = await fixture('weighted');
    const text = await readFile(f.configFile, 'utf8');
    await writeFile(f.configFile, text.replace(/fastly-0/, 'cloudfront-0'));
    await control.clearRequests();
    const res = await cli(f, ['cdn', 'failover', '--yes']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/retailctl\.yaml:\d+:\d+: cdn\.storefront\.secondary\.setIdentifier: "cloudfront-0" is also the primary's set identifier/);
    expect((await control.requests()).filter((r) => r.service === 'route53')).toHaveLength(0);
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
  });

  it('--dry-run prints the ChangeBatch and makes no write call', async () => {
    const f = await fixture('weighted');
    await control.clearRequests();
    const res = await cli(f, ['cdn', 'failover', '--dry-run']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('ChangeBatch that would be sent');
    expect(res.stdout).toContain('"Action": "DELETE"');
    const requests = await control.requests();
    expect(requests.filter((r) => r.method !== 'GET' && r.service !== 'sts')).toEqual([]);
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
  });

  it('refuses (exit 5) to send traffic to an unhealthy CDN, unless --force [shim: failing GetHealthCheckStatus]', async () => {
    const f = await fixture('weighted');
    await control.fault(failingHealthCheck(f.healthChecks.secondary));
    const res = await cli(f, ['cdn', 'failover', '--yes']);
    expect(res.code).toBe(5);
    expect(res.stderr).toMatch(/refusing to move storefront's traffic: fastly-0 health check \S+ is failing \(0\/3 checkers healthy/);
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 0 });
    const json = await cli(f, ['cdn', 'failover', '--yes', '--json']);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, applied: false, plan: { refusals: [expect.stringContaining('is failing')] }, error: { code: 'CDN_PREFLIGHT_FAILED' } });
    const forced = await cli(f, ['cdn', 'failover', '--yes', '--force']);
    expect(forced.code).toBe(0);
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    await control.clearFaults();
  });

  it('a change still PENDING at the --wait deadline exits 5 but is applied and audited [shim: PENDING GetChange]', async () => {
    const f = await fixture('weighted');
    await control.fault(pendingChange);
    const res = await cli(f, ['cdn', 'failover', '--yes', '--wait', '3s', '--json']);
    await control.clearFaults();
    expect(res.code).toBe(5);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: false, applied: true, status: 'PENDING' });
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect(await auditLines(f)).toHaveLength(1);
  });

  it('retries PriorRequestNotComplete and applies the batch once [shim: injected throttling]', async () => {
    const f = await fixture('weighted');
    await control.clearRequests();
    await control.fault({ service: 'route53', method: 'POST', path: '/rrset', times: 2, ...awsErrors.restXml('PriorRequestNotComplete', 'The request was rejected because Route 53 was still processing a prior request.', 400) });
    const res = await cli(f, ['cdn', 'failover', '--yes']);
    expect(res.code).toBe(0);
    expect((await control.requests()).filter((r) => r.method === 'POST' && r.path.includes('/rrset'))).toHaveLength(3);
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
  });

  it('a record changed between plan and apply: Route 53 refuses the batch, nothing changes, exit 1 shows what changed [shim: DELETE must match]', async () => {
    const f = await fixture('weighted');
    const aws = emulatorContext(endpoint);
    const loaded = await loadConfig(f.configFile);
    const config = loaded.config.cdn!.storefront as GroupState['config'];
    const state: GroupState = { group: 'storefront', config, records: await readRecords(aws.read, config), health: await readHealth(aws.read, [f.healthChecks.secondary], []), distributions: {}, readAt: new Date().toISOString() };
    const plan = planCdnChange(state, { action: 'failover', to: 'secondary', now: new Date() });
    // someone else shifts 10% to fastly in the meantime
    const current = await f.sets(f.records[0]!);
    await f.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: f.zoneId, ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { ...current['fastly-0']!, Weight: 10 } }] } }));
    const err = (await executeCdnPlan(plan, { write: aws.write(), sideWrite: aws.write({ side: true }), read: aws.read, state, audit: { file: path.join(f.dir, 'audit.jsonl') }, caller: 'test', waitMs: 0, now: () => new Date() }).catch((e: unknown) => e)) as RetailctlError;
    await aws.destroy();
    expect(err.code).toBe('CDN_CONFLICT');
    expect(err.exitCode).toBe(1);
    expect(err.details).toEqual([`${f.records[0]} fastly-0: was weight 0 TTL 60 → ${f.records[0]}.global.prod.fastly.net, now weight 10 TTL 60 → ${f.records[0]}.global.prod.fastly.net`]);
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 100, 'fastly-0': 10 });
  });
});

describe('failover routing', () => {
  it('fails over by inverting the primary health check (records untouched) and back', async () => {
    const f = await fixture('failover');
    const before = await f.sets(f.records[0]!);
    const over = await cli(f, ['cdn', 'failover', '--yes', '--json']);
    expect(over.code).toBe(0);
    expect(JSON.parse(over.stdout)).toMatchObject({ status: 'APPLIED', healthChecksUpdated: [f.healthChecks.primary], plan: { trafficAfter: expect.stringMatching(/^100% fastly-0 \(secondary\): primary health check \S+ inverted/) } });
    expect(await inverted(f, f.healthChecks.primary)).toBe(true);
    expect(await f.sets(f.records[0]!)).toEqual(before);
    const status = await cli(f, ['cdn', 'status']);
    expect(status.stdout).toMatch(/traffic: 100% fastly-0 \(secondary\)/);

    expect((await cli(f, ['cdn', 'failback', '--yes'])).code).toBe(0);
    expect(await inverted(f, f.healthChecks.primary)).toBe(false);
  });

  it('a health check changed between plan and apply is refused by HealthCheckVersion [shim: version compare-and-set]', async () => {
    const f = await fixture('failover');
    const aws = emulatorContext(endpoint);
    const config = (await loadConfig(f.configFile)).config.cdn!.storefront as GroupState['config'];
    const ids = [f.healthChecks.primary, f.healthChecks.secondary];
    const state: GroupState = { group: 'storefront', config, records: await readRecords(aws.read, config), health: await readHealth(aws.read, ids, ids), distributions: {}, readAt: '' };
    const plan = planCdnChange(state, { action: 'failover', to: 'secondary', now: new Date() });
    await f.route53.send(new UpdateHealthCheckCommand({ HealthCheckId: f.healthChecks.primary, ResourcePath: '/healthz' }));
    const err = (await executeCdnPlan(plan, { write: aws.write(), sideWrite: aws.write({ side: true }), read: aws.read, state, audit: { file: path.join(f.dir, 'audit.jsonl') }, caller: 'test', waitMs: 0, now: () => new Date() }).catch((e: unknown) => e)) as RetailctlError;
    await aws.destroy();
    expect(err.code).toBe('CDN_CONFLICT');
    expect(err.message).toContain('nothing was changed');
    expect(await inverted(f, f.healthChecks.primary)).toBe(false);
  });
});

describe('reading a group in few calls', () => {
  const reads = async () => (await control.requests()).filter((r) => r.service === 'route53' && r.method === 'GET').map((r) => r.path.split('?')[0]!.replace(/[0-9a-f-]{36}|[A-Z0-9]{10,}/g, '…'));

  it('failover routing, two records: one record listing, one ListHealthChecks, no GetHealthCheck; 7 calls to fail over, and the primary is inverted', async () => {
    const f = await fixture('failover', { records: ['www', '@'] });
    await control.clearRequests();
    const res = await cli(f, ['cdn', 'failover', '--yes', '--wait', '0']);
    expect(res.code, res.stderr).toBe(0);
    expect((await reads()).sort()).toEqual(['/2013-04-01/healthcheck', '/2013-04-01/healthcheck/…/status', '/2013-04-01/healthcheck/…/status', '/2013-04-01/hostedzone/…/rrset']);
    expect((await control.requests()).length).toBe(7);
    expect(await inverted(f, f.healthChecks.primary)).toBe(true);
    expect(await inverted(f, f.healthChecks.secondary)).toBe(false);
  });

  it('a policy without route53:ListHealthChecks: each check is read with GetHealthCheck instead, and the failover still happens [shim: AccessDenied on ListHealthChecks]', async () => {
    const f = await fixture('failover', { records: ['www', '@'] });
    await control.fault({ service: 'route53', method: 'GET', path: '/2013-04-01/healthcheck(\\?|$)', times: 0, ...awsErrors.restXml('AccessDenied', 'User is not authorized to perform: route53:ListHealthChecks', 403) });
    try {
      await control.clearRequests();
      const res = await cli(f, ['cdn', 'failover', '--yes', '--wait', '0']);
      expect(res.code, res.stderr).toBe(0);
      expect((await reads()).filter((p) => /^\/2013-04-01\/healthcheck\/…\/?$/.test(p))).toHaveLength(2);
    } finally {
      await control.clearFaults();
    }
    expect(await inverted(f, f.healthChecks.primary)).toBe(true);
  });

  it('records that do not sort together (300 other records between them) are each listed on their own, and both move', async () => {
    const f = await fixture('weighted', { records: ['www', '@'] });
    const apex = f.records[1]!;
    const fillers = Array.from({ length: 300 }, (_, i) => ({ Action: 'CREATE' as const, ResourceRecordSet: { Name: `a${String(i).padStart(3, '0')}.${apex}`, Type: 'CNAME' as const, TTL: 300, ResourceRecords: [{ Value: 'elsewhere.example.net' }] } }));
    await f.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: f.zoneId, ChangeBatch: { Changes: fillers } }));
    await control.clearRequests();
    const res = await cli(f, ['cdn', 'failover', '--yes', '--wait', '0']);
    expect(res.code, res.stderr).toBe(0);
    expect((await reads()).filter((p) => p.endsWith('/rrset'))).toHaveLength(2);
    expect(await weights(f, f.records[0]!)).toEqual({ 'cloudfront-0': 0, 'fastly-0': 100 });
    expect(await weights(f, apex)).toEqual({ 'cloudfront-1': 0, 'fastly-1': 100 });
  });
});

describe('latency routing', () => {
  it('drains one CDN by inverting its health check, and failback returns to both', async () => {
    const f = await fixture('latency');
    const over = await cli(f, ['cdn', 'failover', '--to', 'secondary', '--yes', '--json']);
    expect(over.code).toBe(0);
    expect(JSON.parse(over.stdout).plan.trafficAfter).toMatch(/^100% fastly-0: cloudfront-0 health check \S+ inverted/);
    expect(await inverted(f, f.healthChecks.primary)).toBe(true);
    expect(await inverted(f, f.healthChecks.secondary)).toBe(false);
    // switching sides un-inverts the destination before inverting the other
    const swap = await cli(f, ['cdn', 'failover', '--to', 'primary', '--yes', '--json']);
    expect(JSON.parse(swap.stdout).plan.healthCheckUpdates.map((u: { side: string; inverted: boolean }) => [u.side, u.inverted])).toEqual([['primary', false], ['secondary', true]]);
    expect((await cli(f, ['cdn', 'failback', '--yes'])).code).toBe(0);
    expect([await inverted(f, f.healthChecks.primary), await inverted(f, f.healthChecks.secondary)]).toEqual([false, false]);
    expect((await cli(f, ['cdn', 'status'])).stdout).toMatch(/traffic: by latency: cloudfront-0 \(us-east-1\) and fastly-0 \(eu-west-1\)/);
  });
});

describe('audit to S3', () => {
  it('puts a copy of each audit entry in cdn.auditBucket, encrypted', async () => {
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'cdn-audit' }));
    const f = await fixture('weighted', { auditBucket: 'cdn-audit' });
    expect((await cli(f, ['cdn', 'failover', '--yes'])).code).toBe(0);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'cdn-audit', Prefix: 'retailctl/cdn-audit/storefront/' }));
    // the change's entry and its verification's, each an object of its own
    expect(listed.KeyCount).toBe(2);
    const docs = [];
    for (const item of listed.Contents!) {
      const object = await s3.send(new GetObjectCommand({ Bucket: 'cdn-audit', Key: item.Key! }));
      expect(object.ServerSideEncryption).toBe('AES256');
      docs.push(JSON.parse(await object.Body!.transformToString()) as { outcome: string });
    }
    expect(docs.map((d) => d.outcome).sort()).toEqual(['applied', 'verified']);
    expect(docs.find((d) => d.outcome === 'applied')).toMatchObject({ group: 'storefront', action: 'failover', trafficAfter: '100% fastly-0' });
    s3.destroy();
  });
});
