/**
 * What a user gets from the scheduled actions left in AWS, in situations where what is scheduled and
 * what the config says drift apart: a config edited after scheduling, a scaling policy attached after
 * the first run, a run stopped half-way, a service running above its minimum, two campaigns on two
 * Lambda functions sharing one account limit. The emulator never fires scheduled actions: they are
 * replayed in time order (test/support/schedule-timeline.ts).
 */
import {
  ApplicationAutoScalingClient,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { afterAll, describe, expect, it } from 'vitest';
import { campaignConfigs, freshStorefrontEachTest, capacityAt, firesAt, readActions, readRegistered, type ReadAction } from '../support/schedule-timeline.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const aas = new ApplicationAutoScalingClient(common);
const ecs = new ECSClient(common);
afterAll(() => [aas, ecs].forEach((c) => c.destroy()));

const ECS = { ServiceNamespace: 'ecs' as const, ResourceId: 'service/storefront/web', ScalableDimension: 'ecs:service:DesiredCount' as const };
const BASE = { min: 4, max: 20 };
freshStorefrontEachTest(endpoint, control);
const config = campaignConfigs('retailctl-prescale-timeline-');

const campaign = (name: string, sendAt: string, lead: string, duration: string, target: string) => `  ${name}:
    sendAt: "${sendAt}"
    timezone: America/New_York
    leadTime: ${lead}
    duration: ${duration}
    targets:
${target.replace(/^/gm, '      ')}
`;
const web = (min: number) => `- ecs: storefront/web\n  min: ${min}`;

function cli(args: string[], now: string, file: string) {
  return runInProcess([...args, '--config', file, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, now: () => new Date(now) });
}

async function actionsOn(target: { ServiceNamespace: 'ecs' | 'lambda'; ResourceId: string } = ECS): Promise<ReadAction[]> {
  return readActions(aas, target);
}

async function registered(): Promise<{ min: number; max: number }> {
  return (await readRegistered(aas, ECS))!;
}

const desired = async () => (await ecs.send(new DescribeServicesCommand({ cluster: 'storefront', services: ['web'] }))).services![0]!.desiredCount!;
const at = (a: ReadAction) => firesAt(a.schedule, a.timezone)[0]!;
/** Every minute from `from` to `to` (UTC): the minimum AWS would hold then. */
function minimumsBetween(actions: ReadAction[], from: string, to: string): number[] {
  const out: number[] = [];
  for (let t = Date.parse(from); t <= Date.parse(to); t += 60_000) out.push(capacityAt(actions, BASE, new Date(t).toISOString().replace('.000', '')).min);
  return out;
}

describe('prescale: what is scheduled in AWS is what happens', () => {
  it("another campaign's drain scheduled inside this window (its config edited since) moves after the last window", async () => {
    // b scheduled with 2h (up 13:45Z, drain 16:00Z); then b's config says 30m, and b is not rerun
    const v1 = await config(campaign('b', '2027-03-02T09:00:00', '15m', '2h', web(30)) + campaign('a', '2027-03-02T09:55:00', '15m', '2h', web(40)));
    const v2 = await config(campaign('b', '2027-03-02T09:00:00', '15m', '30m', web(30)) + campaign('a', '2027-03-02T09:55:00', '15m', '2h', web(40)));
    const now = '2027-03-01T12:00:00Z';
    expect((await cli(['prescale', '--campaign', 'b', '--schedule', '--yes'], now, v1)).code).toBe(0);
    const res = await cli(['prescale', '--campaign', 'a', '--schedule', '--yes'], now, v2);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).not.toContain('windows apart, planned independently');
    expect(res.stderr).toContain("b's drain: 4/4 at 2027-03-02 16:00Z → 4/4 at 2027-03-02 11:55 (16:55Z)");
    const actions = await actionsOn();
    // a's window 14:40Z–16:55Z: never below a's 40
    expect(Math.min(...minimumsBetween(actions, '2027-03-02T14:40:00Z', '2027-03-02T16:54:00Z'))).toBe(40);
    expect(capacityAt(actions, BASE, '2027-03-02T16:30:00Z')).toEqual({ min: 40, max: 40 });
    // no drain or down inside a's window
    expect(actions.filter((a) => /-(drain|down)$/.test(a.name) && at(a) > '2027-03-02T14:40:00Z' && at(a) < '2027-03-02T16:55:00Z')).toEqual([]);
    expect(capacityAt(actions, BASE, '2027-03-02T17:00:00Z')).toEqual(BASE);
  });

  it('a scaling policy attached after the first run: the stale drain is deleted, never left inside a longer window or with the down', async () => {
    const three = await config(campaign('a', '2027-03-02T09:00:00', '20m', '3h', web(40)));
    const five = await config(campaign('a', '2027-03-02T09:00:00', '20m', '5h', web(40)));
    const now = '2027-03-01T12:00:00Z';
    expect((await cli(['prescale', '--campaign', 'a', '--schedule', '--yes'], now, three)).code).toBe(0);
    expect((await actionsOn()).map((a) => a.name)).toContain('retailctl-a-storefront-web-drain');
    await aas.send(new PutScalingPolicyCommand({ ...ECS, PolicyName: 'cpu50', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: { TargetValue: 50, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } } }));
    const res = await cli(['prescale', '--campaign', 'a', '--schedule', '--yes'], now, five);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain("this campaign's drain (4/4 at 2027-03-02 17:00Z) deleted: a scaling policy brings capacity down");
    const actions = await actionsOn();
    expect(actions.map((a) => [a.name, a.schedule, a.min, a.max])).toEqual([
      ['retailctl-a-storefront-web-down', 'at(2027-03-02T19:00:00)', 4, 20],
      ['retailctl-a-storefront-web-up', 'at(2027-03-02T13:40:00)', 40, 40],
    ]);
    // two hours into the 5h window: still 40, not capped at 4
    expect(capacityAt(actions, BASE, '2027-03-02T18:00:00Z')).toEqual({ min: 40, max: 40 });

  });

  it("status warns about a drain with no later down, and about a drain inside a campaign's live window", async () => {
    const file = await config(campaign('a', '2027-03-02T09:00:00', '20m', '3h', web(40)));
    const { PutScheduledActionCommand } = await import('@aws-sdk/client-application-auto-scaling');
    const put = (name: string, schedule: string, min: number, max: number) =>
      aas.send(new PutScheduledActionCommand({ ...ECS, ScheduledActionName: name, Schedule: schedule, Timezone: 'UTC', ScalableTargetAction: { MinCapacity: min, MaxCapacity: max } }));
    await put('retailctl-a-storefront-web-up', 'at(2027-03-02T13:40:00)', 40, 40);
    await put('retailctl-a-storefront-web-drain', 'at(2027-03-02T15:00:00)', 4, 4);
    await put('retailctl-a-storefront-web-down', 'at(2027-03-02T15:00:00)', 4, 20);
    const res = await cli(['prescale', 'status', '--campaign', 'a', '--json'], '2027-03-01T12:00:00Z', file);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { warnings: string[] };
    expect(doc.warnings).toEqual([
      'ecs storefront/web: campaign a\'s drain retailctl-a-storefront-web-drain (2027-03-02T15:00:00Z) has no down strictly after it: the maximum would stay capped at 4; rerun prescale for a',
      'ecs storefront/web: campaign a\'s drain retailctl-a-storefront-web-drain (2027-03-02T15:00:00Z) fires inside campaign a\'s window (2027-03-02T13:40:00Z–2027-03-02T17:00:00Z): capacity is capped at 4 while it is live; rerun prescale for a',
    ]);
  });
});

