/**
 * `retailctl prescale --yes` for a campaign of 50 targets against the emulator: plan + apply + ready,
 * wall time (process start included) and AWS calls, with the emulated provisioned-concurrency
 * delay set to 0 (the goal excludes it). Goal: under 3 s.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationAutoScalingClient, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateFunctionCommand, LambdaClient, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { EmulatorControl, startEmulator } from '../test/support/emulator.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EMPTY_ZIP = Buffer.from(`504b0506${'00'.repeat(18)}`, 'hex');

export interface PrescaleFigures {
  targets: number;
  wallMs: number;
  calls: number;
  byOperation: Record<string, number>;
}

async function seed(endpoint: string, counts: { lambda: number; ecs: number; dynamodb: number }): Promise<string[]> {
  const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const iam = new IAMClient(common);
  const lambda = new LambdaClient(common);
  const ecs = new ECSClient(common);
  const dynamodb = new DynamoDBClient(common);
  const aas = new ApplicationAutoScalingClient(common);
  const targets: string[] = [];
  const role = await iam.send(new CreateRoleCommand({ RoleName: 'bench', AssumeRolePolicyDocument: '{}' }));
  for (let i = 0; i < counts.lambda; i++) {
    await lambda.send(new CreateFunctionCommand({ FunctionName: `fn-${i}`, Runtime: 'nodejs20.x', Role: role.Role!.Arn!, Handler: 'index.handler', Code: { ZipFile: EMPTY_ZIP } }));
    const v = await lambda.send(new PublishVersionCommand({ FunctionName: `fn-${i}` }));
    await lambda.send(new CreateAliasCommand({ FunctionName: `fn-${i}`, Name: 'live', FunctionVersion: v.Version! }));
    targets.push(`      - lambda: fn-${i}:live\n        provisioned: 5`);
  }
  await ecs.send(new CreateClusterCommand({ clusterName: 'bench' }));
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image: 'nginx', memory: 128 }] }));
  for (let i = 0; i < counts.ecs; i++) {
    await ecs.send(new CreateServiceCommand({ cluster: 'bench', serviceName: `svc-${i}`, taskDefinition: 'web', desiredCount: 1 }));
    await aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: `service/bench/svc-${i}`, ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 1, MaxCapacity: 10 }));
    targets.push(`      - ecs: bench/svc-${i}\n        min: 4`);
  }
  for (let i = 0; i < counts.dynamodb; i++) {
    await dynamodb.send(new CreateTableCommand({ TableName: `tbl-${i}`, AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }], BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 } }));
    await aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'dynamodb', ResourceId: `table/tbl-${i}`, ScalableDimension: 'dynamodb:table:ReadCapacityUnits', MinCapacity: 5, MaxCapacity: 100 }));
    targets.push(`      - dynamodb: tbl-${i}\n        read: 50`);
  }
  for (const c of [iam, lambda, ecs, dynamodb, aas]) c.destroy();
  return targets;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'retailctl.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, stdout }));
  });
}

export async function benchPrescale(): Promise<PrescaleFigures> {
  const emulator = await startEmulator();
  const control = new EmulatorControl(emulator.endpoint);
  try {
    await control.configure({ pcReadyAfterMs: 0 });
    const targets = await seed(emulator.endpoint, { lambda: 20, ecs: 15, dynamodb: 15 });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-bench-prescale-'));
    const sendAt = new Date(Date.now() + 2 * 3_600_000).toISOString().slice(0, 19);
    await writeFile(path.join(dir, 'retailctl.yaml'), `campaigns:\n  bench:\n    sendAt: "${sendAt}"\n    timezone: UTC\n    leadTime: 20m\n    duration: 1h\n    targets:\n${targets.join('\n')}\n`);
    await control.clearRequests();
    const started = process.hrtime.bigint();
    const res = await run(['prescale', '--campaign', 'bench', '--yes', '--wait', '60s', '--config', path.join(dir, 'retailctl.yaml')], { ...process.env, ...emulator.env, CI: 'true' });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (res.code !== 0) throw new Error(`prescale exited ${res.code}: ${res.stderr}\n${res.stdout}`);
    const requests = await control.requests();
    const byOperation: Record<string, number> = {};
    for (const r of requests) {
      const op = r.operation ?? `${r.service ?? '?'} ${r.method} ${r.path.split('?')[0]!.replace(/\/functions\/[^/]+/, '/functions/…')}`;
      byOperation[op] = (byOperation[op] ?? 0) + 1;
    }
    return { targets: targets.length, wallMs, calls: requests.length, byOperation };
  } finally {
    await emulator.stop();
  }
}

export function printPrescale(f: PrescaleFigures): void {
  console.log(`\nprescale --yes for ${f.targets} targets against the emulator (process start included, emulated readiness delay 0)`);
  console.log(`wall ${f.wallMs.toFixed(0)} ms, ${f.calls} AWS calls (${(f.calls / f.targets).toFixed(1)} per target), at most 10 targets in flight`);
  for (const [op, n] of Object.entries(f.byOperation).sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(4)}  ${op}`);
  console.log(`goal: under 3000 ms: ${f.wallMs < 3000 ? 'met' : 'NOT met'}`);
}
