/**
 * Reviewed prescale changes: `prescale --plan-out` / `prescale restore --plan-out`, then
 * `retailctl apply`, through the built binary against the emulator (seeded storefront).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationAutoScalingClient, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { afterAll, describe, expect, it } from 'vitest';
import { campaignConfigs, freshStorefrontEachTest, readActions, readRegistered } from '../support/schedule-timeline.js';
import { otherHost, spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const aas = new ApplicationAutoScalingClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
afterAll(() => aas.destroy());
freshStorefrontEachTest(endpoint, control);
const writeConfig = campaignConfigs('retailctl-plan-prescale-');

const CAMPAIGN = `  spring:
    sendAt: "2030-03-10T10:00:00"
    timezone: UTC
    leadTime: 20m
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 40
      - dynamodb: Carts
        read: 500
`;
const WEB = { ServiceNamespace: 'ecs', ResourceId: 'service/storefront/web' } as const;

const cli = (config: string, args: string[]) => spawnCli([...args, '--config', config], { env });
const names = async () => (await readActions(aas, WEB)).map((a) => `${a.name} ${a.schedule} ${a.min}/${a.max}`).sort();

async function aasWrites(): Promise<string[]> {
  return (await control.requests()).filter((r) => r.service === 'application-autoscaling' && !/^(Describe|List)/.test(r.operation ?? '')).map((r) => r.operation ?? r.path);
}

describe('prescale: --plan-out, then apply', () => {
  it('--schedule: apply writes exactly the planned actions (the direct command\'s end state); a second apply is refused', async () => {
    const config = await writeConfig(CAMPAIGN);
    const plan = path.join(path.dirname(config), 'prescale.json');
    await control.clearRequests();
    const planned = await cli(config, ['prescale', '--campaign', 'spring', '--schedule', '--plan-out', plan]);
    expect(planned.code, planned.stderr).toBe(0);
    expect(await aasWrites()).toEqual([]);
    expect(await names()).toEqual([]);
    const doc = JSON.parse(await readFile(plan, 'utf8')) as { kind: string; actions: { call: string; summary: string }[]; preconditions: { id: string }[] };
    expect(doc.kind).toBe('prescale.schedule');
    expect(doc.preconditions.map((p) => p.id)).toContain('autoscaling:ecs/service/storefront/web/ecs:service:DesiredCount');
    expect(doc.actions.filter((a) => a.call === 'application-autoscaling:PutScheduledAction').length).toBeGreaterThanOrEqual(4);

    const applied = await cli(config, ['apply', plan, '--yes', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ ok: true, applied: true, kind: 'prescale.schedule' });
    const viaPlan = await names();
    expect(viaPlan.length).toBeGreaterThanOrEqual(2);
    // exactly the planned writes, nothing re-planned
    expect((await aasWrites()).filter((w) => w === 'PutScheduledAction').length).toBe(doc.actions.filter((a) => a.call === 'application-autoscaling:PutScheduledAction').length);

    await control.clearRequests();
    const twice = await cli(config, ['apply', plan, '--yes']);
    expect([twice.code, twice.stderr]).toEqual([1, expect.stringContaining('already applied at')]);
    // from another host (no record there), the targets as read no longer match
    const again = await spawnCli(['apply', plan, '--yes', '--config', config], { env: { ...env, ...otherHost() } });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('changed since it was made: not applied, nothing was changed');
    expect(again.stderr).toMatch(/ecs storefront\/web .*changed: actions\.down: absent → /);
    expect(await aasWrites()).toEqual([]);

    // the direct command on the same start state ends the same
    await control.reset();
    const { seedStorefront } = await import('../support/seed.js');
    await seedStorefront(endpoint);
    expect((await cli(config, ['prescale', '--campaign', 'spring', '--schedule', '--yes'])).code).toBe(0);
    expect(await names()).toEqual(viaPlan);
  });

  it('an out-of-band change (a scalable target\'s max edited) refuses the plan, exit 1, nothing written', async () => {
    const config = await writeConfig(CAMPAIGN);
    const plan = path.join(path.dirname(config), 'prescale.json');
    expect((await cli(config, ['prescale', '--campaign', 'spring', '--schedule', '--plan-out', plan])).code).toBe(0);
    const before = await readRegistered(aas, WEB);
    await aas.send(new RegisterScalableTargetCommand({ ...WEB, ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: before!.min, MaxCapacity: before!.max + 7 }));
    await control.clearRequests();
    const res = await cli(config, ['apply', plan, '--yes', '--json']);
    expect(res.code).toBe(1);
    const doc = JSON.parse(res.stdout) as { error: { code: string; details: string[] } };
    expect(doc.error.code).toBe('PLAN_STALE');
    expect(doc.error.details.join('\n')).toContain(`registered.max: ${before!.max} → ${before!.max + 7}`);
    expect(await aasWrites()).toEqual([]);
    expect(await names()).toEqual([]);
  });

  it('raise now: plan-out then apply registers the planned minimum and schedules the way down', async () => {
    const config = await writeConfig(CAMPAIGN);
    const plan = path.join(path.dirname(config), 'raise.json');
    expect((await cli(config, ['prescale', '--campaign', 'spring', '--plan-out', plan])).code).toBe(0);
    expect(JSON.parse(await readFile(plan, 'utf8')).kind).toBe('prescale.raise');
    const res = await cli(config, ['apply', plan, '--yes', '--wait', '0']);
    expect(res.code, res.stderr).toBe(0);
    expect((await readRegistered(aas, WEB))!.min).toBe(40);
    expect((await names()).some((n) => n.includes('-down '))).toBe(true);
  });

  it('restore: plan-out then apply puts the baseline back; an edited plan is exit 2; an expired one exit 1', async () => {
    const config = await writeConfig(CAMPAIGN);
    const dir = path.dirname(config);
    const baseline = await readRegistered(aas, WEB);
    expect((await cli(config, ['prescale', '--campaign', 'spring', '--yes', '--wait', '0'])).code).toBe(0);
    expect((await readRegistered(aas, WEB))!.min).toBe(40);

    const plan = path.join(dir, 'restore.json');
    expect((await cli(config, ['prescale', 'restore', '--campaign', 'spring', '--plan-out', plan])).code).toBe(0);
    expect(JSON.parse(await readFile(plan, 'utf8')).kind).toBe('prescale.restore');

    const text = await readFile(plan, 'utf8');
    await writeFile(path.join(dir, 'edited.json'), text.replace(/"min": 40/, '"min": 41'));
    const edited = await cli(config, ['apply', path.join(dir, 'edited.json'), '--yes']);
    expect(edited.code).toBe(2);

    expect((await cli(config, ['prescale', 'restore', '--campaign', 'spring', '--plan-out', path.join(dir, 'short.json'), '--plan-ttl', '1ms'])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    const expired = await cli(config, ['apply', path.join(dir, 'short.json'), '--yes']);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toContain('re-plan, nothing was changed');
    expect((await readRegistered(aas, WEB))!.min).toBe(40);

    const res = await cli(config, ['apply', plan, '--yes', '--wait', '0']);
    expect(res.code, res.stderr).toBe(0);
    expect(await readRegistered(aas, WEB)).toEqual(baseline);
    expect(await names()).toEqual([]);
  });

  it('Ctrl-C during apply: exit 130 with the writes sent let finish; a rerun of the plan shows the half-applied state as changed, nothing written', async () => {
    const config = await writeConfig(CAMPAIGN);
    const plan = path.join(path.dirname(config), 'prescale.json');
    expect((await cli(config, ['prescale', '--campaign', 'spring', '--schedule', '--plan-out', plan])).code).toBe(0);
    await control.fault({ service: 'application-autoscaling', operation: 'PutScheduledAction', delayMs: 1500, forward: true, times: 0 });
    await control.clearRequests();
    // the signal once the first held PutScheduledAction is on the wire (the request log), whatever the runner's speed
    const held = async () => (await control.requests()).some((r) => r.operation === 'PutScheduledAction');
    const res = await spawnCli(['apply', plan, '--yes', '--config', config], { env, signalWhen: held });
    await control.clearFaults();
    expect(res.code).toBe(130);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    const half = await names();
    expect(half.length).toBeGreaterThan(0);
    await control.clearRequests();
    const spent = await cli(config, ['apply', plan, '--yes']);
    expect([spent.code, spent.stderr]).toEqual([1, expect.stringContaining('already applied at')]);
    const again = await spawnCli(['apply', plan, '--yes', '--config', config], { env: { ...env, ...otherHost() } });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('changed since it was made: not applied, nothing was changed');
    expect(await aasWrites()).toEqual([]);
    expect(await names()).toEqual(half);
    // the direct command finishes the job from there
    expect((await cli(config, ['prescale', '--campaign', 'spring', '--schedule', '--yes'])).code).toBe(0);
    expect((await names()).length).toBeGreaterThanOrEqual(half.length);
  });

  it('credentials of another account are exit 2 and write nothing', async () => {
    const config = await writeConfig(CAMPAIGN);
    const dir = path.dirname(config);
    const plan = path.join(dir, 'prescale.json');
    expect((await cli(config, ['prescale', '--campaign', 'spring', '--schedule', '--plan-out', plan])).code).toBe(0);
    await writeFile(path.join(dir, 'aws-config'), '[profile base]\nregion = us-east-1\n[profile other]\nrole_arn = arn:aws:iam::111122223333:role/retailctl-deploy\nsource_profile = base\nregion = us-east-1\n');
    await writeFile(path.join(dir, 'aws-credentials'), '[base]\naws_access_key_id = testing\naws_secret_access_key = testing\n');
    await control.clearRequests();
    const res = await spawnCli(['apply', plan, '--yes', '--profile', 'other', '--config', config], { env: { AWS_ENDPOINT_URL: endpoint, AWS_CONFIG_FILE: path.join(dir, 'aws-config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'aws-credentials') } });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('but these credentials are account 111122223333 in us-east-1: not applied');
    expect(await aasWrites()).toEqual([]);
  });

  it('a --schedule plan applied after its scale-up time is refused (exit 1, re-plan), a raise plan after the window too; nothing written', async () => {
    const config = await writeConfig(CAMPAIGN);
    const dir = path.dirname(config);
    const { runInProcess } = await import('../support/streams.js');
    const inProcess = (args: string[], now: string) => runInProcess([...args, '--config', config, '--endpoint-url', endpoint], { env: { ...env, CI: 'true' }, cwd: dir, now: () => new Date(now) });
    const made = '2030-03-10T08:00:00Z';
    const planned = await inProcess(['prescale', '--campaign', 'spring', '--schedule', '--plan-out', path.join(dir, 's.json')], made);
    expect(planned.code, planned.stderr).toBe(0);
    expect((await inProcess(['prescale', '--campaign', 'spring', '--plan-out', path.join(dir, 'r.json'), '--plan-ttl', '30d'], made)).code).toBe(0);
    await control.clearRequests();
    // up is at 09:40Z: applied at 09:45Z (within the plan's 24 h) it would schedule a time already past
    const late = await inProcess(['apply', path.join(dir, 's.json'), '--yes'], '2030-03-10T09:45:00Z');
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('retailctl-spring-storefront-web-up at 2030-03-10T09:40:00Z has passed');
    expect(late.stderr).toContain('re-plan, nothing was changed');
    // the window ended at 13:00Z: raising then would leave capacity up with its way down in the past
    const after = await inProcess(['apply', path.join(dir, 'r.json'), '--yes', '--wait', '0'], '2030-03-10T14:00:00Z');
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/-down at 2030-03-10T1\d:\d\d:00Z has passed/);
    expect(await aasWrites()).toEqual([]);
    expect(await names()).toEqual([]);
  });

  it('a forged plan (digest recomputed) that writes a target its preconditions do not cover is exit 2, nothing written', async () => {
    const config = await writeConfig(CAMPAIGN);
    const plan = path.join(path.dirname(config), 'prescale.json');
    expect((await cli(config, ['prescale', '--campaign', 'spring', '--schedule', '--plan-out', plan])).code).toBe(0);
    const { digestOf } = await import('../../src/lib/plan/document.js');
    const doc = JSON.parse(await readFile(plan, 'utf8')) as { preconditions: { id: string }[] } & Record<string, unknown>;
    const forged = { ...doc, preconditions: doc.preconditions.filter((p) => !p.id.includes('storefront/web')) };
    await writeFile(plan, JSON.stringify({ ...forged, digest: digestOf(forged as never) }));
    await control.clearRequests();
    const res = await cli(config, ['apply', plan, '--yes']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('its preconditions do not cover what it changes (ecs storefront/web');
    expect(await aasWrites()).toEqual([]);
  });

  it('prescale status refuses --plan-out (it only reads)', async () => {
    const config = await writeConfig(CAMPAIGN);
    const res = await cli(config, ['prescale', 'status', '--campaign', 'spring', '--plan-out', path.join(path.dirname(config), 'x.json')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--plan-out: prescale status only reads');
  });
});