describe('prescale: a campaign that has written only its way down', () => {
  it('does not count as live for another campaign: restore brings the target back to its baseline, and a rerun adds the missing drain', async () => {
    const file = await config(campaign('bnow', '2026-12-01T13:23:00', '20m', '3h', web(60)) + campaign('atomorrow', '2026-12-02T13:13:00', '20m', '3h', web(40)));
    // bnow raised now; atomorrow's run stopped after writing its down (its first write)
    expect((await cli(['prescale', '--campaign', 'bnow', '--yes', '--wait', '0s'], '2026-12-01T18:10:00Z', file)).code).toBe(0);
    const { PutScheduledActionCommand } = await import('@aws-sdk/client-application-auto-scaling');
    await aas.send(new PutScheduledActionCommand({ ...ECS, ScheduledActionName: 'retailctl-atomorrow-storefront-web-down', Schedule: 'at(2026-12-02T21:15:00)', Timezone: 'UTC', ScalableTargetAction: { MinCapacity: 4, MaxCapacity: 20 } }));

    const res = await cli(['prescale', 'restore', '--campaign', 'bnow', '--yes', '--wait', '5s'], '2026-12-01T19:00:00Z', file);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).not.toContain('kept for campaign atomorrow');
    expect(await registered()).toEqual(BASE);

    // atomorrow's rerun completes its way down: a drain strictly before the down, then up
    expect((await cli(['prescale', '--campaign', 'atomorrow', '--schedule', '--yes'], '2026-12-01T19:05:00Z', file)).code).toBe(0);
    const actions = await actionsOn();
    expect(actions.map((a) => [a.name, a.schedule, a.min, a.max])).toEqual([
      ['retailctl-atomorrow-storefront-web-down', 'at(2026-12-02T21:15:00)', 4, 20],
      ['retailctl-atomorrow-storefront-web-drain', 'at(2026-12-02T21:13:00)', 4, 4],
      ['retailctl-atomorrow-storefront-web-up', 'at(2026-12-02T17:53:00)', 40, 40],
    ]);
  });
});

