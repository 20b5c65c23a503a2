/**
 * retailctl prescale against moto over the wire. The shim supplies what moto lacks, as AWS
 * documents it: Lambda provisioned concurrency (IN_PROGRESS, then READY), GetAccountSettings, and
 * Application Auto Scaling acting on its targets after RegisterScalableTarget.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, DescribeScheduledActionsCommand, PutScalingPolicyCommand, PutScheduledActionCommand } from '@aws-sdk/client-application-auto-scaling';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetProvisionedConcurrencyConfigCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { firesAt } from '../support/schedule-timeline.js';
import { seedStorefront } from '../support/seed.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const aas = new ApplicationAutoScalingClient(common);
const lambda = new LambdaClient(common);
const dynamodb = new DynamoDBClient(common);
afterAll(() => [aas, lambda, dynamodb].forEach((c) => c.destroy()));

const CAMPAIGNS = `campaigns:
  spring:
    sendAt: "2026-11-27T11:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - lambda: checkout-api:live
        provisioned: 300
      - ecs: storefront/web
        min: 40
      - dynamodb: Carts
        read: 2000
        write: 800
  over:
    sendAt: "2026-01-15T09:00:00"
    timezone: Europe/Berlin
    duration: 2h
    targets:
      - ecs: storefront/web
        min: 10
  typo:
    sendAt: "2026-11-28T09:00:00"
    timezone: Europe/Berlin
    duration: 2h
    targets:
      - lambda: checkout-api:nope
        provisioned: 10
  dst:
    sendAt: "2027-03-14T01:30:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 10
  huge:
    sendAt: "2026-11-28T09:00:00"
    timezone: Europe/Berlin
    duration: 2h
    targets:
      - lambda: pricing-api:live
        provisioned: 950
  started:
    sendAt: "2026-11-27T09:50:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 2h
    targets:
      - dynamodb: Carts
        read: 300
  ny-spring:
    sendAt: "2027-03-14T00:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 1h59m
    targets:
      - dynamodb: Carts
        write: 300
  ny-fall:
    sendAt: "2027-11-07T00:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 1h59m
    targets:
      - dynamodb: Carts
        write: 300
  uk-spring:
    sendAt: "2027-03-28T00:00:00"
    timezone: Europe/London
    leadTime: 20m
    duration: 1h59m
    targets:
      - dynamodb: Carts
        write: 300
  uk-fall:
    sendAt: "2027-10-31T00:00:00"
    timezone: Europe/London
    leadTime: 20m
    duration: 1h59m
    targets:
      - dynamodb: Carts
        write: 300
  legacy:
    sendAt: "2027-03-02T09:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 10
`;

let configFile: string;
const NOW = () => new Date('2026-11-27T15:00:00Z'); // 10:00 in New York, 40 min before ready-by

beforeAll(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-prescale-'));
  configFile = path.join(dir, 'retailctl.yaml');
  await writeFile(configFile, CAMPAIGNS);
});

// every test starts from the seeded storefront and sets up what it needs: none depends on what an
// earlier one left (each passes alone, and in any order)
beforeEach(async () => {
  await control.reset();
  await seedStorefront(endpoint);
  // Carts read capacity has a target-tracking policy (it scales itself back in); the others have none
  await aas.send(
    new PutScalingPolicyCommand({
      PolicyName: 'carts-read-tracking',
      ServiceNamespace: 'dynamodb',
      ResourceId: 'table/Carts',
      ScalableDimension: 'dynamodb:table:ReadCapacityUnits',
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: { TargetValue: 70, PredefinedMetricSpecification: { PredefinedMetricType: 'DynamoDBReadCapacityUtilization' } },
    }),
  );
  await control.configure({ pcReadyAfterMs: 1500 });
});

/** `spring` raised now, ready, with its way down scheduled (what the first test checks in detail). */
async function raiseSpring(wait = '20s') {
  const res = await cli(['prescale', '--campaign', 'spring', '--yes', '--wait', wait]);
  expect(res.code, res.stderr).toBe(0);
}

function cli(args: string[], config = configFile) {
  return runInProcess([...args, '--config', config, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, now: NOW });
}

