/**
 * Who holds a shared target, read from the actions in AWS, and what the plan may count on: a campaign
 * raised at once that is not in this config, a restore next to a campaign raised early, a config edited
 * since a campaign was scheduled (the plan must be a fixed point of its own writes), a finished run's
 * actions, an alias with provisioned concurrency outside Application Auto Scaling, a run stopped after
 * its first write, and the account's concurrency across a window. The emulator never fires scheduled
 * actions: they are replayed in time order (test/support/schedule-timeline.ts).
 */
import {
  ApplicationAutoScalingClient,
  DeregisterScalableTargetCommand,
  PutScheduledActionCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { GetProvisionedConcurrencyConfigCommand, LambdaClient, PutProvisionedConcurrencyConfigCommand } from '@aws-sdk/client-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { campaignConfigs, freshStorefrontEachTest, capacityAt, readActions, readRegistered, type ReadAction } from '../support/schedule-timeline.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const aas = new ApplicationAutoScalingClient(common);
const ecs = new ECSClient(common);
const lambda = new LambdaClient(common);
afterAll(() => [aas, ecs, lambda].forEach((c) => c.destroy()));

type Target = { ServiceNamespace: 'ecs' | 'lambda'; ResourceId: string; ScalableDimension: 'ecs:service:DesiredCount' | 'lambda:function:ProvisionedConcurrency' };
const ECS: Target = { ServiceNamespace: 'ecs', ResourceId: 'service/storefront/web', ScalableDimension: 'ecs:service:DesiredCount' };
const CHECKOUT: Target = { ServiceNamespace: 'lambda', ResourceId: 'function:checkout-api:live', ScalableDimension: 'lambda:function:ProvisionedConcurrency' };
const BASE = { min: 4, max: 20 };
freshStorefrontEachTest(endpoint, control);
const config = campaignConfigs('retailctl-prescale-liveness-');
const campaign = (name: string, sendAt: string, lead: string, duration: string, target: string, timezone = 'UTC') =>
  `  ${name}:\n    sendAt: "${sendAt}"\n    timezone: ${timezone}\n    leadTime: ${lead}\n    duration: ${duration}\n    targets:\n${target.replace(/^/gm, '      ')}\n`;
const web = (min: number) => `- ecs: storefront/web\n  min: ${min}`;
const pc = (fn: string, n: number) => `- lambda: ${fn}:live\n  provisioned: ${n}`;

function cli(args: string[], now: string, file: string) {
  return runInProcess([...args, '--config', file, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, now: () => new Date(now) });
}

async function actionsOn(target: Target = ECS): Promise<ReadAction[]> {
  return readActions(aas, target);
}

async function registered(target: Target = ECS): Promise<{ min: number; max: number } | undefined> {
  return readRegistered(aas, target);
}

/** The lowest minimum AWS would hold, minute by minute, from `from` to `to`, starting from what is registered now. */
async function lowestMinimum(from: string, to: string, target: Target = ECS): Promise<number> {
  const actions = await actionsOn(target);
  const reg = (await registered(target))!;
  let low = Infinity;
  for (let t = Date.parse(from); t <= Date.parse(to); t += 60_000) low = Math.min(low, capacityAt(actions, reg, new Date(t).toISOString().replace('.000', '')).min);
  return low;
}

// x: raised at once, min 60 until 18:00Z; y: min 80, 12:00Z–14:00Z
const X = campaign('x', '2027-03-02T11:00:00', '1h', '7h', web(60));
const Y = campaign('y', '2027-03-02T12:30:00', '30m', '1h30m', web(80));

describe('prescale: a campaign raised at once holds the target until its own way down', () => {
  it('a raise-now run from a config without it keeps it: min 60 until 18:00Z, not 4 after the other window', async () => {
    expect((await cli(['prescale', '--campaign', 'x', '--yes', '--wait', '0s'], '2027-03-02T10:05:00Z', await config(X))).code).toBe(0);
    const res = await cli(['prescale', '--campaign', 'y', '--yes', '--wait', '0s'], '2027-03-02T12:05:00Z', await config(Y));
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(await lowestMinimum('2027-03-02T12:06:00Z', '2027-03-02T17:59:00Z')).toBeGreaterThanOrEqual(60);
    expect(capacityAt(await actionsOn(), (await registered())!, '2027-03-02T18:03:00Z')).toEqual(BASE);
  });

  for (const both of [false, true]) {
    it(`restoring the other one keeps it (${both ? 'both in the config, raised before its window' : 'not in the config'}) and its minimum no smaller than the restored one's`, async () => {
      const cy = await config(both ? X + Y : Y);
      const [tx, ty, tr] = both ? ['2027-03-02T08:00:00Z', '2027-03-02T08:30:00Z', '2027-03-02T09:00:00Z'] : ['2027-03-02T10:05:00Z', '2027-03-02T12:05:00Z', '2027-03-02T12:30:00Z'];
      expect((await cli(['prescale', '--campaign', 'x', '--yes', '--wait', '0s'], tx, await config(X))).code).toBe(0);
      expect((await cli(['prescale', '--campaign', 'y', '--yes', '--wait', '0s'], ty, cy)).code).toBe(0);
      const res = await cli(['prescale', 'restore', '--campaign', 'y', '--yes', '--wait', '0s'], tr, cy);
      expect(res.code, res.stderr + res.stdout).toBe(0);
      expect(res.stdout).toContain('for x (still live)');
      expect((await registered())!.min).toBeGreaterThanOrEqual(60);
      expect(await lowestMinimum(tr, '2027-03-02T17:59:00Z')).toBeGreaterThanOrEqual(60);
      expect(capacityAt(await actionsOn(), (await registered())!, '2027-03-02T18:03:00Z')).toEqual(BASE);
      expect((await actionsOn()).map((a) => a.name).filter((x) => x.includes('-y-'))).toEqual([]);
    });
  }
});

describe('prescale: the plan is a fixed point of its own writes', () => {
  it("another campaign shortened in the config since it was scheduled: reruns agree with AWS and exit 0, and its way down is never moved inside a window", async () => {
    const b = (d: string) => campaign('b', '2027-03-02T09:00:00', '15m', d, web(30), 'America/New_York');
    const a = campaign('a', '2027-03-02T09:55:00', '15m', '2h', web(40), 'America/New_York');
    const v1 = await config(b('4h') + a);
    const v2 = await config(b('30m') + a);
    const now = '2027-03-01T12:00:00Z';
    expect((await cli(['prescale', '--campaign', 'b', '--schedule', '--yes'], now, v1)).code).toBe(0);
    expect((await cli(['prescale', '--campaign', 'a', '--schedule', '--yes'], now, v1)).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      const res = await cli(['prescale', '--campaign', 'a', '--schedule', '--yes', '--json'], now, v2);
      expect(res.code, res.stderr + res.stdout).toBe(0);
      const plan = JSON.parse(res.stdout).plan as { targets: { drain?: { name: string; schedule: string }; down: { name: string; schedule: string } }[] };
      const left = await actionsOn();
      // the plan reported is the one in AWS
      expect(left.find((x) => x.name === plan.targets[0]!.drain!.name)!.schedule).toBe(plan.targets[0]!.drain!.schedule);
      expect(left.find((x) => x.name === plan.targets[0]!.down.name)!.schedule).toBe(plan.targets[0]!.down.schedule);
    }
    // a's window 14:40Z–16:55Z, b's scheduled way down at 18:00Z: nothing brings the minimum below 40 in a's window
    const actions = await actionsOn();
    for (let t = Date.parse('2027-03-02T14:41:00Z'); t <= Date.parse('2027-03-02T16:54:00Z'); t += 60_000) expect(capacityAt(actions, BASE, new Date(t).toISOString().replace('.000', '')).min).toBeGreaterThanOrEqual(40);
    expect(capacityAt(actions, BASE, '2027-03-02T18:03:00Z')).toEqual(BASE);
  });
});

describe('prescale: where the baseline comes from', () => {
  it("a finished run's actions (all fired) are not a baseline: next week's run records the normal values registered now", async () => {
    const weekly = (d: string) => config(campaign('weekly', `${d}T09:00:00`, '20m', '3h', web(40)));
    expect((await cli(['prescale', '--campaign', 'weekly', '--schedule', '--yes'], '2027-03-01T12:00:00Z', await weekly('2027-03-02'))).code).toBe(0);
    // a week on, the actions have fired (AWS keeps listing them); the operator set a new normal 10/50
    await aas.send(new RegisterScalableTargetCommand({ ...ECS, MinCapacity: 10, MaxCapacity: 50 }));
    const res = await cli(['prescale', '--campaign', 'weekly', '--schedule', '--yes'], '2027-03-08T12:00:00Z', await weekly('2027-03-09'));
    expect(res.code, res.stderr).toBe(0);
    const actions = await actionsOn();
    expect(actions.find((a) => a.name.endsWith('-down'))).toMatchObject({ schedule: 'at(2027-03-09T12:02:00)', min: 10, max: 50 });
    expect(capacityAt(actions, { min: 10, max: 50 }, '2027-03-09T12:03:00Z')).toEqual({ min: 10, max: 50 });
  });

  it('an alias not registered with Application Auto Scaling keeps the provisioned concurrency it has: registered at 50/50, and the way down comes back to 50', async () => {
    await aas.send(new DeregisterScalableTargetCommand(CHECKOUT));
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'checkout-api', Qualifier: 'live', ProvisionedConcurrentExecutions: 50 }));
    const file = await config(campaign('c', '2027-03-02T14:00:00', '20m', '3h', pc('checkout-api', 200)));
    const res = await cli(['prescale', '--campaign', 'c', '--schedule', '--yes'], '2027-03-01T12:00:00Z', file);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('has 50 provisioned concurrency: it is registered at 50/50 first');
    expect(await registered(CHECKOUT)).toEqual({ min: 50, max: 50 });
    expect((await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'checkout-api', Qualifier: 'live' }))).RequestedProvisionedConcurrentExecutions).toBe(50);
    const actions = await actionsOn(CHECKOUT);
    expect(capacityAt(actions, { min: 50, max: 50 }, '2027-03-02T15:00:00Z').min).toBe(200);
    expect(capacityAt(actions, { min: 50, max: 50 }, '2027-03-02T17:03:00Z')).toEqual({ min: 50, max: 50 });
  });

  it('a run stopped after writing its down (its first write): the rerun records the capacity before (12), not the minimum', async () => {
    await ecs.send(new UpdateServiceCommand({ cluster: 'storefront', service: 'web', desiredCount: 12 }));
    const file = await config(campaign('a', '2027-03-02T14:00:00', '20m', '3h', web(40)));
    // what the run had written when it was stopped: its down, nothing raised
    await aas.send(new PutScheduledActionCommand({ ...ECS, ScheduledActionName: 'retailctl-a-storefront-web-down', Schedule: 'at(2027-03-02T17:02:00)', Timezone: 'UTC', ScalableTargetAction: { MinCapacity: 4, MaxCapacity: 20 } }));
    const res = await cli(['prescale', '--campaign', 'a', '--schedule', '--yes'], '2027-03-01T12:00:00Z', file);
    expect(res.code, res.stderr).toBe(0);
    expect((await actionsOn()).find((a) => a.name.endsWith('-drain'))).toMatchObject({ schedule: 'at(2027-03-02T17:00:00)', min: 4, max: 12 });
  });
});

