import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/lib/config/schema.js';
import { sizeFromPeak, sizingQueries } from '../../src/lib/prescale/sizing.js';
import { resolveTargets } from '../../src/lib/prescale/targets.js';

const campaign = (targets: unknown[]) => ({ campaigns: { fall: { sendAt: '2026-11-27T09:00:00', timezone: 'America/New_York', duration: '3h', targets } } });
const parse = (targets: unknown[]) => configSchema.safeParse(campaign(targets));
const messages = (targets: unknown[]) => {
  const r = parse(targets);
  return r.success ? [] : r.error.issues.map((i) => i.message);
};

describe('sizing from the last campaign', () => {
  it('looks from leadTime before the send (local time, here EST) to the window after it', () => {
    const r = parse([{ lambda: 'checkout-api:live', sizing: { fromSend: '2026-11-03T09:00:00', growth: 1.2 } }, { dynamodb: 'Carts/index/ByCustomer', sizing: { fromSend: '2026-11-03T09:00:00', growth: 2, window: '1h' } }]);
    expect(r.success).toBe(true);
    const queries = sizingQueries(r.data!.campaigns!.fall!);
    expect(queries.map((q) => [q.key, q.namespace, q.metricName, q.stat, q.dimensions, q.startUtc, q.endUtc])).toEqual([
      ['checkout-api-live', 'AWS/Lambda', 'ConcurrentExecutions', 'Maximum', [{ Name: 'FunctionName', Value: 'checkout-api' }, { Name: 'Resource', Value: 'checkout-api:live' }], '2026-11-03T13:45:00Z', '2026-11-03T17:00:00Z'],
      ['Carts-index-ByCustomer-read', 'AWS/DynamoDB', 'ConsumedReadCapacityUnits', 'Sum', [{ Name: 'TableName', Value: 'Carts' }, { Name: 'GlobalSecondaryIndexName', Value: 'ByCustomer' }], '2026-11-03T13:45:00Z', '2026-11-03T15:00:00Z'],
      ['Carts-index-ByCustomer-write', 'AWS/DynamoDB', 'ConsumedWriteCapacityUnits', 'Sum', [{ Name: 'TableName', Value: 'Carts' }, { Name: 'GlobalSecondaryIndexName', Value: 'ByCustomer' }], '2026-11-03T13:45:00Z', '2026-11-03T15:00:00Z'],
    ]);
    expect(sizeFromPeak(queries[0]!, 412)).toEqual({ value: 495, formula: 'ceil(peak 412 concurrent (max of ConcurrentExecutions, 2026-11-03 13:45Z–17:00Z) × 1.2) = 495' });
    expect(sizeFromPeak(queries[1]!, 600)).toEqual({ value: 20, formula: 'ceil(peak 10 units/s (sum of ConsumedReadCapacityUnits per 60 s / 60, 2026-11-03 13:45Z–15:00Z) × 2) = 20' });
    expect(sizeFromPeak(queries[2]!, 0).value).toBe(1);
    // resolveTargets stays pure: the sized values come in from the gather step
    const refs = resolveTargets(r.data!.campaigns!.fall!, { 'checkout-api-live': sizeFromPeak(queries[0]!, 412) });
    expect(refs.map((ref) => [ref.key, ref.desired])).toEqual([['checkout-api-live', 495], ['Carts-index-ByCustomer-read', 0], ['Carts-index-ByCustomer-write', 0]]);
  });

  it('exactly one form of sizing, and not beside the values themselves', () => {
    expect(messages([{ lambda: 'a-fn:live', provisioned: 5, sizing: { fromSend: '2026-11-03T09:00:00', growth: 1.2 } }])).toContain('give exactly one of `provisioned` or `sizing`');
    expect(messages([{ lambda: 'a-fn:live', sizing: { fromSend: '2026-11-03T09:00:00', growth: 1.2, peakRps: 5 } }]).length).toBeGreaterThan(0);
    expect(messages([{ dynamodb: 'Carts', read: 5, sizing: { fromSend: '2026-11-03T09:00:00', growth: 1.2 } }])).toContain('give `sizing` (both `read` and `write` from the last campaign) or `read`/`write`/`warm`, not both');
    expect(messages([{ lambda: 'a-fn:live', sizing: { fromSend: '2026-11-03 09:00', growth: 1.2 } }]).length).toBeGreaterThan(0);
    expect(messages([{ lambda: 'a-fn:live', sizing: { fromSend: '2026-11-03T09:00:00', growth: 1.2, window: 'soon' } }]).length).toBeGreaterThan(0);
  });

  it('an ECS service: the CPU × running tasks of the busiest minute, at targetCpu, at least one task; `min` or `sizing`, not both, and targetCpu is a percentage', () => {
    const r = parse([{ ecs: 'storefront/web', sizing: { fromSend: '2026-11-03T09:00:00', growth: 1.2, targetCpu: 60 } }]);
    expect(r.success).toBe(true);
    const [q] = sizingQueries(r.data!.campaigns!.fall!);
    expect([q!.namespace, q!.metricName, q!.stat, q!.times, q!.dimensions]).toEqual(['AWS/ECS', 'CPUUtilization', 'Average', { namespace: 'ECS/ContainerInsights', metricName: 'RunningTaskCount', stat: 'Average', targetCpu: 60 }, [{ Name: 'ClusterName', Value: 'storefront' }, { Name: 'ServiceName', Value: 'web' }]]);
    expect(sizeFromPeak(q!, 600)).toEqual({ value: 12, formula: 'ceil(peak 600 %·tasks (max per 60 s of CPUUtilization × RunningTaskCount, 2026-11-03 13:45Z–17:00Z) / 60% × 1.2) = 12' });
    expect(sizeFromPeak(q!, 0).value).toBe(1);
    expect(resolveTargets(r.data!.campaigns!.fall!, { 'storefront-web': sizeFromPeak(q!, 600) }).map((ref) => [ref.key, ref.desired])).toEqual([['storefront-web', 12]]);
    expect(messages([{ ecs: 'storefront/web', min: 4, sizing: { fromSend: '2026-11-03T09:00:00', growth: 1.2, targetCpu: 60 } }])).toContain('give exactly one of `min` or `sizing`');
    expect(messages([{ ecs: 'storefront/web' }])).toContain('give exactly one of `min` or `sizing`');
    expect(messages([{ ecs: 'storefront/web', sizing: { fromSend: '2026-11-03T09:00:00', growth: 1.2 } }]).length).toBeGreaterThan(0);
    expect(messages([{ ecs: 'storefront/web', sizing: { fromSend: '2026-11-03T09:00:00', growth: 1.2, targetCpu: 150 } }]).length).toBeGreaterThan(0);
  });
});
