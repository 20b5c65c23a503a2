/**
 * A campaign raised now (no --schedule) racing another run on the same target, from separate
 * configs: two processes of the built binary on the real clock, the shim holding one call back so
 * that each run reads the target before the other has written. What is left must give the live
 * campaign its minimum now and bring the target back to its baseline after the last way down.
 * Also Ctrl-C while one of its writes is held: the write lands, nothing later is sent.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { capacityAt, readActions, readRegistered, type ReadAction } from '../support/schedule-timeline.js';
import { seedStorefront } from '../support/seed.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const aas = new ApplicationAutoScalingClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
afterAll(() => aas.destroy());
const ECS = { ServiceNamespace: 'ecs' as const, ResourceId: 'service/storefront/web' };
const BASE = { min: 4, max: 20 };

beforeEach(async () => {
  await control.reset();
  await seedStorefront(endpoint);
});

/** `sendAt` in UTC, `minutes` from the real clock (whole minutes). */
const sendAt = (minutes: number) => new Date(Math.floor(Date.now() / 60_000) * 60_000 + minutes * 60_000).toISOString().slice(0, 19);
const at = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

function campaign(name: string, send: number, lead: string, duration: string, min: number): string {
  return `  ${name}:\n    sendAt: "${sendAt(send)}"\n    timezone: UTC\n    leadTime: ${lead}\n    duration: ${duration}\n    targets:\n      - ecs: storefront/web\n        min: ${min}\n`;
}

async function configWith(...campaigns: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-e2e-raise-now-'));
  const file = path.join(dir, 'retailctl.yaml');
  await writeFile(file, `campaigns:\n${campaigns.join('')}`);
  return file;
}

async function state(): Promise<{ actions: ReadAction[]; registered: { min: number; max: number } }> {
  return { actions: await readActions(aas, ECS), registered: (await readRegistered(aas, ECS))! };
}

const run = (args: string[], config: string) => spawnCli([...args, '--yes', '--config', config], { env: { ...env, AWS_REGION: 'us-east-1' } });

describe('a campaign raised now racing another run on the same target', () => {
  it('a restore of a scheduled campaign racing a raise-now of another leaves the raise-now campaign its minimum', { timeout: 60_000 }, async () => {
    // a: scheduled hours ahead (min 40); b: live now, 5 minutes into its window (min 80)
    const a = await configWith(campaign('a', 240, '20m', '2h', 40));
    const b = await configWith(campaign('b', 25, '30m', '1h30m', 80));
    expect((await run(['prescale', '--campaign', 'a', '--schedule'], a)).code).toBe(0);
    // the restore's register (its first) is held back until after the raise-now has written everything
    await control.fault({ service: 'application-autoscaling', operation: 'RegisterScalableTarget', delayMs: 1500, forward: true, times: 1 });
    const restored = run(['prescale', 'restore', '--campaign', 'a', '--wait', '0s'], a);
    await new Promise((r) => setTimeout(r, 300));
    const raised = await run(['prescale', '--campaign', 'b', '--wait', '0s'], b);
    const done = await restored;
    await control.clearFaults();
    expect([done.code, raised.code], done.stderr + raised.stderr).toEqual([0, 0]);

    const { actions, registered } = await state();
    expect(actions.filter((x) => x.name.startsWith('retailctl-a-')).map((x) => x.name)).toEqual([]);
    // b is live: its minimum now and until its window ends, then back to the baseline
    expect(registered).toEqual({ min: 80, max: 80 });
    expect(capacityAt(actions, registered, at(5))).toEqual({ min: 80, max: 80 });
    expect(capacityAt(actions, registered, at(60))).toEqual({ min: 80, max: 80 });
    expect(capacityAt(actions, registered, at(120))).toEqual(BASE);
  });

  for (const order of [['a', 'b'], ['b', 'a']] as const) {
    it(`two raise-nows at once from separate configs (${order.join(' first, ')}) end at the larger minimum while it is live`, { timeout: 60_000 }, async () => {
      // a: min 40, ends in 45 minutes; b: min 80, ends in 2 h; both windows started
      const configs = { a: await configWith(campaign('a', 15, '30m', '1h', 40)), b: await configWith(campaign('b', 25, '30m', '2h', 80)) };
      // the first run's first PutScheduledAction is held back: each run reads the target before the other writes
      await control.fault({ service: 'application-autoscaling', operation: 'PutScheduledAction', delayMs: 1500, forward: true, times: 1 });
      const first = run(['prescale', '--campaign', order[0], '--wait', '0s'], configs[order[0]]);
      await new Promise((r) => setTimeout(r, 100));
      const second = run(['prescale', '--campaign', order[1], '--wait', '0s'], configs[order[1]]);
      const [x, y] = await Promise.all([first, second]);
      await control.clearFaults();
      expect([x.code, y.code], x.stderr + y.stderr).toEqual([0, 0]);

      const { actions, registered } = await state();
      expect(registered).toEqual({ min: 80, max: 80 });
      for (const m of [2, 10, 50, 100]) expect(capacityAt(actions, registered, at(m)), `${m} min from now`).toEqual({ min: 80, max: 80 });
      expect(capacityAt(actions, registered, at(150))).toEqual(BASE);
    });
  }
});

describe('Ctrl-C while a prescale write is on the wire', () => {
  it('the held write lands (not abandoned), nothing later is sent, nothing is raised without its way down; the rerun finishes', { timeout: 60_000 }, async () => {
    const b = await configWith(campaign('b', 25, '30m', '1h30m', 80));
    // every PutScheduledAction answers after 1.5 s: the signal arrives while the first (the down) is held
    await control.fault({ service: 'application-autoscaling', operation: 'PutScheduledAction', delayMs: 1500, forward: true, times: 0 });
    await control.clearRequests();
    const started = Date.now();
    // the signal once the first PutScheduledAction is held on the wire (the request log), whatever the runner's speed
    const held = async () => (await control.requests()).some((r) => r.operation === 'PutScheduledAction');
    const res = await spawnCli(['prescale', '--campaign', 'b', '--wait', '0s', '--yes', '--config', b], { env: { ...env, AWS_REGION: 'us-east-1' }, signalWhen: held });
    const elapsed = Date.now() - started;
    await control.clearFaults();
    expect(res.code, res.stderr).toBe(130);
    expect(res.stderr).toMatch(/SIGINT: waiting for ApplicationAutoScaling PutScheduledAction to answer/);
    expect(res.stderr).toMatch(/before ApplicationAutoScaling (PutScheduledAction|RegisterScalableTarget) was sent: it was not applied/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    // it waited for the answer instead of dropping the call
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    const sent = (await control.requests()).filter((r) => r.operation === 'PutScheduledAction' || r.operation === 'RegisterScalableTarget');
    const { actions, registered } = await state();
    // every write that was sent is in AWS; nothing was raised, so no campaign capacity without a way down
    expect(actions.length).toBe(sent.filter((r) => r.operation === 'PutScheduledAction').length);
    expect(actions.map((x) => x.name)).toContain('retailctl-b-storefront-web-down');
    expect(registered).toEqual(BASE);
    // the rerun writes what is left and raises
    const again = await run(['prescale', '--campaign', 'b', '--wait', '0s'], b);
    expect(again.code, again.stderr).toBe(0);
    const after = await state();
    expect(after.registered).toEqual({ min: 80, max: 80 });
    expect(capacityAt(after.actions, after.registered, at(200)).min).toBe(BASE.min);
  });
});