async function registered(namespace: 'lambda' | 'ecs' | 'dynamodb') {
  const res = await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: namespace }));
  return Object.fromEntries((res.ScalableTargets ?? []).map((t) => [`${t.ResourceId}|${t.ScalableDimension}`, [t.MinCapacity, t.MaxCapacity]]));
}

async function actions(namespace: 'lambda' | 'ecs' | 'dynamodb') {
  const res = await aas.send(new DescribeScheduledActionsCommand({ ServiceNamespace: namespace }));
  return (res.ScheduledActions ?? []).map((a) => [a.ScheduledActionName, a.Schedule, a.Timezone, a.ScalableTargetAction?.MinCapacity, a.ScalableTargetAction?.MaxCapacity]).sort();
}

describe('prescale preflight', () => {
  it('refuses a campaign whose window is over, a missing alias, and a plan that would leave < 100 unreserved concurrency (exit 5, nothing written)', async () => {
    await control.clearRequests();
    const over = await cli(['prescale', '--campaign', 'over', '--yes']);
    expect(over.code).toBe(5);
    expect(over.stderr).toContain('campaign over ended at 2026-01-15T11:00:00 Europe/Berlin');
    const typo = await cli(['prescale', '--campaign', 'typo', '--yes']);
    expect(typo.code).toBe(5);
    expect(typo.stderr).toContain('function checkout-api has no alias or version "nope"');
    const huge = await cli(['prescale', '--campaign', 'huge', '--yes']);
    expect(huge.code).toBe(5);
    expect(huge.stderr).toContain('the plan needs 950 provisioned concurrency at its peak, leaving 50 of the account\'s 1000 unreserved');
    const writes = (await control.requests()).filter((r) => r.operation && /^(Register|Put|Delete)/.test(r.operation));
    expect(writes).toEqual([]);
  });

  it('--dry-run prints the plan with before → after and the cost, and makes no write call', async () => {
    await control.clearRequests();
    const res = await cli(['prescale', '--campaign', 'spring', '--dry-run', '--json']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { plan: { targets: { ref: { key: string }; baseline: unknown; planned: unknown }[]; cost: { usd: number; seconds: number } } };
    expect(doc.plan.targets.map((t) => [t.ref.key, t.baseline, t.planned])).toEqual([
      ['checkout-api-live', { min: 0, max: 500 }, { min: 300, max: 500 }],
      ['storefront-web', { min: 4, max: 20 }, { min: 40, max: 40 }],
      ['Carts-read', { min: 100, max: 4000 }, { min: 2000, max: 4000 }],
      ['Carts-write', { min: 50, max: 4000 }, { min: 800, max: 4000 }],
    ]);
    // 15:00Z → 19:00Z (14:00 New York + 3 h) = 4 h of 300 × 1 GB
    expect(doc.plan.cost.seconds).toBe(4 * 3600);
    expect(doc.plan.cost.usd).toBeCloseTo(300 * 4 * 3600 * 0.0000041667, 1);
    expect((await control.requests()).filter((r) => r.operation && /^(Register|Put|Delete)/.test(r.operation))).toEqual([]);
  });
});

describe('prescale now', () => {
  it('raises every target, waits until really ready, and schedules the way down to the exact baseline', async () => {
    const res = await cli(['prescale', '--campaign', 'spring', '--yes', '--wait', '20s']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('✓ lambda checkout-api:live: READY 300/300');
    const pc = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'checkout-api', Qualifier: 'live' }));
    expect(pc).toMatchObject({ Status: 'READY', AllocatedProvisionedConcurrentExecutions: 300 });
    expect((await dynamodb.send(new DescribeTableCommand({ TableName: 'Carts' }))).Table?.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 2000, WriteCapacityUnits: 800 });
    expect(await registered('ecs')).toEqual({ 'service/storefront/web|ecs:service:DesiredCount': [40, 40] });
    // no scaling policy on the service: max capped at the baseline minimum at the end, exact baseline 2 minutes later
    // written in UTC (14:00 in New York is 19:00Z): a UTC time never happens twice
    expect(await actions('ecs')).toEqual([
      ['retailctl-spring-storefront-web-down', 'at(2026-11-27T19:02:00)', 'UTC', 4, 20],
      ['retailctl-spring-storefront-web-drain', 'at(2026-11-27T19:00:00)', 'UTC', 4, 4],
      // the minimum it raised to, recorded where other runs read it (re-applied once a minute later)
      ['retailctl-spring-storefront-web-up', 'at(2026-11-27T15:01:00)', 'UTC', 40, 40],
    ]);
    expect(await actions('dynamodb')).toEqual([
      ['retailctl-spring-Carts-read-down', 'at(2026-11-27T19:00:00)', 'UTC', 100, 4000],
      ['retailctl-spring-Carts-read-up', 'at(2026-11-27T15:01:00)', 'UTC', 2000, 4000],
      ['retailctl-spring-Carts-write-down', 'at(2026-11-27T19:02:00)', 'UTC', 50, 4000],
      ['retailctl-spring-Carts-write-drain', 'at(2026-11-27T19:00:00)', 'UTC', 50, 50],
      ['retailctl-spring-Carts-write-up', 'at(2026-11-27T15:01:00)', 'UTC', 800, 4000],
    ]);
  });

  it('a rerun changes nothing and keeps the baseline recorded the first time', async () => {
    await raiseSpring('0');
    const res = await cli(['prescale', '--campaign', 'spring', '--yes', '--wait', '0', '--json']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { plan: { targets: { ref: { key: string }; baselineSource: string; baseline: unknown }[] } };
    expect(doc.plan.targets.find((t) => t.ref.key === 'storefront-web')).toMatchObject({ baselineSource: 'down-action', baseline: { min: 4, max: 20 } });
    expect(await actions('ecs')).toHaveLength(3);
  });

  it('status shows baseline, planned, current, readiness and the scheduled actions in local time and UTC', async () => {
    await raiseSpring();
    const res = await cli(['prescale', 'status', '--campaign', 'spring', '--json']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { targets: { target: string; baseline: unknown; current: number; ready: boolean; scheduledActions: { down: { schedule: string; timezone: string; utc: string } } }[] };
    const ecs = doc.targets.find((t) => t.target === 'ecs storefront/web')!;
    expect(ecs).toMatchObject({ baseline: { min: 4, max: 20 }, current: 40, ready: true });
    expect(ecs.scheduledActions.down).toMatchObject({ schedule: 'at(2026-11-27T19:02:00)', timezone: 'UTC', utc: '2026-11-27T19:02:00Z' });
  });

  it('restore from another machine (a fresh config copy, no local state) puts the recorded baseline back and removes the actions', async () => {
    await raiseSpring();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-prescale-ci-'));
    const elsewhere = path.join(dir, 'retailctl.yaml');
    await writeFile(elsewhere, CAMPAIGNS);
    const res = await cli(['prescale', 'restore', '--campaign', 'spring', '--yes'], elsewhere);
    expect(res.code).toBe(0);
    expect(await registered('ecs')).toEqual({ 'service/storefront/web|ecs:service:DesiredCount': [4, 20] });
    expect((await registered('dynamodb'))['table/Carts|dynamodb:table:WriteCapacityUnits']).toEqual([50, 4000]);
    // capacity really came down where no policy would have done it
    expect((await dynamodb.send(new DescribeTableCommand({ TableName: 'Carts' }))).Table?.ProvisionedThroughput).toMatchObject({ WriteCapacityUnits: 50 });
    await expect(lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'checkout-api', Qualifier: 'live' }))).rejects.toMatchObject({ name: 'ProvisionedConcurrencyConfigNotFoundException' });
    expect(await actions('ecs')).toEqual([]);
    expect(await actions('lambda')).toEqual([]);
  });

  it('a target that never gets ready: exit 5 naming it', async () => {
    await control.configure({ pcStuck: ['checkout-api:live'] });
    const res = await cli(['prescale', '--campaign', 'spring', '--yes', '--wait', '3s']);
    expect(res.code).toBe(5);
    expect(res.stdout).toMatch(/not ready after 3s: lambda checkout-api:live \(IN_PROGRESS 0\/300\)/);
  });
});

