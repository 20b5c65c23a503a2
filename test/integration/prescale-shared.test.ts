/**
 * Two campaigns the same day on the same Lambda alias and ECS service, against moto. The emulator
 * keeps scheduled actions but never runs them, so the tests replay them in time order
 * (test/support/schedule-timeline.ts) to see the capacity a user would get at each moment.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { GetProvisionedConcurrencyConfigCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshStorefrontEachTest, capacityAt, readActions, readRegistered, type ReadAction } from '../support/schedule-timeline.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const aas = new ApplicationAutoScalingClient(common);
const lambda = new LambdaClient(common);
afterAll(() => [aas, lambda].forEach((c) => c.destroy()));

// morning: ready 13:40Z, ends 17:00Z; late: ready 15:40Z, ends 19:00Z (09:00 and 11:00 in New York); nextday apart
const CAMPAIGNS = `campaigns:
  morning:
    sendAt: "2026-11-27T09:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - lambda: pricing-api:live
        provisioned: 300
      - ecs: storefront/web
        min: 40
  late:
    sendAt: "2026-11-27T11:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - lambda: pricing-api:live
        provisioned: 100
      - ecs: storefront/web
        min: 60
  nextday:
    sendAt: "2026-11-28T11:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 30
`;

const ECS = { ServiceNamespace: 'ecs' as const, ResourceId: 'service/storefront/web', ScalableDimension: 'ecs:service:DesiredCount' as const };
const LAMBDA = { ServiceNamespace: 'lambda' as const, ResourceId: 'function:pricing-api:live', ScalableDimension: 'lambda:function:ProvisionedConcurrency' as const };
let configFile: string;

beforeAll(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-prescale-shared-'));
  configFile = path.join(dir, 'retailctl.yaml');
  await writeFile(configFile, CAMPAIGNS);
});

freshStorefrontEachTest(endpoint, control);

function cli(args: string[], now: string) {
  return runInProcess([...args, '--config', configFile, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, now: () => new Date(now) });
}

async function actionsOn(target: typeof ECS | typeof LAMBDA): Promise<ReadAction[]> {
  return readActions(aas, target);
}

async function registered(target: typeof ECS | typeof LAMBDA): Promise<{ min: number; max: number }> {
  return (await readRegistered(aas, target))!;
}

const row = (a: ReadAction) => [a.name, a.schedule, a.timezone, a.min, a.max];

describe('prescale: campaigns that share a target', () => {
  it('--schedule for both: the larger minimum while both are live, and the first campaign no longer drains the second one an hour into its window', async () => {
    const day = '2026-11-26T12:00:00Z';
    expect((await cli(['prescale', '--campaign', 'morning', '--schedule', '--yes'], day)).code).toBe(0);
    const second = await cli(['prescale', '--campaign', 'late', '--schedule', '--yes'], day);
    expect(second.code).toBe(0);
    // the plan shows the other campaign and what happens to its actions
    expect(second.stderr).toMatch(/ecs storefront\/web .*\n.*shared with morning \(min 40 from 2026-11-27 08:40 \(13:40Z\) until 2026-11-27 12:00 \(17:00Z\)\): planned together/);
    expect(second.stderr).toContain("morning's drain: 4/4 at 2026-11-27 17:00Z → 4/4 at 2026-11-27 14:00 (19:00Z)");

    const ecs = await actionsOn(ECS);
    expect(ecs.map(row)).toEqual([
      ['retailctl-late-storefront-web-down', 'at(2026-11-27T19:02:00)', 'UTC', 4, 20],
      ['retailctl-late-storefront-web-drain', 'at(2026-11-27T19:00:00)', 'UTC', 4, 4],
      ['retailctl-late-storefront-web-up', 'at(2026-11-27T15:40:00)', 'UTC', 60, 60],
      ['retailctl-morning-storefront-web-down', 'at(2026-11-27T19:02:00)', 'UTC', 4, 20],
      ['retailctl-morning-storefront-web-drain', 'at(2026-11-27T19:00:00)', 'UTC', 4, 4],
      ['retailctl-morning-storefront-web-up', 'at(2026-11-27T13:40:00)', 'UTC', 40, 40],
    ]);
    const base = { min: 4, max: 20 };
    expect(capacityAt(ecs, base, '2026-11-27T14:00:00Z')).toEqual({ min: 40, max: 40 });
    expect(capacityAt(ecs, base, '2026-11-27T16:00:00Z')).toEqual({ min: 60, max: 60 });
    // an hour after late's send, morning's window is over: nothing is capped while late is live
    expect(capacityAt(ecs, base, '2026-11-27T17:01:00Z')).toEqual({ min: 60, max: 60 });
    expect(capacityAt(ecs, base, '2026-11-27T18:59:00Z')).toEqual({ min: 60, max: 60 });
    // the way down after the last window, to the baseline from before the first
    expect(capacityAt(ecs, base, '2026-11-27T19:01:00Z')).toEqual({ min: 4, max: 4 });
    expect(capacityAt(ecs, base, '2026-11-27T19:03:00Z')).toEqual(base);

    // late alone needs 100 provisioned concurrency, but morning's 300 is still live when late scales up
    const pc = await actionsOn(LAMBDA);
    expect(pc.find((a) => a.name === 'retailctl-late-pricing-api-live-up')).toMatchObject({ schedule: 'at(2026-11-27T15:40:00)', min: 300, max: 500 });
    expect(capacityAt(pc, { min: 0, max: 500 }, '2026-11-27T17:30:00Z')).toEqual({ min: 300, max: 500 });
    expect(capacityAt(pc, { min: 0, max: 500 }, '2026-11-27T19:03:00Z')).toEqual({ min: 0, max: 500 });
  });

  it('a campaign apart on the same target keeps working on its own', async () => {
    const day = '2026-11-26T12:00:00Z';
    expect((await cli(['prescale', '--campaign', 'morning', '--schedule', '--yes'], day)).code).toBe(0);
    expect((await cli(['prescale', '--campaign', 'late', '--schedule', '--yes'], day)).code).toBe(0);
    const before = await actionsOn(ECS);
    expect(before).toHaveLength(6);
    const res = await cli(['prescale', '--campaign', 'nextday', '--schedule', '--yes'], '2026-11-26T12:00:00Z');
    expect(res.code).toBe(0);
    const after = await actionsOn(ECS);
    expect(after.filter((a) => !a.name.startsWith('retailctl-nextday-'))).toEqual(before);
    expect(after.filter((a) => a.name.startsWith('retailctl-nextday-')).map(row)).toEqual([
      ['retailctl-nextday-storefront-web-down', 'at(2026-11-28T19:02:00)', 'UTC', 4, 20],
      ['retailctl-nextday-storefront-web-drain', 'at(2026-11-28T19:00:00)', 'UTC', 4, 4],
      ['retailctl-nextday-storefront-web-up', 'at(2026-11-28T15:40:00)', 'UTC', 30, 30],
    ]);
  });

  it('raised now, then a second campaign: its baseline is the one from before the first, not the raised values', async () => {
    const first = await cli(['prescale', '--campaign', 'morning', '--yes', '--wait', '10s'], '2026-11-27T14:30:00Z');
    expect(first.code).toBe(0);
    expect(await registered(ECS)).toEqual({ min: 40, max: 40 });
    const second = await cli(['prescale', '--campaign', 'late', '--schedule', '--yes', '--json'], '2026-11-27T14:35:00Z');
    expect(second.code).toBe(0);
    const doc = JSON.parse(second.stdout) as { plan: { targets: { ref: { key: string }; baseline: unknown; baselineCampaign?: string; shared: { campaign: string; together: boolean }[] }[] } };
    expect(doc.plan.targets.find((t) => t.ref.key === 'storefront-web')).toMatchObject({ baseline: { min: 4, max: 20 }, baselineCampaign: 'morning', shared: [{ campaign: 'morning', together: true }] });
    const ecs = await actionsOn(ECS);
    expect(ecs.filter((a) => /-(drain|down)$/.test(a.name)).map(row)).toEqual([
      ['retailctl-late-storefront-web-down', 'at(2026-11-27T19:02:00)', 'UTC', 4, 20],
      ['retailctl-late-storefront-web-drain', 'at(2026-11-27T19:00:00)', 'UTC', 4, 4],
      ['retailctl-morning-storefront-web-down', 'at(2026-11-27T19:02:00)', 'UTC', 4, 20],
      ['retailctl-morning-storefront-web-drain', 'at(2026-11-27T19:00:00)', 'UTC', 4, 4],
    ]);
    expect(capacityAt(ecs, { min: 40, max: 40 }, '2026-11-27T17:30:00Z')).toEqual({ min: 60, max: 60 });
  });

  it('restore of the first campaign while the second is live leaves the second one\'s capacity and says so', async () => {
    expect((await cli(['prescale', '--campaign', 'morning', '--yes', '--wait', '10s'], '2026-11-27T14:30:00Z')).code).toBe(0);
    expect((await cli(['prescale', '--campaign', 'late', '--schedule', '--yes'], '2026-11-27T14:35:00Z')).code).toBe(0);
    const res = await cli(['prescale', 'restore', '--campaign', 'morning', '--yes', '--wait', '10s'], '2026-11-27T16:30:00Z');
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/ecs storefront\/web: min\/max 40\/40 → 60\/60 \(not the baseline 4\/20: kept for campaign late, min 60 until 2026-11-27 14:00 \(19:00Z\), which is still live/);
    expect(res.stdout).toContain("✓ ecs storefront/web: this campaign's part removed; kept at 60/60 for late (still live)");
    // lowered to what late needs, not to the baseline
    expect(await registered(ECS)).toEqual({ min: 60, max: 60 });
    expect(await registered(LAMBDA)).toEqual({ min: 100, max: 500 });
    expect(await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'pricing-api', Qualifier: 'live' }))).toMatchObject({ RequestedProvisionedConcurrentExecutions: 100 });
    // morning's actions are gone; late's way down still brings everything back after its window
    const ecs = await actionsOn(ECS);
    expect(ecs.map((a) => a.name)).toEqual(['retailctl-late-storefront-web-down', 'retailctl-late-storefront-web-drain', 'retailctl-late-storefront-web-up']);
    expect(capacityAt(ecs, { min: 60, max: 60 }, '2026-11-27T19:03:00Z')).toEqual({ min: 4, max: 20 });
  });
});
