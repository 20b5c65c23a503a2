import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/lib/config/load.js';
import type { Campaign } from '../../src/lib/config/schema.js';
import { planPrescale, type PrescaleInputs } from '../../src/lib/prescale/plan.js';
import { actionName, resolveTargets, sizeConcurrency } from '../../src/lib/prescale/targets.js';
import { campaignWindow } from '../../src/lib/prescale/window.js';

function campaign(yaml: string): Campaign {
  return parseConfigText(`campaigns:\n  spring:\n${yaml.replace(/^/gm, '    ')}`, 'r.yaml').campaigns!.spring!;
}

const SPRING = campaign(`sendAt: "2027-03-02T09:00:00"
timezone: America/New_York
leadTime: 20m
duration: 3h
targets:
  - lambda: checkout-api:live
    provisioned: 300
  - lambda: pricing-api:live
    sizing: { peakRps: 900, avgDurationMs: 120, headroom: 0.3 }
  - ecs: storefront/web
    min: 40
  - dynamodb: Carts
    read: 2000
    write: 800`);

describe('campaign window', () => {
  it('turns local send time into UTC, with lead time and duration', () => {
    expect(campaignWindow(SPRING)).toEqual({
      timezone: 'America/New_York',
      readyBy: { utc: '2027-03-02T13:40:00Z', local: '2027-03-02T08:40:00' },
      sendAt: { utc: '2027-03-02T14:00:00Z', local: '2027-03-02T09:00:00' },
      endsAt: { utc: '2027-03-02T17:00:00Z', local: '2027-03-02T12:00:00' },
    });
  });

  it('is exact across a daylight-saving change (clocks go forward at 02:00 on 2027-03-14 in New York)', () => {
    const w = campaignWindow({ sendAt: '2027-03-14T01:30:00', timezone: 'America/New_York', leadTime: 20 * 60_000, duration: 3 * 3_600_000 });
    expect(w.sendAt).toEqual({ utc: '2027-03-14T06:30:00Z', local: '2027-03-14T01:30:00' });
    // three real hours later it is 05:30 local, not 04:30
    expect(w.endsAt).toEqual({ utc: '2027-03-14T09:30:00Z', local: '2027-03-14T05:30:00' });
  });
});

describe('targets', () => {
  it('maps config targets to Application Auto Scaling resource ids and dimensions', () => {
    expect(resolveTargets(SPRING).map((t) => [t.key, t.namespace, t.resourceId, t.dimension, t.desired])).toEqual([
      ['checkout-api-live', 'lambda', 'function:checkout-api:live', 'lambda:function:ProvisionedConcurrency', 300],
      ['pricing-api-live', 'lambda', 'function:pricing-api:live', 'lambda:function:ProvisionedConcurrency', 141],
      ['storefront-web', 'ecs', 'service/storefront/web', 'ecs:service:DesiredCount', 40],
      ['Carts-read', 'dynamodb', 'table/Carts', 'dynamodb:table:ReadCapacityUnits', 2000],
      ['Carts-write', 'dynamodb', 'table/Carts', 'dynamodb:table:WriteCapacityUnits', 800],
    ]);
    expect(actionName('spring-sale-email', { key: 'checkout-api-live' }, 'down')).toBe('retailctl-spring-sale-email-checkout-api-live-down');
  });

  it('sizes provisioned concurrency with Little\'s law plus headroom, rounded up, and shows the arithmetic', () => {
    expect(sizeConcurrency(900, 120, 0.3)).toEqual({ value: 141, formula: 'ceil(900 req/s × 120 ms / 1000 × (1 + 0.3)) = ceil(140.4) = 141' });
    expect(sizeConcurrency(100, 100, 0).value).toBe(10);
  });
});

