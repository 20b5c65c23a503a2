/**
 * Two operators schedule two campaigns that share a target at the same moment: two processes of the
 * built binary, run as CI runs them. Every PutScheduledAction is held back 300 ms by the shim so that
 * both runs have read the targets before either has written: neither plan sees the other campaign,
 * and only reading the targets again after writing (and planning together then) gets it right.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capacityAt, readActions, type ReadAction } from '../support/schedule-timeline.js';
import { seedStorefront } from '../support/seed.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const aas = new ApplicationAutoScalingClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
afterAll(() => aas.destroy());

// far enough ahead of the real clock the binary runs on: ready 14:40Z–18:00Z and 16:40Z–20:00Z (New York is UTC−5 in January)
const CAMPAIGNS = `campaigns:
  first-send:
    sendAt: "2030-01-15T10:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 40
      - lambda: pricing-api:live
        provisioned: 300
  second-send:
    sendAt: "2030-01-15T12:00:00"
    timezone: America/New_York
    leadTime: 20m
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 60
      - lambda: pricing-api:live
        provisioned: 100
`;
let configFile: string;

beforeAll(async () => {
  await seedStorefront(endpoint);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-e2e-prescale-'));
  configFile = path.join(dir, 'retailctl.yaml');
  await writeFile(configFile, CAMPAIGNS);
});

async function actionsOn(namespace: 'ecs' | 'lambda', resourceId: string): Promise<ReadAction[]> {
  return readActions(aas, { ServiceNamespace: namespace, ResourceId: resourceId });
}

describe('two prescale runs at once on campaigns sharing a target', () => {
  it('end with the larger minimum while both are live and one way down after the last window', { timeout: 60_000 }, async () => {
    await control.fault({ service: 'application-autoscaling', operation: 'PutScheduledAction', delayMs: 300, forward: true, times: 0 });
    const run = (campaign: string) => spawnCli(['prescale', '--campaign', campaign, '--schedule', '--yes', '--config', configFile], { env: { ...env, AWS_REGION: 'us-east-1' } });
    const [a, b] = await Promise.all([run('first-send'), run('second-send')]);
    await control.clearFaults();
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);

    const ecs = await actionsOn('ecs', 'service/storefront/web');
    const base = { min: 4, max: 20 };
    expect(ecs.map((x) => [x.name, x.schedule, x.timezone, x.min, x.max])).toEqual([
      ['retailctl-first-send-storefront-web-down', 'at(2030-01-15T20:02:00)', 'UTC', 4, 20],
      ['retailctl-first-send-storefront-web-drain', 'at(2030-01-15T20:00:00)', 'UTC', 4, 4],
      ['retailctl-first-send-storefront-web-up', 'at(2030-01-15T14:40:00)', 'UTC', 40, 40],
      ['retailctl-second-send-storefront-web-down', 'at(2030-01-15T20:02:00)', 'UTC', 4, 20],
      ['retailctl-second-send-storefront-web-drain', 'at(2030-01-15T20:00:00)', 'UTC', 4, 4],
      ['retailctl-second-send-storefront-web-up', 'at(2030-01-15T16:40:00)', 'UTC', 60, 60],
    ]);
    expect(capacityAt(ecs, base, '2030-01-15T18:01:00Z')).toEqual({ min: 60, max: 60 });
    expect(capacityAt(ecs, base, '2030-01-15T20:03:00Z')).toEqual(base);

    const pc = await actionsOn('lambda', 'function:pricing-api:live');
    // second-send alone needs 100; first-send's 300 is live when it scales up and until the way down
    expect(capacityAt(pc, { min: 0, max: 500 }, '2030-01-15T17:00:00Z')).toEqual({ min: 300, max: 500 });
    expect(capacityAt(pc, { min: 0, max: 500 }, '2030-01-15T18:30:00Z')).toEqual({ min: 300, max: 500 });
    expect(capacityAt(pc, { min: 0, max: 500 }, '2030-01-15T20:03:00Z')).toEqual({ min: 0, max: 500 });
    // at least one of the runs saw the other only after writing, and said so
    expect(a.stdout + b.stdout).toMatch(/another campaign wrote to .* while this run applied: planned together with it again/);
  });

  it("a restore of one campaign while the other is scheduled: the schedule run never brings back the restored campaign's actions", { timeout: 60_000 }, async () => {
    const run = (args: string[]) => spawnCli([...args, '--yes', '--config', configFile], { env: { ...env, AWS_REGION: 'us-east-1' } });
    // from the state the test above left: second-send restored, first-send scheduled on its own
    const cleared = await run(['prescale', 'restore', '--campaign', 'second-send']);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect((await actionsOn('ecs', 'service/storefront/web')).map((x) => x.name)).toEqual([
      'retailctl-first-send-storefront-web-down',
      'retailctl-first-send-storefront-web-drain',
      'retailctl-first-send-storefront-web-up',
    ]);
    // both runs read first-send's actions; the restore deletes them while the schedule run's writes are held back
    await control.fault({ service: 'application-autoscaling', operation: 'PutScheduledAction', delayMs: 1500, forward: true, times: 0 });
    await control.fault({ service: 'application-autoscaling', operation: 'DeleteScheduledAction', delayMs: 700, forward: true, times: 0 });
    const [scheduled, restored] = await Promise.all([run(['prescale', '--campaign', 'second-send', '--schedule']), run(['prescale', 'restore', '--campaign', 'first-send', '--wait', '10s'])]);
    await control.clearFaults();
    expect([scheduled.code, restored.code], scheduled.stderr + scheduled.stdout + restored.stderr).toEqual([0, 0]);

    for (const [namespace, resourceId, base] of [['ecs', 'service/storefront/web', { min: 4, max: 20 }], ['lambda', 'function:pricing-api:live', { min: 0, max: 500 }]] as const) {
      const left = await actionsOn(namespace, resourceId);
      // nothing of first-send is left to fire
      expect(left.filter((x) => x.name.startsWith('retailctl-first-send-')).map((x) => x.name)).toEqual([]);
      // second-send's own way down still brings the target back after its window
      expect(capacityAt(left, base, '2030-01-15T20:03:00Z')).toEqual(base);
    }
    const ecs = await actionsOn('ecs', 'service/storefront/web');
    expect(capacityAt(ecs, { min: 4, max: 20 }, '2030-01-15T18:30:00Z')).toEqual({ min: 60, max: 60 });
  });

  it('two restores at once of campaigns sharing a target: nothing of either is left, and the targets are back to their baselines', { timeout: 60_000 }, async () => {
    const run = (args: string[]) => spawnCli([...args, '--yes', '--config', configFile], { env: { ...env, AWS_REGION: 'us-east-1' } });
    // from the state the test above left: first-send gone; schedule both again
    for (const c of ['first-send', 'second-send']) expect((await run(['prescale', '--campaign', c, '--schedule'])).code).toBe(0);
    await control.fault({ service: 'application-autoscaling', operation: 'PutScheduledAction', delayMs: 700, forward: true, times: 0 });
    await control.fault({ service: 'application-autoscaling', operation: 'DeleteScheduledAction', delayMs: 700, forward: true, times: 0 });
    const [late, early] = await Promise.all([run(['prescale', 'restore', '--campaign', 'second-send', '--wait', '10s']), new Promise((r) => setTimeout(r, 1600)).then(() => run(['prescale', 'restore', '--campaign', 'first-send', '--wait', '10s']))]);
    await control.clearFaults();
    expect([late.code, early.code], late.stderr + early.stderr).toEqual([0, 0]);
    for (const [namespace, resourceId, base] of [['ecs', 'service/storefront/web', { min: 4, max: 20 }], ['lambda', 'function:pricing-api:live', { min: 0, max: 500 }]] as const) {
      expect((await actionsOn(namespace, resourceId)).map((x) => x.name)).toEqual([]);
      const res = await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: namespace, ResourceIds: [resourceId] }));
      expect(res.ScalableTargets!.map((t) => ({ min: t.MinCapacity, max: t.MaxCapacity }))).toEqual([base]);
    }
  });

  it("a schedule run racing a restore of the other campaign never leaves that campaign's up without its down; restoring the first leaves nothing raised", { timeout: 60_000 }, async () => {
    const run = (args: string[]) => spawnCli([...args, '--yes', '--config', configFile], { env: { ...env, AWS_REGION: 'us-east-1' } });
    expect((await run(['prescale', '--campaign', 'second-send', '--schedule'])).code).toBe(0);
    await control.fault({ service: 'application-autoscaling', operation: 'PutScheduledAction', delayMs: 700, forward: true, times: 0 });
    await control.fault({ service: 'application-autoscaling', operation: 'DeleteScheduledAction', delayMs: 700, forward: true, times: 0 });
    const [restored, scheduled] = await Promise.all([run(['prescale', 'restore', '--campaign', 'second-send', '--wait', '10s']), run(['prescale', '--campaign', 'first-send', '--schedule'])]);
    await control.clearFaults();
    expect([restored.code, scheduled.code], restored.stderr + scheduled.stderr + scheduled.stdout).toEqual([0, 0]);
    for (const [namespace, resourceId] of [['ecs', 'service/storefront/web'], ['lambda', 'function:pricing-api:live']] as const) {
      const left = await actionsOn(namespace, resourceId);
      // every up left has its campaign's down after it
      for (const up of left.filter((x) => x.name.endsWith('-up'))) expect(left.map((x) => x.name)).toContain(up.name.replace(/-up$/, '-down'));
    }
    expect((await run(['prescale', 'restore', '--campaign', 'first-send', '--wait', '10s'])).code).toBe(0);
    for (const [namespace, resourceId, base] of [['ecs', 'service/storefront/web', { min: 4, max: 20 }], ['lambda', 'function:pricing-api:live', { min: 0, max: 500 }]] as const) {
      const left = await actionsOn(namespace, resourceId);
      expect(left.filter((x) => x.name.endsWith('-up')).map((x) => x.name)).toEqual([]);
      const res = await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: namespace, ResourceIds: [resourceId] }));
      expect(capacityAt(left, { min: res.ScalableTargets![0]!.MinCapacity!, max: res.ScalableTargets![0]!.MaxCapacity! }, '2030-01-16T00:00:00Z')).toEqual(base);
    }
  });
});