describe('prescale --schedule', () => {
  it('creates up and down actions with deterministic names, in UTC; a rerun updates them', async () => {
    const first = await cli(['prescale', '--campaign', 'spring', '--schedule', '--yes']);
    expect(first.code).toBe(0);
    const second = await cli(['prescale', '--campaign', 'spring', '--schedule', '--yes']);
    expect(second.code).toBe(0);
    expect(await actions('lambda')).toEqual([
      ['retailctl-spring-checkout-api-live-down', 'at(2026-11-27T19:02:00)', 'UTC', 0, 500],
      ['retailctl-spring-checkout-api-live-drain', 'at(2026-11-27T19:00:00)', 'UTC', 0, 0],
      ['retailctl-spring-checkout-api-live-up', 'at(2026-11-27T15:40:00)', 'UTC', 300, 500],
    ]);
  });

  it('a campaign across the spring-forward change: three real hours after 01:30 EST is 05:30 EDT', async () => {
    const res = await cli(['prescale', '--campaign', 'dst', '--schedule', '--yes']);
    expect(res.code).toBe(0);
    expect((await actions('ecs')).filter((a) => String(a[0]).startsWith('retailctl-dst-'))).toEqual([
      ['retailctl-dst-storefront-web-down', 'at(2027-03-14T09:32:00)', 'UTC', 4, 20],
      ['retailctl-dst-storefront-web-drain', 'at(2027-03-14T09:30:00)', 'UTC', 4, 4],
      ['retailctl-dst-storefront-web-up', 'at(2027-03-14T06:10:00)', 'UTC', 10, 20],
    ]);
    const status = JSON.parse((await cli(['prescale', 'status', '--campaign', 'dst', '--json'])).stdout) as { targets: { scheduledActions: Record<string, { utc: string }> }[] };
    expect(Object.fromEntries(Object.entries(status.targets[0]!.scheduledActions).map(([k, v]) => [k, v.utc]))).toEqual({ up: '2027-03-14T06:10:00Z', drain: '2027-03-14T09:30:00Z', down: '2027-03-14T09:32:00Z' });
  });
});

