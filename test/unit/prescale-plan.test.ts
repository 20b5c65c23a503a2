import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/lib/config/load.js';
import type { Campaign } from '../../src/lib/config/schema.js';
import { planPrescale, type PrescaleInputs } from '../../src/lib/prescale/plan.js';
import { wayDownOrder } from '../../src/lib/prescale/execute.js';
import { planRestore } from '../../src/lib/prescale/restore.js';
import { actionName, resolveTargets, sizeConcurrency } from '../../src/lib/prescale/targets.js';
import { campaignWindow } from '../../src/lib/prescale/window.js';
import { firesAt } from '../support/schedule-timeline.js';

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
      readyBy: { utc: '2027-03-02T13:40:00Z', local: '2027-03-02T08:40:00', localOffset: '2027-03-02T08:40:00-05:00' },
      sendAt: { utc: '2027-03-02T14:00:00Z', local: '2027-03-02T09:00:00', localOffset: '2027-03-02T09:00:00-05:00' },
      endsAt: { utc: '2027-03-02T17:00:00Z', local: '2027-03-02T12:00:00', localOffset: '2027-03-02T12:00:00-05:00' },
    });
  });

  it('is exact across a daylight-saving change (clocks go forward at 02:00 on 2027-03-14 in New York)', () => {
    const w = campaignWindow({ sendAt: '2027-03-14T01:30:00', timezone: 'America/New_York', leadTime: 20 * 60_000, duration: 3 * 3_600_000 });
    expect(w.sendAt).toMatchObject({ utc: '2027-03-14T06:30:00Z', local: '2027-03-14T01:30:00' });
    // three real hours later it is 05:30 local, not 04:30
    expect(w.endsAt).toMatchObject({ utc: '2027-03-14T09:30:00Z', local: '2027-03-14T05:30:00', localOffset: '2027-03-14T05:30:00-04:00' });
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
    // (written in UTC: a local time can happen twice the night clocks go back; the local time is kept for people)
    expect(byKey['storefront-web']!.drain).toEqual({ name: 'retailctl-spring-storefront-web-drain', schedule: 'at(2027-03-02T17:00:00)', timezone: 'UTC', utc: '2027-03-02T17:00:00Z', local: '2027-03-02T12:00:00-05:00', min: 4, max: 4, changed: true });
    expect(byKey['storefront-web']!.down).toEqual({ name: 'retailctl-spring-storefront-web-down', schedule: 'at(2027-03-02T17:02:00)', timezone: 'UTC', utc: '2027-03-02T17:02:00Z', local: '2027-03-02T12:02:00-05:00', min: 4, max: 20, changed: true });
    // a target-tracking policy brings it down by itself once the minimum is lowered
    expect(byKey['Carts-read']!.drain).toBeUndefined();
    expect(byKey['Carts-read']!.down).toMatchObject({ schedule: 'at(2027-03-02T17:00:00)', min: 100, max: 4000 });
    expect(byKey['pricing-api-live']).toMatchObject({ baselineSource: 'unregistered', baseline: { min: 0, max: 0 }, planned: { min: 141, max: 141 } });
    expect(byKey['Carts-read']).toMatchObject({ planned: { min: 2000, max: 4000 }, raisesMax: false });
  });

  it('counts provisioned concurrency held on other functions and scheduled there by other campaigns during the window', () => {
    const one = campaign(`sendAt: "2027-03-02T09:00:00"
timezone: America/New_York
leadTime: 20m
duration: 3h
targets:
  - lambda: checkout-api:live
    provisioned: 800`);
    const input = (over: Partial<PrescaleInputs>): PrescaleInputs => ({ ...base({ campaign: one, mode: 'schedule', now: new Date('2027-03-01T12:00:00Z'), account: { limit: 1000, unreserved: 1000 } }), ...over });
    expect(planPrescale(input({})).refusals).toEqual([]);
    const scheduled = [{ target: 'pricing-api:live', campaign: 'p', up: { name: 'retailctl-p-pricing-api-live-up', schedule: 'at(2027-03-02T13:40:00)', timezone: 'UTC', utc: '2027-03-02T13:40:00Z', min: 800, max: 800 }, down: { name: 'retailctl-p-pricing-api-live-down', schedule: 'at(2027-03-02T17:02:00)', timezone: 'UTC', utc: '2027-03-02T17:02:00Z', min: 0, max: 500 } }];
    expect(planPrescale(input({ lambdaScheduled: scheduled })).refusals).toEqual([
      "not enough Lambda concurrency: the plan needs 800 provisioned concurrency at its peak and 800 on other functions (allocated now or scheduled by other campaigns during this window: pricing-api:live 800), leaving -600 of the account's 1000 unreserved (limit 1000); AWS keeps at least 100 unreserved. Ask AWS for a higher concurrency limit or lower the campaign's targets by 700",
    ]);
    expect(planPrescale(input({ lambdaElsewhere: [{ target: 'search-api:live', requested: 150 }] })).refusals[0]).toContain('leaving 50 of');
    // another campaign's window apart from this one does not count
    const apart = [{ ...scheduled[0]!, up: { ...scheduled[0]!.up, utc: '2027-03-03T13:40:00Z' }, down: { ...scheduled[0]!.down, utc: '2027-03-03T17:02:00Z' } }];
    expect(planPrescale(input({ lambdaScheduled: apart })).refusals).toEqual([]);
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
    expect(t.up).toEqual({ name: 'retailctl-spring-checkout-api-live-up', schedule: 'at(2027-03-02T13:40:00)', timezone: 'UTC', utc: '2027-03-02T13:40:00Z', local: '2027-03-02T08:40:00-05:00', min: 300, max: 500, changed: true });
    expect(t.drain).toMatchObject({ schedule: 'at(2027-03-02T17:00:00)', min: 0, max: 0 });
    expect(t.down.schedule).toBe('at(2027-03-02T17:02:00)');
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
      "not enough Lambda concurrency: the plan needs 441 provisioned concurrency at its peak, leaving 59 of the account's 500 unreserved (limit 1000); AWS keeps at least 100 unreserved. Ask AWS for a higher concurrency limit or lower the campaign's targets by 41",
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

describe('scheduled action times across daylight-saving changes', () => {
  const ecsOnly = (sendAt: string, timezone: string, leadTime = '20m', duration = '1h59m') =>
    campaign(`sendAt: "${sendAt}"\ntimezone: ${timezone}\nleadTime: ${leadTime}\nduration: ${duration}\ntargets:\n  - ecs: storefront/web\n    min: 40`);
  const observations = { 'service/storefront/web|ecs:service:DesiredCount': { registered: { min: 4, max: 20 } } };
  const plan = (c: Campaign) => planPrescale({ campaignName: 'dst', campaign: c, mode: 'schedule', now: new Date('2027-01-01T00:00:00Z'), observations, lambdas: {}, region: 'us-east-1' });

  // each window ends just before the clocks change and its down action (2 minutes later) falls just after
  it.each([
    ['New York, clocks forward 2027-03-14', '2027-03-14T00:00:00', 'America/New_York', ['2027-03-14T04:40:00Z', '2027-03-14T06:59:00Z', '2027-03-14T07:01:00Z']],
    ['New York, clocks back 2027-11-07', '2027-11-07T00:00:00', 'America/New_York', ['2027-11-07T03:40:00Z', '2027-11-07T05:59:00Z', '2027-11-07T06:01:00Z']],
    ['London, clocks forward 2027-03-28', '2027-03-28T00:00:00', 'Europe/London', ['2027-03-27T23:40:00Z', '2027-03-28T01:59:00Z', '2027-03-28T02:01:00Z']],
    ['London, clocks back 2027-10-31', '2027-10-31T00:00:00', 'Europe/London', ['2027-10-30T22:40:00Z', '2027-10-31T00:59:00Z', '2027-10-31T01:01:00Z']],
  ])('%s: up → drain → down are written in UTC, each meaning one instant, strictly in that order', (_, sendAt, timezone, expected) => {
    const t = plan(ecsOnly(sendAt, timezone)).targets[0]!;
    const actions = [t.up!, t.drain!, t.down];
    for (const a of actions) {
      expect(a.timezone).toBe('UTC');
      expect(firesAt(a.schedule, a.timezone)).toEqual([a.utc]);
    }
    expect(actions.map((a) => a.utc)).toEqual(expected);
    expect(Date.parse(t.down.utc) - Date.parse(t.drain!.utc)).toBe(2 * 60_000);
  });

  it('the plan keeps the local time, with its offset, for people: 01:59 EDT then 01:01 EST on 2027-11-07', () => {
    const t = plan(ecsOnly('2027-11-07T00:00:00', 'America/New_York')).targets[0]!;
    expect([t.drain!.local, t.down.local]).toEqual(['2027-11-07T01:59:00-04:00', '2027-11-07T01:01:00-05:00']);
  });

  it('a sendAt that happens twice (01:30 on 2027-11-07 in New York) uses the first and says so', () => {
    const p = plan(ecsOnly('2027-11-07T01:30:00', 'America/New_York', '20m', '1h'));
    expect(p.window.sendAt.utc).toBe('2027-11-07T05:30:00Z');
    expect(p.warnings).toContain('sendAt 2027-11-07T01:30:00 happens twice in America/New_York (clocks go back that night): the first, 2027-11-07T01:30:00-04:00 (2027-11-07T05:30:00Z), is used, not 2027-11-07T01:30:00-05:00');
  });
});

describe('timings the clock rules out', () => {
  const c = campaign(`sendAt: "2027-03-02T09:00:00"\ntimezone: America/New_York\nleadTime: 20m\nduration: 3h\ntargets:\n  - ecs: storefront/web\n    min: 40`);
  const observations = { 'service/storefront/web|ecs:service:DesiredCount': { registered: { min: 4, max: 20 } } };
  const at = (now: string, mode: 'now' | 'schedule') => planPrescale({ campaignName: 'spring', campaign: c, mode, now: new Date(now), observations, lambdas: {}, region: 'us-east-1' });

  it('--schedule with the scale-up time in the past (or under a minute away) is a config problem naming leadTime, not an action that never fires', () => {
    const late = at('2027-03-02T13:50:00Z', 'schedule');
    expect(late.configProblems).toEqual([
      {
        path: ['campaigns', 'spring', 'leadTime'],
        fallbackPath: ['campaigns', 'spring', 'sendAt'],
        message: 'the scale-up time 2027-03-02 08:40 America/New_York (2027-03-02T13:40:00Z, sendAt − leadTime) has passed: a scheduled action for it would never fire. The window has started: run without --schedule to raise capacity now',
      },
    ]);
    expect(at('2027-03-02T13:39:30Z', 'schedule').configProblems[0]?.message).toContain('is less than a minute away');
    expect(at('2027-03-02T13:38:00Z', 'schedule').configProblems).toEqual([]);
  });

  it('a campaign whose window has started runs in raise-now mode, and the plan says so', () => {
    const started = at('2027-03-02T15:00:00Z', 'now');
    expect(started.configProblems).toEqual([]);
    expect(started.refusals).toEqual([]);
    expect(started.notes).toEqual(['the window started at 2027-03-02 08:40 America/New_York (2027-03-02T13:40:00Z): capacity is raised now, and only raise-now is possible']);
  });
});

describe('campaigns that share a target', () => {
  // morning 09:00 New York (ready 13:40Z, ends 17:00Z) and late 11:00 (ready 15:40Z, ends 19:00Z), the same day
  const CONFIG = parseConfigText(
    `campaigns:
  morning:
    sendAt: "2027-11-26T09:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 40
      - lambda: checkout-api:live
        provisioned: 300
  late:
    sendAt: "2027-11-26T11:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 60
      - lambda: checkout-api:live
        provisioned: 100
  nextday:
    sendAt: "2027-11-27T11:00:00"
    timezone: America/New_York
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 60
`,
    'r.yaml',
  ).campaigns!;
  const ECS = 'service/storefront/web|ecs:service:DesiredCount';
  const LAMBDA = 'function:checkout-api:live|lambda:function:ProvisionedConcurrency';
  const at = (name: string, utc: string, min: number, max: number) => ({ name, schedule: `at(${utc.slice(0, 19)})`, timezone: 'UTC', utc, min, max });
  /** A campaign's actions as `prescale --schedule` leaves them on a target alone. */
  const alone = (campaign: string, key: string, up: [string, number, number] | undefined, end: string, baseline: { min: number; max: number }) => ({
    campaign,
    ...(up ? { up: at(`retailctl-${campaign}-${key}-up`, ...up) } : {}),
    drain: at(`retailctl-${campaign}-${key}-drain`, end, baseline.min, baseline.min),
    down: at(`retailctl-${campaign}-${key}-down`, new Date(Date.parse(end) + 120_000).toISOString().replace('.000', ''), baseline.min, baseline.max),
  });
  const lambdas = { 'checkout-api:live': { exists: true, memoryMb: 1024, architecture: 'x86_64' as const, provisioned: 0 } };
  const plan = (name: string, observations: PrescaleInputs['observations'], over: Partial<PrescaleInputs> = {}) =>
    planPrescale({ campaignName: name, campaign: CONFIG[name]!, mode: 'schedule', now: new Date('2027-11-25T12:00:00Z'), observations, lambdas, account: { limit: 1000, unreserved: 1000 }, region: 'us-east-1', campaigns: CONFIG, ...over });
  const byKey = (p: ReturnType<typeof plan>) => Object.fromEntries(p.targets.map((t) => [t.ref.key, t]));

  it('the later campaign holds the larger minimum while both are live, and the earlier one\'s way down moves after the last window', () => {
    const p = plan('late', {
      [ECS]: { registered: { min: 4, max: 20 }, others: [alone('morning', 'storefront-web', ['2027-11-26T13:40:00Z', 40, 40], '2027-11-26T17:00:00Z', { min: 4, max: 20 })] },
      [LAMBDA]: { registered: { min: 0, max: 500 }, others: [alone('morning', 'checkout-api-live', ['2027-11-26T13:40:00Z', 300, 500], '2027-11-26T17:00:00Z', { min: 0, max: 500 })] },
    });
    const { 'storefront-web': ecs, 'checkout-api-live': fn } = byKey(p);
    expect(ecs).toMatchObject({ own: { min: 60 }, planned: { min: 60, max: 60 }, baseline: { min: 4, max: 20 }, baselineCampaign: 'morning' });
    expect([ecs!.up!.utc, ecs!.drain!.utc, ecs!.down.utc]).toEqual(['2027-11-26T15:40:00Z', '2027-11-26T19:00:00Z', '2027-11-26T19:02:00Z']);
    // morning's drain at 17:00Z would cap late at 4 tasks two hours into its window: it moves to 19:00Z
    expect(ecs!.otherUpdates.map((u) => [u.name, u.utc, u.min, u.max])).toEqual([
      ['retailctl-morning-storefront-web-drain', '2027-11-26T19:00:00Z', 4, 4],
      ['retailctl-morning-storefront-web-down', '2027-11-26T19:02:00Z', 4, 20],
    ]);
    expect(ecs!.shared).toEqual([expect.objectContaining({ campaign: 'morning', min: 40, together: true, source: 'config', start: expect.objectContaining({ utc: '2027-11-26T13:40:00Z' }), end: expect.objectContaining({ utc: '2027-11-26T17:00:00Z' }) })]);
    // late alone needs 100 but morning (300) is still live at 15:40Z: late's scale-up keeps 300
    expect(fn).toMatchObject({ own: { min: 100 }, planned: { min: 300, max: 500 } });
    expect(fn!.otherUpdates.map((u) => [u.direction, u.utc])).toEqual([['drain', '2027-11-26T19:00:00Z'], ['down', '2027-11-26T19:02:00Z']]);
  });

  it('planned the other way round, the earlier campaign raises the later one\'s scale-up and comes down after it', () => {
    const p = plan('morning', {
      [ECS]: { registered: { min: 4, max: 20 }, others: [alone('late', 'storefront-web', ['2027-11-26T15:40:00Z', 60, 60], '2027-11-26T19:00:00Z', { min: 4, max: 20 })] },
      [LAMBDA]: { registered: { min: 0, max: 500 }, others: [alone('late', 'checkout-api-live', ['2027-11-26T15:40:00Z', 100, 500], '2027-11-26T19:00:00Z', { min: 0, max: 500 })] },
    });
    const { 'storefront-web': ecs, 'checkout-api-live': fn } = byKey(p);
    expect([ecs!.up!.min, ecs!.drain!.utc, ecs!.down.utc]).toEqual([40, '2027-11-26T19:00:00Z', '2027-11-26T19:02:00Z']);
    expect(ecs!.otherUpdates).toEqual([]);
    expect(fn!.otherUpdates.map((u) => [u.name, u.utc, u.min, u.max])).toEqual([['retailctl-late-checkout-api-live-up', '2027-11-26T15:40:00Z', 300, 500]]);
  });

  it('a campaign raised now records the baseline in its down action: the next one restores that, not the raised values', () => {
    const p = plan('late', {
      [ECS]: { registered: { min: 40, max: 40 }, others: [{ campaign: 'morning', down: at('retailctl-morning-storefront-web-down', '2027-11-26T17:02:00Z', 4, 20), drain: at('retailctl-morning-storefront-web-drain', '2027-11-26T17:00:00Z', 4, 4) }] },
      [LAMBDA]: { registered: { min: 0, max: 500 } },
    }, { now: new Date('2027-11-26T14:30:00Z') });
    expect(byKey(p)['storefront-web']).toMatchObject({ baseline: { min: 4, max: 20 }, baselineSource: 'down-action', drain: { min: 4, max: 4, utc: '2027-11-26T19:00:00Z' }, down: { min: 4, max: 20, utc: '2027-11-26T19:02:00Z' } });
  });

  it('another campaign not in this config is taken at what its actions say', () => {
    const p = plan('late', {
      [ECS]: { registered: { min: 4, max: 20 }, others: [alone('elsewhere', 'storefront-web', ['2027-11-26T15:00:00Z', 80, 80], '2027-11-26T16:00:00Z', { min: 4, max: 20 })] },
      [LAMBDA]: { registered: { min: 0, max: 500 } },
    });
    const ecs = byKey(p)['storefront-web']!;
    expect(ecs).toMatchObject({ planned: { min: 80, max: 80 } });
    expect(ecs.shared[0]).toMatchObject({ campaign: 'elsewhere', source: 'scheduled-actions', min: 80, together: true });
    expect(ecs.otherUpdates.map((u) => [u.direction, u.utc])).toEqual([['drain', '2027-11-26T19:00:00Z'], ['down', '2027-11-26T19:02:00Z']]);
  });

  it("with a scaling policy, another campaign's drain is deleted, never moved to the down's instant", () => {
    const p = plan('late', {
      [ECS]: { registered: { min: 4, max: 20 }, hasPolicy: true, others: [alone('morning', 'storefront-web', ['2027-11-26T13:40:00Z', 40, 40], '2027-11-26T17:00:00Z', { min: 4, max: 20 })] },
      [LAMBDA]: { registered: { min: 0, max: 500 } },
    });
    const ecs = byKey(p)['storefront-web']!;
    expect(ecs.drain).toBeUndefined();
    expect(ecs.otherUpdates.map((u) => [u.direction, u.utc])).toEqual([['down', '2027-11-26T19:00:00Z']]);
    expect(ecs.deletes.map((d) => [d.name, d.self])).toEqual([['retailctl-morning-storefront-web-drain', false]]);
    // no drain anywhere at or after a down
    expect(ecs.otherUpdates.some((u) => u.direction === 'drain' && u.utc === ecs.down.utc)).toBe(false);
  });

  it('campaigns whose windows are apart stay independent', () => {
    const p = plan('nextday', { [ECS]: { registered: { min: 4, max: 20 }, others: [alone('late', 'storefront-web', ['2027-11-26T15:40:00Z', 60, 60], '2027-11-26T19:00:00Z', { min: 4, max: 20 })] } });
    const ecs = p.targets[0]!;
    expect(ecs.otherUpdates).toEqual([]);
    expect(ecs.shared).toEqual([expect.objectContaining({ campaign: 'late', together: false })]);
    expect([ecs.up!.utc, ecs.up!.min, ecs.drain!.utc]).toEqual(['2027-11-27T15:45:00Z', 60, '2027-11-27T19:00:00Z']);
  });

  it('a way down is written in an order that never leaves a drain with no down after it, should the run die in between', () => {
    const a = (utc: string, previousUtc?: string) => ({ utc, ...(previousUtc ? { previousUtc } : {}) });
    // moving later (or new): the down first — a drain moved later with the old down still earlier would cap the maximum for good
    expect(wayDownOrder(a('2027-11-26T19:00:00Z', '2027-11-26T17:00:00Z'), a('2027-11-26T19:02:00Z', '2027-11-26T17:02:00Z')).map((x) => x.utc)).toEqual(['2027-11-26T19:02:00Z', '2027-11-26T19:00:00Z']);
    expect(wayDownOrder(a('2027-11-26T19:00:00Z'), a('2027-11-26T19:02:00Z')).map((x) => x.utc)).toEqual(['2027-11-26T19:02:00Z', '2027-11-26T19:00:00Z']);
    // moving earlier: the drain first, for the same reason
    expect(wayDownOrder(a('2027-11-26T17:00:00Z', '2027-11-26T19:00:00Z'), a('2027-11-26T17:02:00Z', '2027-11-26T19:02:00Z')).map((x) => x.utc)).toEqual(['2027-11-26T17:00:00Z', '2027-11-26T17:02:00Z']);
  });

  describe('restore of one campaign while another is live', () => {
    const NOW = new Date('2027-11-26T16:30:00Z'); // both windows are live
    // both scheduled, planned together: every way down at 19:00Z / 19:02Z
    const merged = (campaign: string, key: string, up: [string, number, number], baseline: { min: number; max: number }) => alone(campaign, key, up, '2027-11-26T19:00:00Z', baseline);
    const observations = (self: 'morning' | 'late') => {
      const ecs = { morning: merged('morning', 'storefront-web', ['2027-11-26T13:40:00Z', 40, 40], { min: 4, max: 20 }), late: merged('late', 'storefront-web', ['2027-11-26T15:40:00Z', 60, 60], { min: 4, max: 20 }) };
      const fn = { morning: merged('morning', 'checkout-api-live', ['2027-11-26T13:40:00Z', 300, 500], { min: 0, max: 500 }), late: merged('late', 'checkout-api-live', ['2027-11-26T15:40:00Z', 300, 500], { min: 0, max: 500 }) };
      const other = self === 'morning' ? 'late' : 'morning';
      const own = (x: { campaign: string }) => {
        const { campaign: _, ...actions } = x;
        return actions;
      };
      return {
        [ECS]: { registered: { min: 60, max: 60 }, current: 60, actions: own(ecs[self]), downAction: { min: 4, max: 20 }, others: [ecs[other]] },
        [LAMBDA]: { registered: { min: 300, max: 500 }, current: 300, actions: own(fn[self]), downAction: { min: 0, max: 500 }, others: [fn[other]] },
      };
    };

    it('restoring the earlier campaign lowers only to what the later one needs, not to the baseline', () => {
      const steps = planRestore({ campaignName: 'morning', campaign: CONFIG.morning!, now: NOW, observations: observations('morning'), campaigns: CONFIG });
      const [ecs, fn] = steps;
      expect(ecs).toMatchObject({ to: { min: 60, max: 60 }, baseline: { min: 4, max: 20 }, drainFirst: false, keptFor: [expect.objectContaining({ campaign: 'late', min: 60 })] });
      expect(fn).toMatchObject({ to: { min: 100, max: 500 }, drainFirst: true, keptFor: [expect.objectContaining({ campaign: 'late', min: 100 })] });
      expect(fn!.deletes).toEqual(['retailctl-morning-checkout-api-live-up', 'retailctl-morning-checkout-api-live-drain', 'retailctl-morning-checkout-api-live-down']);
      // late's own scale-up had morning's 300 merged in; it has fired, so only its way down matters and that is already at its end
      expect(fn!.otherUpdates).toEqual([]);
    });

    it('restoring the later campaign keeps the earlier one\'s capacity and moves its way down back to its own end', () => {
      const [ecs, fn] = planRestore({ campaignName: 'late', campaign: CONFIG.late!, now: NOW, observations: observations('late'), campaigns: CONFIG });
      expect(ecs).toMatchObject({ to: { min: 40, max: 40 }, drainFirst: true, keptFor: [expect.objectContaining({ campaign: 'morning', min: 40 })] });
      expect(ecs!.otherUpdates.map((u) => [u.name, u.utc])).toEqual([
        ['retailctl-morning-storefront-web-drain', '2027-11-26T17:00:00Z'],
        ['retailctl-morning-storefront-web-down', '2027-11-26T17:02:00Z'],
      ]);
      expect(fn).toMatchObject({ to: { min: 300, max: 500 }, drainFirst: false });
    });

    it('after the window: a target its way down already brought back is left alone; one still above the recorded baseline (registered, or capacity without a policy) is put back, as status --check asks', () => {
      const after = new Date('2027-11-26T21:00:00Z');
      const obs = observations('morning');
      for (const o of Object.values(obs)) o.others = [];
      // morning's up set the Lambda alias to 300/500 and ECS to 40/40; its down recorded 0/500 and 4/20
      obs[LAMBDA]!.registered = { min: 0, max: 500 };
      obs[LAMBDA]!.current = 0;
      obs[ECS]!.registered = { min: 40, max: 40 };
      obs[ECS]!.current = 40;
      const [ecs, fn] = planRestore({ campaignName: 'morning', campaign: CONFIG.morning!, now: after, observations: obs, campaigns: CONFIG });
      expect(fn).toMatchObject({ finished: 'fired' });
      expect(fn!.to).toBeUndefined();
      expect(fn!.deletes).toHaveLength(3);
      expect(ecs).toMatchObject({ finished: 'missed', to: { min: 4, max: 20 }, drainFirst: true });
      // partly down (8/40): still above, put back
      obs[ECS]!.registered = { min: 8, max: 40 };
      expect(planRestore({ campaignName: 'morning', campaign: CONFIG.morning!, now: after, observations: obs, campaigns: CONFIG })[0]).toMatchObject({ finished: 'missed', to: { min: 4, max: 20 } });
      // registered back at 4/20 but 40 tasks still running (no policy, the drain did not take effect): drained back
      obs[ECS]!.registered = { min: 4, max: 20 };
      expect(planRestore({ campaignName: 'morning', campaign: CONFIG.morning!, now: after, observations: obs, campaigns: CONFIG })[0]).toMatchObject({ finished: 'missed', to: { min: 4, max: 20 }, drainFirst: true });
      // at the baseline, capacity down: left alone, only the actions deleted
      obs[ECS]!.current = 4;
      const [done] = planRestore({ campaignName: 'morning', campaign: CONFIG.morning!, now: after, observations: obs, campaigns: CONFIG });
      expect(done).toMatchObject({ finished: 'fired' });
      expect(done!.to).toBeUndefined();
    });

    it('with no other campaign live it goes back to the baseline, as before', () => {
      const obs = observations('morning');
      for (const o of Object.values(obs)) o.others = [];
      const [ecs] = planRestore({ campaignName: 'morning', campaign: CONFIG.morning!, now: NOW, observations: obs, campaigns: CONFIG });
      expect(ecs).toMatchObject({ to: { min: 4, max: 20 }, keptFor: [], drainFirst: true });
    });
  });
});
