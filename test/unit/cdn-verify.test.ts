/**
 * The pure parts of DNS verification and of `cdn drill`: which answers count as the destination,
 * how an answer is matched, the flag/config settings, and the drill's exact rollback plan.
 */
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { drillWeights, planRollback } from '../../src/lib/cdn/drill.js';
import type { GroupState, HealthState } from '../../src/lib/cdn/model.js';
import { planCdnChange } from '../../src/lib/cdn/plan.js';
import type { AwsClients } from '../../src/lib/aws/context.js';
import { answerMatches, drawsNeeded, expectedForPlan, expectedForState, unswitched, verifyAnswers, verifySettings, type ExpectedAnswer } from '../../src/lib/cdn/verify.js';

const now = new Date('2026-11-27T09:00:00Z');

function set(id: string, extra: Partial<ResourceRecordSet>): ResourceRecordSet {
  return { Name: 'www.shop.example.com.', Type: 'CNAME', SetIdentifier: id, TTL: 60, ResourceRecords: [{ Value: `${id}.example.net.` }], ...extra };
}

function health(id: string, extra: Partial<HealthState> = {}): HealthState {
  return { healthCheckId: id, healthy: true, checkersHealthy: 8, checkersTotal: 8, inverted: false, disabled: false, version: 3, ...extra };
}

function state(routing: 'weighted' | 'failover', sets: ResourceRecordSet[], healthChecks: HealthState[] = []): GroupState {
  return {
    group: 'storefront',
    config: { zoneId: 'Z1', record: 'www.shop.example.com', type: 'CNAME', routing, primary: { setIdentifier: 'cloudfront' }, secondary: { setIdentifier: 'fastly' } },
    records: [{ name: 'www.shop.example.com', type: 'CNAME', sets }],
    health: Object.fromEntries(healthChecks.map((h) => [h.healthCheckId, h])),
    distributions: {},
    readAt: now.toISOString(),
  };
}

const weighted = (cf: number, fa: number) => state('weighted', [set('cloudfront', { Weight: cf, HealthCheckId: 'hc-cf' }), set('fastly', { Weight: fa, HealthCheckId: 'hc-fa' })], [health('hc-cf'), health('hc-fa')]);
const failover = () => state('failover', [set('cloudfront', { Failover: 'PRIMARY', HealthCheckId: 'hc-cf' }), set('fastly', { Failover: 'SECONDARY', HealthCheckId: 'hc-fa' })], [health('hc-cf'), health('hc-fa')]);