describe('prescale: capacity comes back to where it was', () => {
  it('a service running 12 (registered 4/20, no policy): the drain caps at 12 and restore leaves 12, not the minimum 4', async () => {
    await ecs.send(new UpdateServiceCommand({ cluster: 'storefront', service: 'web', desiredCount: 12 }));
    const file = await config(campaign('a', '2027-03-02T09:00:00', '20m', '3h', web(40)));
    const raised = await cli(['prescale', '--campaign', 'a', '--yes', '--wait', '0s', '--json'], '2027-03-02T13:45:00Z', file);
    expect(raised.code, raised.stderr).toBe(0);
    expect(await desired()).toBe(40);
    const actions = await actionsOn();
    expect(actions.map((a) => [a.name, a.schedule, a.min, a.max])).toEqual([
      ['retailctl-a-storefront-web-down', 'at(2027-03-02T17:02:00)', 4, 20],
      ['retailctl-a-storefront-web-drain', 'at(2027-03-02T17:00:00)', 4, 12],
      ['retailctl-a-storefront-web-up', 'at(2027-03-02T13:46:00)', 40, 40],
    ]);
    // the scheduled way down: capped at 12 (capacity 40 → 12), then 4/20 (desired stays 12)
    expect(capacityAt(actions, { min: 40, max: 40 }, '2027-03-02T17:01:00Z')).toEqual({ min: 4, max: 12 });

    const res = await cli(['prescale', 'restore', '--campaign', 'a', '--yes', '--wait', '5s'], '2027-03-02T15:00:00Z', file);
    expect(res.code, res.stderr).toBe(0);
    expect(await registered()).toEqual(BASE);
    expect(await desired()).toBe(12);
  });

  it('a drain written by an earlier version (max at the baseline minimum) is read as a capacity at the minimum', async () => {
    const { PutScheduledActionCommand } = await import('@aws-sdk/client-application-auto-scaling');
    const file = await config(campaign('a', '2027-03-02T09:00:00', '20m', '3h', web(40)));
    await aas.send(new PutScheduledActionCommand({ ...ECS, ScheduledActionName: 'retailctl-a-storefront-web-drain', Schedule: 'at(2027-03-02T17:00:00)', Timezone: 'UTC', ScalableTargetAction: { MinCapacity: 4, MaxCapacity: 4 } }));
    await aas.send(new PutScheduledActionCommand({ ...ECS, ScheduledActionName: 'retailctl-a-storefront-web-down', Schedule: 'at(2027-03-02T17:02:00)', Timezone: 'UTC', ScalableTargetAction: { MinCapacity: 4, MaxCapacity: 20 } }));
    await ecs.send(new UpdateServiceCommand({ cluster: 'storefront', service: 'web', desiredCount: 12 }));
    const res = await cli(['prescale', '--campaign', 'a', '--schedule', '--yes'], '2027-03-01T12:00:00Z', file);
    expect(res.code, res.stderr).toBe(0);
    expect((await actionsOn()).find((a) => a.name.endsWith('-drain'))).toMatchObject({ min: 4, max: 4 });
  });
});

describe('prescale: two campaigns on two Lambda functions share the account limit', () => {
  const LAMBDAS = campaign('p', '2027-03-02T09:00:00', '20m', '3h', '- lambda: pricing-api:live\n  provisioned: 800') + campaign('k', '2027-03-02T09:00:00', '20m', '3h', '- lambda: checkout-api:live\n  provisioned: 800');

  it('the second one scheduled is refused (exit 5, nothing written): 800 + 800 would leave less than 100 of 1000 unreserved', async () => {
    const file = await config(LAMBDAS);
    const day = '2027-03-01T12:00:00Z';
    expect((await cli(['prescale', '--campaign', 'p', '--schedule', '--yes'], day, file)).code).toBe(0);
    const res = await cli(['prescale', '--campaign', 'k', '--schedule', '--yes'], day, file);
    expect(res.code).toBe(5);
    expect(res.stderr).toContain('pricing-api:live 800');
    expect(await actionsOn({ ServiceNamespace: 'lambda', ResourceId: 'function:checkout-api:live' })).toEqual([]);
  });

  it('raised now one after the other: the second is refused by the preflight, and the emulator refuses such a raise through Application Auto Scaling as AWS does', async () => {
    const file = await config(LAMBDAS);
    expect((await cli(['prescale', '--campaign', 'p', '--yes', '--wait', '0s'], '2027-03-02T13:45:00Z', file)).code).toBe(0);
    const res = await cli(['prescale', '--campaign', 'k', '--yes', '--wait', '0s'], '2027-03-02T13:46:00Z', file);
    expect(res.code).toBe(5);
    expect(res.stderr).toContain('not enough Lambda concurrency');
    await expect(aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'lambda', ResourceId: 'function:checkout-api:live', ScalableDimension: 'lambda:function:ProvisionedConcurrency', MinCapacity: 800, MaxCapacity: 800 }))).rejects.toThrow(/UnreservedConcurrentExecution below its minimum value of \[100\]/);
  });
});