describe('prescale across daylight-saving changes', () => {
  it.each([
    ['ny-spring', ['2027-03-14T04:40:00Z', '2027-03-14T06:59:00Z', '2027-03-14T07:01:00Z']],
    ['ny-fall', ['2027-11-07T03:40:00Z', '2027-11-07T05:59:00Z', '2027-11-07T06:01:00Z']],
    ['uk-spring', ['2027-03-27T23:40:00Z', '2027-03-28T01:59:00Z', '2027-03-28T02:01:00Z']],
    ['uk-fall', ['2027-10-30T22:40:00Z', '2027-10-31T00:59:00Z', '2027-10-31T01:01:00Z']],
  ])('%s: the actions left in AWS are in UTC, each fires at one instant, and up → drain → down strictly in that order', async (name, expected) => {
    const res = await cli(['prescale', '--campaign', name, '--schedule', '--yes']);
    expect(res.code).toBe(0);
    const mine = (await actions('dynamodb')).filter((a) => String(a[0]).startsWith(`retailctl-${name}-`));
    const byDirection = Object.fromEntries(mine.map((a) => [String(a[0]).split('-').pop(), a]));
    const order = ['up', 'drain', 'down'].map((d) => byDirection[d]!);
    for (const a of order) expect(a[2]).toBe('UTC');
    // 2027-11-07 in New York: the drain at 01:59 EDT and the down at 01:01 EST; written in local time the
    // down would read as 01:01 EDT, an hour before the drain, and leave the maximum capped
    expect(order.map((a) => firesAt(String(a[1]), a[2] as string))).toEqual(expected.map((t) => [t]));
    expect(order.map((a) => [a[3], a[4]])).toEqual([[300, 4000], [50, 50], [50, 4000]]);
  });

  it('actions written in local time by an earlier version are read back as AWS reads them, and a rerun rewrites them in UTC', async () => {
    for (const [direction, schedule, min, max] of [['up', 'at(2027-03-02T08:40:00)', 10, 20], ['drain', 'at(2027-03-02T12:00:00)', 4, 4], ['down', 'at(2027-03-02T12:02:00)', 4, 20]] as const) {
      await aas.send(new PutScheduledActionCommand({ ServiceNamespace: 'ecs', ResourceId: 'service/storefront/web', ScalableDimension: 'ecs:service:DesiredCount', ScheduledActionName: `retailctl-legacy-storefront-web-${direction}`, Schedule: schedule, Timezone: 'America/New_York', ScalableTargetAction: { MinCapacity: min, MaxCapacity: max } }));
    }
    const status = JSON.parse((await cli(['prescale', 'status', '--campaign', 'legacy', '--json'])).stdout) as { targets: { baseline: unknown; scheduledActions: Record<string, { utc: string }> }[] };
    expect(status.targets[0]!.baseline).toEqual({ min: 4, max: 20 });
    expect(Object.fromEntries(Object.entries(status.targets[0]!.scheduledActions).map(([k, v]) => [k, v.utc]))).toEqual({ up: '2027-03-02T13:40:00Z', drain: '2027-03-02T17:00:00Z', down: '2027-03-02T17:02:00Z' });
    const rerun = await cli(['prescale', '--campaign', 'legacy', '--schedule', '--yes']);
    expect(rerun.code).toBe(0);
    expect((await actions('ecs')).filter((a) => String(a[0]).startsWith('retailctl-legacy-'))).toEqual([
      ['retailctl-legacy-storefront-web-down', 'at(2027-03-02T17:02:00)', 'UTC', 4, 20],
      ['retailctl-legacy-storefront-web-drain', 'at(2027-03-02T17:00:00)', 'UTC', 4, 4],
      ['retailctl-legacy-storefront-web-up', 'at(2027-03-02T13:40:00)', 'UTC', 10, 20],
    ]);
  });
});