describe('planPrescale', () => {
  const base = (over: Partial<PrescaleInputs> = {}): PrescaleInputs => ({
    campaignName: 'spring',
    campaign: SPRING,
    mode: 'now',
    now: new Date('2027-03-02T12:00:00Z'),
    observations: {
      'function:checkout-api:live|lambda:function:ProvisionedConcurrency': { registered: { min: 0, max: 500 } },
      'service/storefront/web|ecs:service:DesiredCount': { registered: { min: 4, max: 20 }, current: 4 },
      'table/Carts|dynamodb:table:ReadCapacityUnits': { registered: { min: 100, max: 4000 }, hasPolicy: true },
      'table/Carts|dynamodb:table:WriteCapacityUnits': { registered: { min: 50, max: 4000 } },
    },
    lambdas: {
      'checkout-api:live': { exists: true, memoryMb: 1024, architecture: 'x86_64', provisioned: 0 },
      'pricing-api:live': { exists: true, memoryMb: 512, architecture: 'arm64', provisioned: 0 },
    },
    account: { limit: 1000, unreserved: 1000 },
    region: 'us-east-1',
    ...over,
  });

  it('raises each target, raising the maximum where needed, and schedules the way back to the recorded baseline', () => {
    const plan = planPrescale(base());
    expect(plan.refusals).toEqual([]);
    const byKey = Object.fromEntries(plan.targets.map((t) => [t.ref.key, t]));
    expect(byKey['storefront-web']).toMatchObject({ baseline: { min: 4, max: 20 }, planned: { min: 40, max: 40 }, raisesMax: true, register: { min: 40, max: 40 } });
    // no scaling policy: lowering the minimum would leave 40 tasks running, so max is capped at the
    // baseline minimum at the end of the window, and the exact baseline restored 2 minutes later
    expect(byKey['storefront-web']!.drain).toEqual({ name: 'retailctl-spring-storefront-web-drain', schedule: 'at(2027-03-02T12:00:00)', timezone: 'America/New_York', utc: '2027-03-02T17:00:00Z', min: 4, max: 4 });
    expect(byKey['storefront-web']!.down).toEqual({ name: 'retailctl-spring-storefront-web-down', schedule: 'at(2027-03-02T12:02:00)', timezone: 'America/New_York', utc: '2027-03-02T17:02:00Z', min: 4, max: 20 });
    // a target-tracking policy brings it down by itself once the minimum is lowered
    expect(byKey['Carts-read']!.drain).toBeUndefined();
    expect(byKey['Carts-read']!.down).toMatchObject({ schedule: 'at(2027-03-02T12:00:00)', min: 100, max: 4000 });
    expect(byKey['pricing-api-live']).toMatchObject({ baselineSource: 'unregistered', baseline: { min: 0, max: 0 }, planned: { min: 141, max: 141 } });
    expect(byKey['Carts-read']).toMatchObject({ planned: { min: 2000, max: 4000 }, raisesMax: false });
  });

  it('a rerun keeps the baseline recorded in the existing down action, not the raised values', () => {
    const observations = { ...base().observations, 'service/storefront/web|ecs:service:DesiredCount': { registered: { min: 40, max: 40 }, downAction: { min: 4, max: 20 } } };
    const plan = planPrescale(base({ observations }));
    expect(plan.targets.find((t) => t.ref.key === 'storefront-web')).toMatchObject({ baselineSource: 'down-action', baseline: { min: 4, max: 20 }, down: { min: 4, max: 20 } });
  });

  it('--schedule plans an up action at sendAt − leadTime and a down action at sendAt + duration', () => {
    const plan = planPrescale(base({ mode: 'schedule', now: new Date('2027-03-01T00:00:00Z') }));
    const t = plan.targets[0]!;
    expect(t.register).toBeUndefined();
    expect(t.up).toEqual({ name: 'retailctl-spring-checkout-api-live-up', schedule: 'at(2027-03-02T08:40:00)', timezone: 'America/New_York', utc: '2027-03-02T13:40:00Z', min: 300, max: 500 });
    expect(t.drain).toMatchObject({ schedule: 'at(2027-03-02T12:00:00)', min: 0, max: 0 });
    expect(t.down.schedule).toBe('at(2027-03-02T12:02:00)');
  });

  it('refuses a campaign whose window has ended, a missing alias, and a plan that leaves under 100 unreserved', () => {
    expect(planPrescale(base({ now: new Date('2027-03-02T17:00:00Z') })).refusals).toEqual([
      'campaign spring ended at 2027-03-02T12:00:00 America/New_York (2027-03-02T17:00:00Z): nothing to prescale',
    ]);
    const lambdas = { ...base().lambdas, 'pricing-api:live': { exists: false, memoryMb: 0, architecture: 'x86_64' as const, provisioned: 0 } };
    expect(planPrescale(base({ lambdas })).refusals).toEqual([
      'lambda pricing-api:live: function pricing-api has no alias or version "live" (provisioned concurrency needs an alias or a published version)',
    ]);
    expect(planPrescale(base({ account: { limit: 1000, unreserved: 500 } })).refusals).toEqual([
      "not enough Lambda concurrency: the plan adds 441 provisioned concurrency, leaving 59 of the account's 500 unreserved (limit 1000); AWS keeps at least 100 unreserved. Ask AWS for a higher concurrency limit or lower the campaign's targets by 41",
    ]);
    const observations = { ...base().observations };
    delete observations['service/storefront/web|ecs:service:DesiredCount'];
    expect(planPrescale(base({ observations })).refusals[0]).toMatch(/^ecs storefront\/web is not registered with Application Auto Scaling/);
  });

  it('estimates the provisioned-concurrency cost of the window and says what price it assumed', () => {
    const plan = planPrescale(base());
    // now 12:00Z to 17:00Z = 18000 s; 1 GB × 300 × 18000 × 0.0000041667 + 0.5 GB × 141 × 18000 × 0.0000033334
    expect(plan.cost.seconds).toBe(18_000);
    expect(plan.cost.usd).toBeCloseTo(22.5 + 4.23, 1);
    expect(plan.cost.lines[0]).toBe('lambda checkout-api:live: 1024 MB × 300 × 18000 s × $0.0000041667/GB-s (x86_64) = $22.50');
    expect(plan.cost.assumption).toContain('us-east-1');
  });
});
