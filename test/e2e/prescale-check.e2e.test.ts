/**
 * `prescale status --check`, the scheduled CI job the morning after: against the emulator, with the
 * state last night's run left in AWS (the registered values it raised and its up, drain and down
 * actions, written here as prescale writes them, since moto never fires a scheduled action). Exit 5
 * while a target is above its baseline or its way down is missing, 0 once it is back, 0 (and said
 * so) before the window has ended; warm throughput is reported, never a failure.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationAutoScalingClient, DeleteScheduledActionCommand, PutScheduledActionCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CreateTableCommand, DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedStorefront } from '../support/seed.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const aas = new ApplicationAutoScalingClient({ endpoint, region: 'us-east-1', credentials });
const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
afterAll(() => {
  aas.destroy();
  dynamodb.destroy();
});

const ECS = { ServiceNamespace: 'ecs' as const, ResourceId: 'service/storefront/web', ScalableDimension: 'ecs:service:DesiredCount' as const };
const minute = (offset: number) => new Date(Math.floor(Date.now() / 60_000) * 60_000 + offset * 60_000);
const local = (d: Date) => d.toISOString().slice(0, 19);
// last night: sent 5 h ago, a 1 h window (ready 20 min before), way down at its end
const sent = minute(-300);
const ended = minute(-240);

let config: string;
const run = (args: string[]) => spawnCli([...args, '--config', config], { env: { ...env, AWS_REGION: 'us-east-1' } });
const check = (campaign: string, json = false) => run(['prescale', 'status', '--campaign', campaign, '--check', ...(json ? ['--json'] : [])]);

async function put(direction: 'up' | 'drain' | 'down', at: Date, min: number, max: number): Promise<void> {
  await aas.send(new PutScheduledActionCommand({ ...ECS, ScheduledActionName: `retailctl-last-night-storefront-web-${direction}`, Schedule: `at(${local(at)})`, Timezone: 'UTC', ScalableTargetAction: { MinCapacity: min, MaxCapacity: max } }));
}
const register = (min: number, max: number) => aas.send(new RegisterScalableTargetCommand({ ...ECS, MinCapacity: min, MaxCapacity: max }));

beforeAll(async () => {
  await seedStorefront(endpoint);
  await dynamodb.send(new CreateTableCommand({ TableName: 'Sessions', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] }));
  await control.configure({ dynamodbWarm: { updatingMs: 0 } });
  await dynamodb.send(new UpdateTableCommand({ TableName: 'Sessions', WarmThroughput: { ReadUnitsPerSecond: 40000 } }));
  const targets = '    targets:\n      - ecs: storefront/web\n        min: 40\n      - dynamodb: Sessions\n        warm: { read: 40000 }\n';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-e2e-check-'));
  config = path.join(dir, 'retailctl.yaml');
  await writeFile(
    config,
    `campaigns:\n  last-night:\n    sendAt: "${local(sent)}"\n    timezone: UTC\n    leadTime: 20m\n    duration: 1h\n${targets}` +
      `  tomorrow:\n    sendAt: "${local(minute(20 * 60))}"\n    timezone: UTC\n    leadTime: 20m\n    duration: 1h\n${targets}`,
  );
  // what last night's raise left: 40/40 registered (40 tasks), its way down written before the raise
  await put('up', minute(-320), 40, 40);
  await put('drain', ended, 4, 4);
  await put('down', minute(-238), 4, 20);
  await register(40, 40);
});

describe('prescale status --check after the window', () => {
  it('exit 5 while a target is still above its baseline (the way down did not bring it back); --json has per-target verdicts', { timeout: 30_000 }, async () => {
    const res = await check('last-night');
    expect(res.code, res.stderr).toBe(5);
    expect(res.stdout).toMatch(/check failed: 1 of 2 targets of last-night are not back after the window/);
    expect(res.stdout).toMatch(/✗ ecs storefront\/web: above-baseline: still above its baseline after the window: registered 40\/40, baseline 4\/20; capacity 40, before the campaign 4/);
    expect(res.stdout).toMatch(/✓ dynamodb Sessions \(warm\): warm: warm throughput read 40000/);
    const json = await check('last-night', true);
    expect(json.code).toBe(5);
    const doc = JSON.parse(json.stdout) as { check: { windowEnded: boolean; passed: boolean; verdicts: { target: string; verdict: string; fails: boolean }[] } };
    expect(doc.check.windowEnded).toBe(true);
    expect(doc.check.passed).toBe(false);
    expect(doc.check.verdicts).toEqual([
      expect.objectContaining({ target: 'ecs storefront/web', verdict: 'above-baseline', fails: true }),
      expect.objectContaining({ target: 'dynamodb Sessions (warm)', verdict: 'warm', fails: false }),
    ]);
  });

  it('exit 0 once the drain and down have brought it back; warm throughput is reported, not failed', { timeout: 30_000 }, async () => {
    // what AWS does when the drain, then the down, fire
    await register(4, 4);
    await register(4, 20);
    const res = await check('last-night');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/check passed: every target of last-night is back at its baseline/);
    expect(res.stdout).toMatch(/✓ ecs storefront\/web: ok: back at its baseline 4\/20/);
    expect(res.stdout).toMatch(/it cannot be lowered, so it is not checked against a baseline/);
  });

  it('another campaign merely scheduled for later on the same target holds nothing now: still exit 5', { timeout: 30_000 }, async () => {
    const later = (d: 'up' | 'drain' | 'down', at: Date, min: number, max: number) => aas.send(new PutScheduledActionCommand({ ...ECS, ScheduledActionName: `retailctl-tomorrow-storefront-web-${d}`, Schedule: `at(${local(at)})`, Timezone: 'UTC', ScalableTargetAction: { MinCapacity: min, MaxCapacity: max } }));
    await later('up', minute(20 * 60 - 20), 40, 40);
    await later('drain', minute(21 * 60), 4, 4);
    await later('down', minute(21 * 60 + 2), 4, 20);
    await register(40, 40); // last night's raise still in place
    try {
      const res = await check('last-night');
      expect(res.code, res.stdout + res.stderr).toBe(5);
      expect(res.stdout).toMatch(/✗ ecs storefront\/web: above-baseline/);
    } finally {
      for (const d of ['up', 'drain', 'down'] as const) await aas.send(new DeleteScheduledActionCommand({ ...ECS, ScheduledActionName: `retailctl-tomorrow-storefront-web-${d}` }));
      await register(4, 20); // back at the baseline, as the test before left it
    }
  });

  it('exit 5 when its down action is missing', { timeout: 30_000 }, async () => {
    await aas.send(new DeleteScheduledActionCommand({ ...ECS, ScheduledActionName: 'retailctl-last-night-storefront-web-down' }));
    const res = await check('last-night', true);
    expect(res.code).toBe(5);
    const doc = JSON.parse(res.stdout) as { check: { verdicts: { target: string; verdict: string; reasons: string[] }[] } };
    expect(doc.check.verdicts[0]).toEqual(expect.objectContaining({ target: 'ecs storefront/web', verdict: 'missing-actions', reasons: [expect.stringMatching(/down action retailctl-last-night-storefront-web-down is missing/)] }));
  });

  it('before the window has ended: says so and exits 0', { timeout: 30_000 }, async () => {
    const res = await check('tomorrow');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/check: the window of tomorrow has not ended \(it ends at .+\): nothing to check yet/);
  });
});