describe('prescale: the account concurrency preflight over the whole window', () => {
  it('refuses when another campaign on a shared alias peaks later in the window (850 + 200 from 15:00Z)', async () => {
    const file = await config(campaign('b', '2027-03-02T15:20:00', '20m', '3h', pc('pricing-api', 850)) + campaign('a', '2027-03-02T14:00:00', '20m', '3h', `${pc('pricing-api', 300)}\n${pc('checkout-api', 200)}`));
    expect((await cli(['prescale', '--campaign', 'b', '--schedule', '--yes'], '2027-03-01T12:00:00Z', file)).code).toBe(0);
    const res = await cli(['prescale', '--campaign', 'a', '--schedule', '--yes'], '2027-03-01T12:00:00Z', file);
    expect(res.code, res.stderr).toBe(5);
    expect(res.stderr).toContain('the plan needs 1050 provisioned concurrency at its peak (at 2027-03-02T15:00:00Z)');
    expect(await actionsOn(CHECKOUT)).toEqual([]);
  });

  it("does not count another alias's provisioned concurrency after retailctl's own way down there has removed it", async () => {
    const file = await config(campaign('today', '2027-03-02T14:00:00', '20m', '3h', pc('pricing-api', 800)) + campaign('nextweek', '2027-03-09T14:00:00', '20m', '3h', pc('checkout-api', 800)));
    expect((await cli(['prescale', '--campaign', 'today', '--yes', '--wait', '0s'], '2027-03-02T13:45:00Z', file)).code).toBe(0);
    const res = await cli(['prescale', '--campaign', 'nextweek', '--schedule', '--yes'], '2027-03-02T14:00:00Z', file);
    expect(res.code, res.stderr).toBe(0);
    expect((await actionsOn(CHECKOUT)).map((a) => a.name)).toContain('retailctl-nextweek-checkout-api-live-up');
    await cli(['prescale', 'restore', '--campaign', 'today', '--yes', '--wait', '5s'], '2027-03-02T15:00:00Z', file);
  });
});