describe('prescale timings', () => {
  it('--schedule when the scale-up time has passed: exit 2 naming file:line of leadTime, nothing written; raise-now says the window has started', async () => {
    await control.clearRequests();
    // started: ready by 09:30 New York (14:30Z); the clock says 15:00Z
    const res = await cli(['prescale', '--campaign', 'started', '--schedule', '--yes']);
    expect(res.code).toBe(2);
    const lines = CAMPAIGNS.split('\n');
    const line = lines.findIndex((l, i) => l.includes('leadTime') && i > lines.indexOf('  started:')) + 1;
    expect(res.stderr).toContain(`${configFile}:${line}:5: campaigns.started.leadTime: the scale-up time 2026-11-27 09:30 America/New_York (2026-11-27T14:30:00Z, sendAt − leadTime) has passed: a scheduled action for it would never fire. The window has started: run without --schedule to raise capacity now`);
    expect(res.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect((await control.requests()).filter((r) => r.operation && /^(Register|Put|Delete)/.test(r.operation))).toEqual([]);
    const now = await cli(['prescale', '--campaign', 'started', '--dry-run']);
    expect(now.code).toBe(0);
    expect(now.stderr + now.stdout).toContain('note: the window started at 2026-11-27 09:30 America/New_York (2026-11-27T14:30:00Z): capacity is raised now, and only raise-now is possible');
  });

  it('a zero-length window, one over 14 days, or a zone name in the wrong case: exit 2 with file:line and the reason', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-prescale-bad-'));
    const cases: [string, string][] = [
      ['duration: 3h', 'duration: 0s'],
      ['duration: 3h', 'duration: 15d'],
      ['timezone: America/New_York', 'timezone: america/new_york'],
    ];
    const messages = [
      'campaigns.bad.duration: a campaign window must last at least 1m, got 0s',
      'campaigns.bad.duration: 15d is longer than the 14d a campaign may hold raised capacity',
      'campaigns.bad.timezone: "america/new_york" is not spelt as the IANA time zone database spells it: did you mean America/New_York?',
    ];
    for (const [i, [from, to]] of cases.entries()) {
      const file = path.join(dir, `bad-${i}.yaml`);
      await writeFile(file, `campaigns:\n  bad:\n    sendAt: "2026-11-28T09:00:00"\n    timezone: America/New_York\n    duration: 3h\n    targets:\n      - ecs: storefront/web\n        min: 10\n`.replace(from, to));
      const res = await cli(['prescale', '--campaign', 'bad', '--schedule', '--yes'], file);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`${file}:${to.startsWith('timezone') ? 4 : 5}:5: ${messages[i]}`);
    }
  });
});