describe('expected answers', () => {
  it('a full weighted move expects the destination only; at a split Route 53 must answer with the side that newly got weight, resolvers with either', () => {
    const full = planCdnChange(weighted(100, 0), { action: 'failover', to: 'secondary', now });
    expect(expectedForPlan(full)[0]!.accept.map((a) => [a.setIdentifier, a.values])).toEqual([['fastly', ['fastly.example.net']]]);
    expect(expectedForPlan(full)[0]!.split).toBeUndefined();
    const split = planCdnChange(weighted(100, 0), { action: 'shift', weights: { cloudfront: 90, fastly: 10 }, now });
    const [e] = expectedForPlan(split);
    // the primary answered before the change too: its answer proves nothing
    expect(e!.accept.map((a) => a.setIdentifier)).toEqual(['fastly']);
    expect(e!.split!.map((a) => a.setIdentifier)).toEqual(['cloudfront', 'fastly']);
    expect(e!.share).toBeCloseTo(0.1);
    // both sides served before: no answer tells the new weights from the old, so either counts
    const reweigh = planCdnChange(weighted(50, 50), { action: 'shift', weights: { cloudfront: 70, fastly: 30 }, now });
    expect(expectedForPlan(reweigh)[0]).toMatchObject({ accept: [{ setIdentifier: 'cloudfront' }, { setIdentifier: 'fastly' }] });
    expect(expectedForPlan(reweigh)[0]!.share).toBeUndefined();
  });

  it('failover routing expects the destination side; the state read expects what serves now', () => {
    const plan = planCdnChange(failover(), { action: 'failover', to: 'secondary', now });
    expect(expectedForPlan(plan)[0]!.accept.map((a) => a.setIdentifier)).toEqual(['fastly']);
    expect(expectedForState(failover())[0]!.accept.map((a) => a.setIdentifier)).toEqual(['cloudfront']);
  });

  it('answers are compared without case or trailing dot; an alias may be answered with its target\'s addresses', () => {
    const e = { name: 'www', type: 'A', accept: [{ setIdentifier: 'cf', side: 'primary' as const, values: ['d1.cloudfront.net'], alias: true }] };
    expect(answerMatches(['D1.cloudfront.net.'], e)).toBe(true);
    expect(answerMatches(['151.101.1.57'], e)).toBe(false);
    expect(answerMatches(['13.32.0.1'], e, { 'd1.cloudfront.net': ['13.32.0.1', '13.32.0.2'] })).toBe(true);
    expect(answerMatches([], e)).toBe(false);
  });

  it('a split Route 53 never drew the new side of says how many answers were drawn and how likely that was', () => {
    const check = { record: 'www', type: 'CNAME', via: 'route53', switched: false, answer: ['cloudfront.example.net'], expected: ['fastly: fastly.example.net'], draws: 40 };
    const lines = (shares: Record<string, number>) => unswitched({ changedAt: '', timeoutMs: 10_000, ok: false, checks: [check], shares });
    expect(lines({ 'www CNAME': 0.5 })[0]).toBe('www CNAME via route53: still cloudfront.example.net (expected fastly: fastly.example.net; 40 answers drawn, none from the 50% side, a chance of under 0.1% if Route 53 serves it)');
    expect(lines({ 'www CNAME': 0.01 })[0]).toContain('40 answers drawn, none from the 1.0% side, a chance of 66.9% if Route 53 serves it: raise --verify-timeout for a small weight');
  });

  it('unswitched lines say what was seen and what was expected', () => {
    expect(unswitched({ changedAt: '', timeoutMs: 1000, ok: false, checks: [{ record: 'www', type: 'CNAME', via: '1.1.1.1', switched: false, answer: ['old.example.net'], expected: ['fastly: new.example.net'] }] })).toEqual([
      'www CNAME via 1.1.1.1: still old.example.net (expected fastly: new.example.net)',
    ]);
  });
});

describe('verify settings', () => {
  it('flags override cdn.verify; resolvers may carry a port; bad values are usage errors', () => {
    expect(verifySettings({ resolvers: ['1.1.1.1'], timeout: 60_000, resolverIp: '192.0.2.1' }, { resolvers: '127.0.0.1:5353, 8.8.8.8', ednsSubnet: '198.51.100.0/24' })).toEqual({
      resolvers: ['127.0.0.1:5353', '8.8.8.8'],
      timeoutMs: 60_000,
      resolverIp: '192.0.2.1',
      ednsSubnet: { ip: '198.51.100.0', mask: '24' },
    });
    expect(verifySettings(undefined, {}).timeoutMs).toBe(120_000);
    expect(() => verifySettings(undefined, { resolvers: 'dns.google' })).toThrow(/not an IP address/);
    expect(() => verifySettings(undefined, { ednsSubnet: '198.51.100.0' })).toThrow(/ip\/mask/);
  });
});

describe('cdn drill plans', () => {
  it('weighted: the rollback deletes what the drill creates and creates what it deleted, in one batch', () => {
    const start = weighted(100, 0);
    const forward = planCdnChange(start, { action: 'shift', weights: drillWeights(start.config, 10), now });
    expect(forward.trafficAfter).toBe('90/10 cloudfront/fastly');
    const back = planRollback(forward);
    expect(back.trafficAfter).toBe(forward.trafficBefore);
    const fwd = forward.changeBatch!.Changes;
    expect(back.changeBatch!.Changes).toEqual([
      { Action: 'DELETE', ResourceRecordSet: fwd[1]!.ResourceRecordSet },
      { Action: 'CREATE', ResourceRecordSet: fwd[0]!.ResourceRecordSet },
      { Action: 'DELETE', ResourceRecordSet: fwd[3]!.ResourceRecordSet },
      { Action: 'CREATE', ResourceRecordSet: fwd[2]!.ResourceRecordSet },
    ]);
    expect(back.changeBatch!.Changes.filter((c) => c.Action === 'CREATE').map((c) => c.ResourceRecordSet)).toEqual(start.records[0]!.sets);
  });

  it('failover routing: every check the drill wrote goes back to its flag, at the version the drill left (read + 1), restores first', () => {
    const forward = planCdnChange(failover(), { action: 'failover', to: 'secondary', now });
    expect(forward.healthCheckUpdates.map((u) => [u.healthCheckId, u.inverted, u.version, u.guard ?? false])).toEqual([
      ['hc-fa', false, 3, true],
      ['hc-cf', true, 3, false],
    ]);
    expect(planRollback(forward).healthCheckUpdates.map((u) => [u.healthCheckId, u.inverted, u.wasInverted, u.version, u.guard ?? false])).toEqual([
      ['hc-fa', false, false, 4, true],
      ['hc-cf', false, true, 4, false],
    ]);
  });
});

