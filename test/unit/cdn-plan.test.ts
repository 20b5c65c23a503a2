import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import type { GroupState, HealthState } from '../../src/lib/cdn/model.js';
import { lastChange } from '../../src/lib/cdn/gather.js';
import { destinationFor, parseWeights, planCdnChange } from '../../src/lib/cdn/plan.js';
import { groupTraffic } from '../../src/lib/cdn/traffic.js';

const now = new Date('2026-11-27T09:00:00Z');

function set(id: string, extra: Partial<ResourceRecordSet>): ResourceRecordSet {
  return { Name: 'www.shop.example.com.', Type: 'CNAME', SetIdentifier: id, TTL: 60, ResourceRecords: [{ Value: `${id}.example.net` }], ...extra };
}

function health(id: string, extra: Partial<HealthState> = {}): HealthState {
  return { healthCheckId: id, healthy: true, checkersHealthy: 8, checkersTotal: 8, inverted: false, disabled: false, version: 3, ...extra };
}

function state(routing: 'weighted' | 'failover' | 'latency', sets: ResourceRecordSet[], healthChecks: HealthState[] = [], more: Partial<GroupState> = {}): GroupState {
  return {
    group: 'storefront',
    config: { zoneId: 'Z1', record: 'www.shop.example.com', type: 'CNAME', routing, primary: { setIdentifier: 'cloudfront', distributionId: 'E1' }, secondary: { setIdentifier: 'fastly' } },
    records: [{ name: 'www.shop.example.com', type: 'CNAME', sets }],
    health: Object.fromEntries(healthChecks.map((h) => [h.healthCheckId, h])),
    distributions: {},
    readAt: now.toISOString(),
    ...more,
  };
}

