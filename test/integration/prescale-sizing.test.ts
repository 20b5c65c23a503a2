/**
 * Prescale sized from the last campaign (`sizing.fromSend`): the peak of the alias's own
 * ConcurrentExecutions in that send's window, read with GetMetricData, times the growth.
 * The metrics are seeded with PutMetricData a day before the real clock (within the emulator's
 * retention); the run's clock is fixed before the campaign it plans.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedStorefront } from '../support/seed.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const aas = new ApplicationAutoScalingClient(common);
const cloudwatch = new CloudWatchClient(common);
afterAll(() => [aas, cloudwatch].forEach((c) => c.destroy()));

const ZONE = 'America/New_York';
// the last campaign: a day before the real clock, on the hour
const lastSend = DateTime.utc().minus({ days: 1 }).startOf('hour');
const local = (t: DateTime) => t.setZone(ZONE).toFormat("yyyy-MM-dd'T'HH:mm:ss");
const zulu = (t: DateTime) => t.toUTC().toFormat('yyyy-MM-dd HH:mm');
const NOW = () => new Date('2026-11-27T15:00:00Z');

const CAMPAIGNS = `campaigns:
  repeat:
    sendAt: "2026-11-27T11:00:00"
    timezone: ${ZONE}
    leadTime: 15m
    duration: 3h
    targets:
      - lambda: checkout-api:live
        sizing:
          fromSend: "${local(lastSend)}"
          growth: 1.2
  silent:
    sendAt: "2026-11-27T11:00:00"
    timezone: ${ZONE}
    leadTime: 15m
    duration: 3h
    targets:
      - lambda: pricing-api:live
        sizing:
          fromSend: "${local(lastSend)}"
          growth: 1.2
          window: 1h
  tables:
    sendAt: "2026-11-27T11:00:00"
    timezone: ${ZONE}
    leadTime: 15m
    duration: 3h
    targets:
      - dynamodb: Carts
        sizing:
          fromSend: "${local(lastSend)}"
          growth: 1.2
`;
const ECS = `campaigns:
  web:
    sendAt: "2026-11-27T11:00:00"
    timezone: ${ZONE}
    leadTime: 15m
    duration: 3h
    targets:
      - ecs: storefront/web
        sizing:
          fromSend: "${local(lastSend)}"
          growth: 1.2
          targetCpu: 60
  web-no-insights:
    sendAt: "2026-11-27T11:00:00"
    timezone: ${ZONE}
    leadTime: 15m
    duration: 3h
    targets:
      - ecs: storefront/api
        sizing:
          fromSend: "${local(lastSend)}"
          growth: 1.2
          targetCpu: 60
`;
// the `web` campaign with a config `max` below its sized minimum
const ECS_CAPPED = ECS.split('  web-no-insights:')[0]!.replace('  web:', '  web-capped:').replace('      - ecs: storefront/web\n', '      - ecs: storefront/web\n        max: 10\n');
const ECS_MIN_ABOVE_MAX = `campaigns:
  web-min-above-max:
    sendAt: "2026-11-27T11:00:00"
    timezone: ${ZONE}
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 12
        max: 10
`;
const ECS_BOTH = `campaigns:
  web-both:
    sendAt: "2026-11-27T11:00:00"
    timezone: ${ZONE}
    duration: 3h
    targets:
      - ecs: storefront/web
        min: 4
        sizing:
          fromSend: "${local(lastSend)}"
          growth: 1.2
          targetCpu: 60
`;
const BOTH = `campaigns:
  both:
    sendAt: "2026-11-27T11:00:00"
    timezone: ${ZONE}
    duration: 3h
    targets:
      - lambda: pricing-api:live
        provisioned: 10
        sizing:
          fromSend: "${local(lastSend)}"
          growth: 1.2
`;

let configFile: string;

async function put(resource: string, at: DateTime, value: number) {
  const [functionName] = resource.split(':');
  await cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: 'AWS/Lambda',
      MetricData: [{ MetricName: 'ConcurrentExecutions', Dimensions: [{ Name: 'FunctionName', Value: functionName! }, { Name: 'Resource', Value: resource }], Timestamp: at.toJSDate(), Value: value, Unit: 'Count' }],
    }),
  );
}

beforeAll(async () => {
  await control.reset();
  await seedStorefront(endpoint);
  await control.configure({ pcReadyAfterMs: 500 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-prescale-sizing-'));
  configFile = path.join(dir, 'retailctl.yaml');
  await writeFile(configFile, CAMPAIGNS);
  // inside the window (send − 15m to send + 3h): 300, 412, 380
  await put('checkout-api:live', lastSend.minus({ minutes: 10 }), 300);
  await put('checkout-api:live', lastSend.plus({ hours: 1 }), 412);
  await put('checkout-api:live', lastSend.plus({ hours: 2 }), 380);
  // outside it, or another alias: not counted
  await put('checkout-api:live', lastSend.minus({ minutes: 30 }), 900);
  await put('checkout-api:live', lastSend.plus({ hours: 3, minutes: 10 }), 950);
  await put('checkout-api:other', lastSend.plus({ hours: 1 }), 800);
  // Carts: consumed units per minute (412/s and 100/s at the peak); an index's own are not the table's
  for (const [metric, at, value, index] of [
    ['ConsumedReadCapacityUnits', lastSend.plus({ minutes: 30 }), 12_000, undefined],
    ['ConsumedReadCapacityUnits', lastSend.plus({ hours: 1 }), 24_720, undefined],
    ['ConsumedReadCapacityUnits', lastSend.plus({ hours: 1 }), 60_000, 'ByCustomer'],
    ['ConsumedWriteCapacityUnits', lastSend.plus({ hours: 1 }), 6_000, undefined],
    ['ConsumedWriteCapacityUnits', lastSend.minus({ hours: 1 }), 60_000, undefined],
  ] as const) {
    const dimensions = [{ Name: 'TableName', Value: 'Carts' }, ...(index ? [{ Name: 'GlobalSecondaryIndexName', Value: index }] : [])];
    await cloudwatch.send(new PutMetricDataCommand({ Namespace: 'AWS/DynamoDB', MetricData: [{ MetricName: metric, Dimensions: dimensions, Timestamp: at.toJSDate(), Value: value, Unit: 'Count' }] }));
  }
  // storefront/web: CPU % and running tasks per minute. The busiest minute is not the one with the
  // highest CPU (90% × 4 tasks = 360) but 75% × 8 tasks = 600; a minute outside the window is not counted
  const ecsPoint = async (namespace: string, metric: string, service: string, at: DateTime, value: number) =>
    cloudwatch.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: [{ MetricName: metric, Dimensions: [{ Name: 'ClusterName', Value: 'storefront' }, { Name: 'ServiceName', Value: service }], Timestamp: at.toJSDate(), Value: value, Unit: metric === 'CPUUtilization' ? 'Percent' : 'Count' }] }));
  for (const [at, cpu, tasks] of [
    [lastSend.plus({ minutes: 5 }), 90, 4],
    [lastSend.plus({ minutes: 40 }), 75, 8],
    [lastSend.plus({ hours: 2 }), 50, 6],
    [lastSend.minus({ hours: 1 }), 95, 20],
  ] as const) {
    await ecsPoint('AWS/ECS', 'CPUUtilization', 'web', at, cpu);
    await ecsPoint('ECS/ContainerInsights', 'RunningTaskCount', 'web', at, tasks);
  }
  // storefront/api: CPU only (no Container Insights on it)
  await ecsPoint('AWS/ECS', 'CPUUtilization', 'api', lastSend.plus({ minutes: 40 }), 80);
  // pricing-api has datapoints only after its 1 h window
  await put('pricing-api:live', lastSend.plus({ hours: 2 }), 50);
});

function cli(args: string[], config = configFile, now = NOW) {
  return runInProcess([...args, '--config', config, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, now });
}

const writes = async () => (await control.requests()).filter((r) => r.operation && /^(Register|Put|Delete)/.test(r.operation) && r.operation !== 'PutMetricData');

const window = `${zulu(lastSend.minus({ minutes: 15 }))}Z–${lastSend.plus({ hours: 3 }).toUTC().toFormat('yyyy-MM-dd') === lastSend.toUTC().toFormat('yyyy-MM-dd') ? '' : `${lastSend.plus({ hours: 3 }).toUTC().toFormat('yyyy-MM-dd')} `}${lastSend.plus({ hours: 3 }).toUTC().toFormat('HH:mm')}Z`;
const arithmetic = `sized: ceil(peak 412 concurrent (max of ConcurrentExecutions, ${window}) × 1.2) = 495`;

describe('prescale sized from the last campaign', () => {
  it('--dry-run and --plan-out show the sized minimum and its arithmetic', async () => {
    await control.clearRequests();
    const dry = await cli(['prescale', '--campaign', 'repeat', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/lambda checkout-api:live\s+min 0 → 495/);
    expect(dry.stdout).toContain(arithmetic);
    const planFile = path.join(path.dirname(configFile), 'repeat.plan.json');
    const out = await cli(['prescale', '--campaign', 'repeat', '--plan-out', planFile]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout + out.stderr).toContain(arithmetic);
    expect(await readFile(planFile, 'utf8')).toContain(arithmetic.replace('sized: ', ''));
    const requests = (await control.requests()).map((r) => r.operation);
    expect(requests).toContain('GetMetricData');
    expect(requests.filter((o) => o && /^(Register|Put|Delete)/.test(o))).toEqual([]);
  });

  it('a run registers the sized minimum', { timeout: 30_000 }, async () => {
    const res = await cli(['prescale', '--campaign', 'repeat', '--yes', '--wait', '20s']);
    expect(res.code, res.stderr).toBe(0);
    const targets = await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'lambda', ResourceIds: ['function:checkout-api:live'] }));
    expect(targets.ScalableTargets?.[0]).toMatchObject({ MinCapacity: 495 });
  });

  it('a provisioned table: read and write from the consumed units per second', async () => {
    const res = await cli(['prescale', '--campaign', 'tables', '--dry-run']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/dynamodb Carts \(read\)\s+min 100 → 495/);
    expect(res.stdout).toMatch(/dynamodb Carts \(write\)\s+min 50 → 120/);
    expect(res.stdout).toContain(`sized: ceil(peak 412 units/s (sum of ConsumedReadCapacityUnits per 60 s / 60, ${window}) × 1.2) = 495`);
    expect(res.stdout).toContain(`sized: ceil(peak 100 units/s (sum of ConsumedWriteCapacityUnits per 60 s / 60, ${window}) × 1.2) = 120`);
  });

  it('no datapoints in the window: exit 2 naming the metric, its dimensions and the window (UTC)', async () => {
    await control.clearRequests();
    const res = await cli(['prescale', '--campaign', 'silent', '--dry-run']);
    expect(res.code).toBe(2);
    const start = lastSend.minus({ minutes: 15 }).toUTC().toISO({ suppressMilliseconds: true });
    const end = lastSend.plus({ hours: 1 }).toUTC().toISO({ suppressMilliseconds: true });
    expect(res.stderr).toContain(`lambda pricing-api:live: no datapoints for AWS/Lambda ConcurrentExecutions (FunctionName=pricing-api, Resource=pricing-api:live) from ${start} to ${end} (UTC`);
    expect((await control.requests()).filter((r) => r.operation && /^(Register|Put|Delete)/.test(r.operation))).toEqual([]);
  });

  it('an ECS service: min from the busiest minute of CPUUtilization × RunningTaskCount, run at targetCpu', { timeout: 30_000 }, async () => {
    const ecs = path.join(path.dirname(configFile), 'ecs.yaml');
    await writeFile(ecs, ECS);
    const dry = await cli(['prescale', '--campaign', 'web', '--dry-run'], ecs);
    expect(dry.code, dry.stderr).toBe(0);
    // ceil(600 / 60 × 1.2) = 12
    expect(dry.stdout).toMatch(/ecs storefront\/web\s+min 4 → 12/);
    expect(dry.stdout).toContain(`sized: ceil(peak 600 %·tasks (max per 60 s of CPUUtilization × RunningTaskCount, ${window}) / 60% × 1.2) = 12`);
    const res = await cli(['prescale', '--campaign', 'web', '--yes', '--wait', '0'], ecs);
    expect(res.code, res.stderr).toBe(0);
    const targets = await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: ['service/storefront/web'] }));
    expect(targets.ScalableTargets?.[0]).toMatchObject({ MinCapacity: 12 });

    // no Container Insights: exit 2 naming the metric and what to do, nothing written
    await control.clearRequests();
    const none = await cli(['prescale', '--campaign', 'web-no-insights', '--dry-run'], ecs);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('ecs storefront/api: no datapoints for ECS/ContainerInsights RunningTaskCount (ClusterName=storefront, ServiceName=api)');
    expect(none.stderr).toContain('turn Container Insights on for the cluster, or give `min`');
    expect((await control.requests()).filter((r) => r.operation && /^(Register|Put|Delete)/.test(r.operation))).toEqual([]);

    const bothFile = path.join(path.dirname(configFile), 'ecs-both.yaml');
    await writeFile(bothFile, ECS_BOTH);
    const both = await cli(['prescale', '--campaign', 'web-both', '--dry-run'], bothFile);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give exactly one of `min` or `sizing`');
  });

  it('an ECS service sized above the `max` its config gives: the maximum is raised to fit, as for `min` (a config `max` never lowers the registered one)', async () => {
    const capped = path.join(path.dirname(configFile), 'ecs-capped.yaml');
    await writeFile(capped, ECS_CAPPED);
    const res = await cli(['prescale', '--campaign', 'web-capped', '--dry-run', '--json'], capped);
    expect(res.code, res.stderr).toBe(0);
    type Doc = { plan: { targets: { ref: { label: string }; planned: { min: number; max: number } }[] } };
    const plan = JSON.parse(res.stdout) as Doc;
    expect(plan.plan.targets.find((t) => t.ref.label === 'ecs storefront/web')!.planned).toEqual({ min: 12, max: 20 });
    const minAbove = path.join(path.dirname(configFile), 'ecs-min-above-max.yaml');
    await writeFile(minAbove, ECS_MIN_ABOVE_MAX);
    const fixed = await cli(['prescale', '--campaign', 'web-min-above-max', '--dry-run', '--json'], minAbove);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect((JSON.parse(fixed.stdout) as Doc).plan.targets[0]!.planned).toEqual({ min: 12, max: 20 });
  });

  it('status --check the morning after a sized ECS service was raised: exit 5 while it is still above its baseline, 0 once restored', { timeout: 30_000 }, async () => {
    const ecs = path.join(path.dirname(configFile), 'ecs-check.yaml');
    await writeFile(ecs, ECS.replace('web:', 'web-check:'));
    const raised = await cli(['prescale', '--campaign', 'web-check', '--yes', '--wait', '0'], ecs);
    expect(raised.code, raised.stderr).toBe(0);
    // the window (ready 10:45, ends 14:00 New York) is over; the down action did not bring it back
    const after = () => new Date('2026-11-27T20:30:00Z');
    const check = await cli(['prescale', 'status', '--campaign', 'web-check', '--check', '--json'], ecs, after);
    expect(check.code, check.stderr).toBe(5);
    const doc = JSON.parse(check.stdout) as { targets: { target: string; planned: number }[]; check: { passed: boolean; verdicts: { target: string; verdict: string; reasons: string[] }[] } };
    expect(doc.targets.find((t) => t.target === 'ecs storefront/web')!.planned).toBe(12);
    expect(doc.check.passed).toBe(false);
    expect(doc.check.verdicts).toContainEqual(expect.objectContaining({ target: 'ecs storefront/web', verdict: 'above-baseline', reasons: [expect.stringContaining('registered 12/20, baseline 4/20')] }));
    const restored = await cli(['prescale', 'restore', '--campaign', 'web-check', '--yes', '--wait', '0'], ecs, after);
    expect(restored.code).toBe(0);
    const clean = await cli(['prescale', 'status', '--campaign', 'web-check', '--check'], ecs, after);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    const targets = await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: ['service/storefront/web'] }));
    expect(targets.ScalableTargets?.[0]).toMatchObject({ MinCapacity: 4, MaxCapacity: 20 });
  });

  it('a target gives exactly one of `provisioned` or `sizing`', async () => {
    const both = path.join(path.dirname(configFile), 'both.yaml');
    await writeFile(both, BOTH);
    const res = await cli(['prescale', '--campaign', 'both', '--dry-run'], both);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('give exactly one of `provisioned` or `sizing`');
  });
});