describe('a weighted split, asked of Route 53', () => {
  const cf = { setIdentifier: 'cloudfront', side: 'primary' as const, values: ['d111.cloudfront.net'], alias: false };
  const fa = { setIdentifier: 'fastly', side: 'secondary' as const, values: ['fastly.example.net'], alias: false };
  /** Route 53 drawing 90/10 in a rotation, primary first. */
  const rotating = () => {
    let n = 0;
    const route53 = { send: async () => ({ RecordData: [n++ % 10 === 9 ? 'fastly.example.net' : 'd111.cloudfront.net'] }) };
    return { client: async () => route53 } as unknown as AwsClients;
  };

  it('an INSYNC wait that took most of --verify-timeout still leaves enough draws to see the 10% side', async () => {
    const expected: ExpectedAnswer[] = [{ name: 'www.shop.example.com', type: 'CNAME', accept: [fa], split: [cf, fa], share: 0.1 }];
    const v = await verifyAnswers({ read: rotating(), zoneId: 'Z1', expected, settings: { resolvers: [], timeoutMs: 120_000 }, changedAt: Date.now() - 118_000 });
    expect(v.ok).toBe(true);
    expect(v.checks[0]).toMatchObject({ switched: true, draws: 10, answer: ['fastly.example.net'] });
  });

  it('draws enough answers for a 99.9% chance of the new side', () => {
    expect(drawsNeeded(0.1)).toBe(66);
    expect(drawsNeeded(0.5)).toBe(10);
    expect(drawsNeeded(1)).toBe(1);
  });

  it('two alias sides (two CloudFront distributions share edge addresses): an address both targets have does not count for the new side', async () => {
    const oldSide = { setIdentifier: 'cf-blue', side: 'primary' as const, values: ['d111.cloudfront.net'], alias: true };
    const newSide = { setIdentifier: 'cf-green', side: 'secondary' as const, values: ['d222.cloudfront.net'], alias: true };
    const e: ExpectedAnswer = { name: 'shop.example.com', type: 'A', accept: [newSide], split: [oldSide, newSide], share: 0.1, reject: [oldSide] };
    const ips = { 'd111.cloudfront.net': ['13.32.1.10', '13.32.1.11'], 'd222.cloudfront.net': ['13.32.1.11', '13.32.1.99'] };
    expect(answerMatches(['13.32.1.10', '13.32.1.11'], e, ips)).toBe(false);
    expect(answerMatches(['13.32.1.99', '13.32.1.11'], e, ips)).toBe(true);
    // without the other side's addresses known, the shared one counted before
    expect(answerMatches(['13.32.1.11'], { ...e, reject: [] }, ips)).toBe(true);
  });

  it('the plan names the other side as the one whose addresses do not count', () => {
    const alias = (id: string, target: string, weight: number) => set(id, { Type: 'A', TTL: undefined, ResourceRecords: undefined, AliasTarget: { DNSName: `${target}.`, HostedZoneId: 'Z2FDTNDATAQYW2', EvaluateTargetHealth: false }, Weight: weight, HealthCheckId: `hc-${id}` });
    const st = state('weighted', [alias('cloudfront', 'd111.cloudfront.net', 100), alias('fastly', 'd222.cloudfront.net', 0)], [health('hc-cloudfront'), health('hc-fastly')]);
    st.config = { ...st.config, type: 'A' };
    st.records[0]!.type = 'A';
    const [e] = expectedForPlan(planCdnChange(st, { action: 'shift', weights: { cloudfront: 90, fastly: 10 }, now }));
    expect(e!.accept.map((a) => a.values)).toEqual([['d222.cloudfront.net']]);
    expect(e!.reject!.map((a) => a.values)).toEqual([['d111.cloudfront.net']]);
  });
});