describe('weighted planning', () => {
  const weighted = (cf: number, fa: number, hcs: HealthState[] = []) =>
    state('weighted', [set('cloudfront', { Weight: cf, HealthCheckId: 'hc-cf' }), set('fastly', { Weight: fa, HealthCheckId: 'hc-fa' })], hcs);

  it('fails over away from the serving CDN with DELETE-as-read + CREATE for every set, in one batch', () => {
    const s = weighted(100, 0, [health('hc-fa')]);
    expect(destinationFor('failover', undefined)).toBe('secondary');
    const plan = planCdnChange(s, { action: 'failover', to: 'secondary', now });
    expect(plan.trafficBefore).toBe('100% cloudfront');
    expect(plan.trafficAfter).toBe('100% fastly');
    expect(plan.changeBatch!.Changes.map((c) => [c.Action, c.ResourceRecordSet!.SetIdentifier, c.ResourceRecordSet!.Weight])).toEqual([
      ['DELETE', 'cloudfront', 100],
      ['CREATE', 'cloudfront', 0],
      ['DELETE', 'fastly', 0],
      ['CREATE', 'fastly', 100],
    ]);
    // the DELETE is exactly what was read: that is what makes the batch a compare-and-set
    expect(plan.changeBatch!.Changes[0]!.ResourceRecordSet).toBe(s.records[0]!.sets[0]);
    expect(plan.refusals).toEqual([]);
    expect(plan.noop).toBe(false);
  });

  it('is a no-op when traffic already goes there, whatever non-zero weight the destination has', () => {
    const plan = planCdnChange(weighted(0, 100), { action: 'failover', to: 'secondary', now });
    expect(plan.noop).toBe(true);
    expect(plan.changeBatch).toBeUndefined();
    expect(plan.destination).toBe('fastly');
    expect(planCdnChange(weighted(0, 255), { action: 'failover', to: 'secondary', now }).noop).toBe(true);
    expect(planCdnChange(weighted(7, 0), { action: 'failback', to: 'primary', now }).noop).toBe(true);
  });

  it('failover always means "to the secondary" and failback "to the primary": a second run never moves traffic back', () => {
    expect(destinationFor('failover', undefined)).toBe('secondary');
    expect(destinationFor('failback', undefined)).toBe('primary');
    expect(destinationFor('failover', 'primary')).toBe('primary');
    expect(destinationFor('shift', undefined)).toBeUndefined();
    // after a failover, the same command again is a no-op (it used to toggle back to the primary)
    expect(planCdnChange(weighted(0, 100), { action: 'failover', to: destinationFor('failover', undefined), now }).noop).toBe(true);
  });

  it('split traffic: failover goes to 100% secondary, shown in the plan', () => {
    const plan = planCdnChange(weighted(90, 10, [health('hc-fa')]), { action: 'failover', to: destinationFor('failover', undefined), now });
    expect(plan.trafficBefore).toBe('90/10 cloudfront/fastly');
    expect(plan.trafficAfter).toBe('100% fastly');
    expect(plan.changeBatch!.Changes.filter((c) => c.Action === 'CREATE').map((c) => [c.ResourceRecordSet!.SetIdentifier, c.ResourceRecordSet!.Weight])).toEqual([
      ['cloudfront', 0],
      ['fastly', 100],
    ]);
  });

  it('refuses an unhealthy destination, on intent even though Route 53 would hide it', () => {
    const plan = planCdnChange(weighted(100, 0, [health('hc-fa', { healthy: false, checkersHealthy: 0 })]), { action: 'failover', to: 'secondary', now });
    expect(plan.refusals).toEqual(['fastly health check hc-fa is failing (0/8 checkers healthy): moving traffic there could make things worse']);
    expect(plan.trafficAfter).toMatch(/^100% cloudfront \(fastly skipped: health check hc-fa failing/);
  });

  it('refuses a CloudFront destination that is disabled or still deploying', () => {
    const s = weighted(0, 100);
    s.distributions.primary = { id: 'E1', domainName: 'd.cloudfront.net', enabled: true, status: 'InProgress' };
    expect(planCdnChange(s, { action: 'failback', to: 'primary', now }).refusals).toEqual(['cloudfront CloudFront distribution E1 is InProgress, not Deployed: wait for its last change to finish']);
    s.distributions.primary = { id: 'E1', domainName: 'd.cloudfront.net', enabled: false, status: 'Deployed' };
    expect(planCdnChange(s, { action: 'failback', to: 'primary', now }).refusals).toEqual(['cloudfront CloudFront distribution E1 is disabled']);
  });

  it('warns about long TTLs with how long the old answer may live', () => {
    const s = state('weighted', [set('cloudfront', { Weight: 100, TTL: 300 }), set('fastly', { Weight: 0, TTL: 300 })]);
    expect(planCdnChange(s, { action: 'failover', to: 'secondary', now }).warnings).toContain(
      'www.shop.example.com has a TTL of 300 s: resolvers may keep sending clients to the old CDN for up to 300 s after the change',
    );
  });

  it('shift: a record left at 0/0 is refused, and a side whose share rises is health-checked even when its weight does not', () => {
    const two: GroupState = {
      ...weighted(100, 0),
      config: { zoneId: 'Z1', record: ['www.shop.example.com', 'api.shop.example.com'], type: 'CNAME', routing: 'weighted', primary: { setIdentifier: { 'www.shop.example.com': 'cf-0', 'api.shop.example.com': 'cf-1' } }, secondary: { setIdentifier: { 'www.shop.example.com': 'fa-0', 'api.shop.example.com': 'fa-1' } } },
      records: [
        { name: 'www.shop.example.com', type: 'CNAME', sets: [set('cf-0', { Weight: 100 }), set('fa-0', { Weight: 0, HealthCheckId: 'hc-fa' })] },
        { name: 'api.shop.example.com', type: 'CNAME', sets: [set('cf-1', { Weight: 100 }), set('fa-1', { Weight: 0, HealthCheckId: 'hc-fa' })] },
      ],
    };
    expect(() => planCdnChange(two, { action: 'shift', weights: { 'cf-0': 0, 'fa-1': 10 }, now })).toThrow(/every record set of www\.shop\.example\.com at weight 0/);
    const failing = { ...weighted(10, 0, [health('hc-fa', { healthy: false, checkersHealthy: 0 })]) };
    failing.records[0]!.sets[1]!.HealthCheckId = 'hc-fa';
    // 10/0 → 10/10 hands fastly half the traffic: its health is checked first
    expect(planCdnChange(failing, { action: 'shift', weights: { cloudfront: 10, fastly: 10 }, now }).refusals.join()).toContain('fastly health check hc-fa is failing');
  });

  it('weighted: "already there" with a failing destination is not done: refused, since Route 53 answers with the other side', () => {
    const s = weighted(0, 100, [health('hc-fa', { healthy: false, checkersHealthy: 0 })]);
    s.records[0]!.sets[1]!.HealthCheckId = 'hc-fa';
    const plan = planCdnChange(s, { action: 'failover', to: 'secondary', now });
    expect(plan.noop).toBe(true);
    expect(plan.refusals.join()).toMatch(/fastly health check hc-fa is failing .* so Route 53 does not answer with it/);
  });

  it('refuses a plan that would not send all traffic where asked (a record set the group does not manage keeps its weight)', () => {
    const s = weighted(100, 0, [health('hc-fa')]);
    s.records[0]!.sets.push(set('akamai', { Weight: 50 }));
    const plan = planCdnChange(s, { action: 'failover', to: 'secondary', now });
    expect(plan.refusals.join()).toContain('the plan would not send all traffic to fastly');
    expect([plan.trafficBefore, plan.trafficAfter]).toEqual(['67/0/33 cloudfront/fastly/akamai', '0/67/33 cloudfront/fastly/akamai']);
  });

  it('finds a side\'s record set by a set-identifier map key written in another case or with a trailing dot', () => {
    const s = weighted(100, 0, [health('hc-fa')]);
    s.config = { ...s.config, primary: { setIdentifier: { 'WWW.Shop.Example.com.': 'cloudfront' } }, secondary: { setIdentifier: { 'www.shop.example.com': 'fastly' } } };
    expect(planCdnChange(s, { action: 'failover', to: 'secondary', now }).trafficAfter).toBe('100% fastly');
  });

  it('shift validates weights and set identifiers', () => {
    expect(parseWeights('cloudfront=90, fastly=10')).toEqual({ cloudfront: 90, fastly: 10 });
    expect(() => parseWeights('cloudfront=0,fastly=0')).toThrow(/all weights are 0/);
    expect(() => parseWeights('cloudfront=300')).toThrow(/maximum weight of 255/);
    expect(() => parseWeights('cloudfront:90')).toThrow(/not set-identifier=weight/);
    expect(() => planCdnChange(weighted(100, 0), { action: 'shift', weights: { akamai: 5 }, now })).toThrow(/"akamai" is not a set identifier of storefront/);
    const plan = planCdnChange(weighted(100, 0, [health('hc-fa')]), { action: 'shift', weights: { fastly: 10 }, now });
    expect(plan.trafficAfter).toBe('91/9 cloudfront/fastly');
  });
});

describe('failover routing planning', () => {
  const failover = (hcs: HealthState[]) =>
    state('failover', [set('cloudfront', { Failover: 'PRIMARY', HealthCheckId: 'hc-cf' }), set('fastly', { Failover: 'SECONDARY', HealthCheckId: 'hc-fa' })], hcs);

  it('inverts the primary check (compare-and-set on its version), guarded by a write of the secondary at its version, and leaves records alone', () => {
    const plan = planCdnChange(failover([health('hc-cf'), health('hc-fa')]), { action: 'failover', to: 'secondary', now });
    expect(plan.changeBatch).toBeUndefined();
    expect(plan.healthCheckUpdates).toEqual([
      { healthCheckId: 'hc-fa', side: 'secondary', version: 3, inverted: false, wasInverted: false, guard: true },
      { healthCheckId: 'hc-cf', side: 'primary', version: 3, inverted: true, wasInverted: false },
    ]);
    expect(plan.trafficAfter).toBe('100% fastly (secondary): primary health check hc-cf inverted (forced failover)');
  });

  it('restores a wrongly inverted secondary before draining the primary', () => {
    const plan = planCdnChange(failover([health('hc-cf'), health('hc-fa', { inverted: true })]), { action: 'failover', to: 'secondary', now });
    expect(plan.healthCheckUpdates.map((u) => [u.healthCheckId, u.inverted])).toEqual([['hc-fa', false], ['hc-cf', true]]);
  });

  it('a primary failing on its own is never inverted (that would make Route 53 count it healthy): already on the secondary, with a warning', () => {
    const s = failover([health('hc-cf', { healthy: false, checkersHealthy: 0 }), health('hc-fa')]);
    expect(groupTraffic(s).summary).toBe('100% fastly (secondary): primary health check hc-cf failing (0/8 checkers healthy)');
    const plan = planCdnChange(s, { action: 'failover', to: 'secondary', now });
    expect(plan.healthCheckUpdates).toEqual([]);
    expect([plan.noop, plan.trafficAfter]).toEqual([true, '100% fastly (secondary): primary health check hc-cf failing (0/8 checkers healthy)']);
    expect(plan.warnings.join('\n')).toContain('cloudfront is failing its health check on its own');
    // inverted earlier while healthy, failing now: inverted + failing counts as healthy, so the fix is to un-invert it
    const masked = planCdnChange(failover([health('hc-cf', { healthy: false, checkersHealthy: 0, inverted: true }), health('hc-fa')]), { action: 'failover', to: 'secondary', now });
    expect(masked.healthCheckUpdates.map((u) => [u.healthCheckId, u.inverted])).toEqual([['hc-fa', false], ['hc-cf', false]]);
    expect(masked.trafficAfter).toBe('100% fastly (secondary): primary health check hc-cf failing (0/8 checkers healthy)');
  });

  it('latency: every check the move rests on is written at its read version, restores before drains', () => {
    const latency = state('latency', [set('cloudfront', { Region: 'us-east-1', HealthCheckId: 'hc-cf' }), set('fastly', { Region: 'eu-west-1', HealthCheckId: 'hc-fa' })], [health('hc-cf'), health('hc-fa')]);
    const plan = planCdnChange(latency, { action: 'failover', to: 'secondary', now });
    expect(plan.healthCheckUpdates.map((u) => [u.healthCheckId, u.inverted, u.guard ?? false])).toEqual([['hc-fa', false, true], ['hc-cf', true, false]]);
    const back = planCdnChange(latency, { action: 'failover', to: 'primary', now });
    expect(back.healthCheckUpdates.map((u) => [u.healthCheckId, u.inverted, u.guard ?? false])).toEqual([['hc-cf', false, true], ['hc-fa', true, false]]);
  });

  it('failback un-inverts; a primary without a health check cannot be forced', () => {
    const s = failover([health('hc-cf', { inverted: true }), health('hc-fa')]);
    expect(groupTraffic(s).summary).toBe('100% fastly (secondary): primary health check hc-cf inverted (forced failover)');
    // failover again is a no-op (it used to toggle back to the primary)
    const again = planCdnChange(s, { action: 'failover', to: destinationFor('failover', undefined), now });
    expect([again.noop, again.destination]).toEqual([true, 'fastly']);
    expect(planCdnChange(s, { action: 'failback', to: 'primary', now }).healthCheckUpdates).toEqual([
      { healthCheckId: 'hc-fa', side: 'secondary', version: 3, inverted: false, wasInverted: false, guard: true },
      { healthCheckId: 'hc-cf', side: 'primary', version: 3, inverted: false, wasInverted: true },
    ]);
    const bare = state('failover', [set('cloudfront', { Failover: 'PRIMARY' }), set('fastly', { Failover: 'SECONDARY' })]);
    expect(() => planCdnChange(bare, { action: 'failover', to: 'secondary', now })).toThrow(/have no health check/);
  });
});

describe('traffic', () => {
  it('weighted: unhealthy sets are skipped; all unhealthy means all answer', () => {
    const s = state('weighted', [set('cloudfront', { Weight: 90, HealthCheckId: 'hc-cf' }), set('fastly', { Weight: 10, HealthCheckId: 'hc-fa' })], [health('hc-cf', { healthy: false, checkersHealthy: 1 }), health('hc-fa')]);
    expect(groupTraffic(s).summary).toBe('100% fastly (cloudfront skipped: health check hc-cf failing (1/8 checkers healthy))');
    s.health['hc-fa'] = health('hc-fa', { healthy: false, checkersHealthy: 0 });
    expect(groupTraffic(s).summary).toBe('90/10 cloudfront/fastly (every record unhealthy: Route 53 answers with all of them)');
  });

  it('a disabled check counts as healthy; latency routing serves from every healthy region', () => {
    const s = state('latency', [set('cloudfront', { Region: 'us-east-1', HealthCheckId: 'hc-cf' }), set('fastly', { Region: 'eu-west-1', HealthCheckId: 'hc-fa' })], [health('hc-cf', { healthy: false, disabled: true }), health('hc-fa')]);
    expect(groupTraffic(s).summary).toBe('by latency: cloudfront (us-east-1) and fastly (eu-west-1)');
    s.health['hc-fa'] = health('hc-fa', { inverted: true });
    expect(groupTraffic(s).summary).toBe('100% cloudfront: fastly health check hc-fa inverted (forced failover)');
  });
});

describe('last health change', () => {
  it('is the newest point whose verdict differs from the one before it', () => {
    const t = (m: number) => Date.UTC(2026, 10, 27, 9, m);
    expect(lastChange([{ t: t(1), v: 1 }, { t: t(2), v: 1 }, { t: t(3), v: 0 }, { t: t(4), v: 0 }])).toBe(new Date(t(3)).toISOString());
    expect(lastChange([{ t: t(4), v: 1 }, { t: t(1), v: 0 }])).toBe(new Date(t(4)).toISOString());
    expect(lastChange([{ t: t(1), v: 1 }, { t: t(2), v: 1 }])).toBeNull();
    expect(lastChange([])).toBeNull();
  });
});
