/**
 * Warm throughput of on-demand DynamoDB tables, end to end against the emulator: the built binary,
 * moto's tables, and the shim's warm-throughput rules (values only increase; UPDATING, then ACTIVE).
 * A dry run makes no write call (the shim's request log), a rerun is a no-op, a higher value set by
 * another operator is never lowered, the billing mode decides between `read`/`write` and `warm`
 * (exit 2), a plan file carries the UpdateTable actions, and Ctrl-C lets a sent UpdateTable land.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
afterAll(() => dynamodb.destroy());

const WRITES = new Set(['UpdateTable', 'RegisterScalableTarget', 'PutScheduledAction', 'DeleteScheduledAction']);
const sendAt = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 3 * 3_600_000).toISOString().slice(0, 19);

function campaign(name: string, targets: string): string {
  return `  ${name}:\n    sendAt: "${sendAt}"\n    timezone: UTC\n    leadTime: 20m\n    duration: 1h\n    targets:\n${targets}`;
}
const warmTargets = (table: string) => `      - dynamodb: ${table}\n        warm: { read: 40000, write: 12000 }\n      - dynamodb: ${table}/index/ByUser\n        warm: { read: 20000 }\n`;

let config: string;
const run = (args: string[], signalWhen?: () => Promise<boolean>) => spawnCli([...args, '--config', config], { env: { ...env, AWS_REGION: 'us-east-1' }, ...(signalWhen ? { signalWhen } : {}) });

async function onDemand(name: string): Promise<void> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }, { AttributeName: 'user', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [{ IndexName: 'ByUser', KeySchema: [{ AttributeName: 'user', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
    }),
  );
}

async function warmOf(table: string) {
  const t = (await dynamodb.send(new DescribeTableCommand({ TableName: table }))).Table!;
  const index = t.GlobalSecondaryIndexes!.find((g) => g.IndexName === 'ByUser')!;
  return { table: t.WarmThroughput, index: index.WarmThroughput };
}

const writesSent = async () => (await control.requests()).filter((r) => r.operation && WRITES.has(r.operation));

beforeAll(async () => {
  await control.configure({ dynamodbWarm: { updatingMs: 1500 } });
  for (const t of ['Sessions', 'Orders', 'Signals', 'Later', 'Twice']) await onDemand(t);
  await dynamodb.send(
    new CreateTableCommand({ TableName: 'Carts', BillingMode: 'PROVISIONED', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], ProvisionedThroughput: { ReadCapacityUnits: 100, WriteCapacityUnits: 50 } }),
  );
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-e2e-warm-'));
  config = path.join(dir, 'retailctl.yaml');
  await writeFile(
    config,
    `campaigns:\n${campaign('warm-send', warmTargets('Sessions'))}${campaign('planned', warmTargets('Orders'))}${campaign('interrupted', warmTargets('Signals'))}${campaign('scheduled', warmTargets('Later'))}` +
      campaign('twice-a', '      - dynamodb: Twice\n        warm: { read: 40000, write: 12000 }\n') +
      campaign('twice-b', '      - dynamodb: Twice\n        warm: { read: 30000, write: 16000 }\n') +
      campaign('wrong-on-demand', '      - dynamodb: Sessions\n        read: 100\n') +
      campaign('wrong-provisioned', '      - dynamodb: Carts\n        warm: { read: 40000 }\n'),
  );
});

describe('prescale: warm throughput of an on-demand table', () => {
  it('a dry run shows the current values and that warm throughput cannot be lowered, and makes no write call', async () => {
    await control.clearRequests();
    const res = await run(['prescale', '--campaign', 'warm-send', '--dry-run']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/dynamodb Sessions \(warm\)\s+warm throughput read 12000 → 40000, write 4000 → 12000 units\/s/);
    expect(res.stdout).toMatch(/dynamodb Sessions\/index\/ByUser \(warm\)\s+warm throughput read 12000 → 20000, write 4000 \(unchanged\)/);
    expect(res.stdout).toMatch(/warm throughput cannot be lowered afterwards/);
    expect(await writesSent()).toEqual([]);
    const json = await run(['prescale', '--campaign', 'warm-send', '--dry-run', '--json']);
    const doc = JSON.parse(json.stdout) as { actions: { call: string; params: Record<string, unknown> }[]; preconditions: { id: string; value: unknown }[] };
    expect(doc.actions).toEqual([
      expect.objectContaining({ call: 'dynamodb:UpdateTable', params: { TableName: 'Sessions', WarmThroughput: { ReadUnitsPerSecond: 40000, WriteUnitsPerSecond: 12000 } } }),
      expect.objectContaining({ call: 'dynamodb:UpdateTable', params: { TableName: 'Sessions', GlobalSecondaryIndexUpdates: [{ Update: { IndexName: 'ByUser', WarmThroughput: { ReadUnitsPerSecond: 20000 } } }] } }),
    ]);
    expect(doc.preconditions).toContainEqual(expect.objectContaining({ id: 'dynamodb:warm/Sessions', value: { billingMode: 'PAY_PER_REQUEST', read: 12000, write: 4000 } }));
    expect(await writesSent()).toEqual([]);
  });

  it('raises the table and its index, waits until ACTIVE, and status reports it', { timeout: 60_000 }, async () => {
    const res = await run(['prescale', '--campaign', 'warm-send', '--yes', '--wait', '30s']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/✓ dynamodb Sessions \(warm\): warm throughput set; warm ACTIVE read 40000\/40000, write 12000\/12000 units\/s/);
    const warm = await warmOf('Sessions');
    expect(warm.table).toEqual({ ReadUnitsPerSecond: 40000, WriteUnitsPerSecond: 12000, Status: 'ACTIVE' });
    // the index keeps the write value it was not asked to change
    expect(warm.index).toEqual({ ReadUnitsPerSecond: 20000, WriteUnitsPerSecond: 4000, Status: 'ACTIVE' });
    const status = await run(['prescale', 'status', '--campaign', 'warm-send', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const doc = JSON.parse(status.stdout) as { warm: { target: string; billingMode: string; ready: boolean; warm: unknown }[] };
    expect(doc.warm).toContainEqual(expect.objectContaining({ target: 'dynamodb Sessions (warm)', billingMode: 'PAY_PER_REQUEST', ready: true, warm: { read: 40000, write: 12000, status: 'ACTIVE' } }));
  });

  it('a rerun sends nothing; a higher value set by another operator is never lowered', { timeout: 60_000 }, async () => {
    await control.clearRequests();
    const again = await run(['prescale', '--campaign', 'warm-send', '--yes', '--wait', '30s']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already at or above the request, nothing sent/);
    expect(await writesSent()).toEqual([]);
    // another operator raised the table further; the emulator refuses lowering it, and so would AWS
    await dynamodb.send(new UpdateTableCommand({ TableName: 'Sessions', WarmThroughput: { ReadUnitsPerSecond: 50000 } }));
    await expect(dynamodb.send(new UpdateTableCommand({ TableName: 'Sessions', WarmThroughput: { ReadUnitsPerSecond: 60000 } }))).rejects.toThrow(/still in use/);
    await new Promise((r) => setTimeout(r, 1600));
    await expect(dynamodb.send(new UpdateTableCommand({ TableName: 'Sessions', WarmThroughput: { ReadUnitsPerSecond: 45000 } }))).rejects.toThrow(/cannot be decreased/);
    await control.clearRequests();
    const third = await run(['prescale', '--campaign', 'warm-send', '--yes', '--wait', '30s']);
    expect(third.code, third.stderr).toBe(0);
    expect(await writesSent()).toEqual([]);
    expect((await warmOf('Sessions')).table).toEqual({ ReadUnitsPerSecond: 50000, WriteUnitsPerSecond: 12000, Status: 'ACTIVE' });
  });

  it('two operators raising one table at once: both exit 0, the table ends at the higher of each value, nothing lowered', { timeout: 60_000 }, async () => {
    const [a, b] = await Promise.all([run(['prescale', '--campaign', 'twice-a', '--yes', '--wait', '30s']), run(['prescale', '--campaign', 'twice-b', '--yes', '--wait', '30s'])]);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect((await warmOf('Twice')).table).toEqual({ ReadUnitsPerSecond: 40000, WriteUnitsPerSecond: 16000, Status: 'ACTIVE' });
  });

  it('refuses read/write on an on-demand table and warm on a provisioned one (exit 2, naming the table and its billing mode), writing nothing', async () => {
    await control.clearRequests();
    const onDemand = await run(['prescale', '--campaign', 'wrong-on-demand', '--yes']);
    expect(onDemand.code).toBe(2);
    expect(onDemand.stderr).toMatch(/dynamodb table Sessions is on-demand \(billing mode PAY_PER_REQUEST\)/);
    expect(onDemand.stderr).toMatch(/retailctl\.yaml:\d+:\d+: campaigns\.wrong-on-demand\.targets\[0\]\.read/);
    const provisioned = await run(['prescale', '--campaign', 'wrong-provisioned', '--yes']);
    expect(provisioned.code).toBe(2);
    expect(provisioned.stderr).toMatch(/dynamodb table Carts is provisioned \(billing mode PROVISIONED\): `warm` is for on-demand tables/);
    expect(await writesSent()).toEqual([]);
  });

  it('a plan file carries the UpdateTable actions and is applied exactly; a changed warm value makes it stale', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-e2e-warm-plan-'));
    const planFile = path.join(dir, 'warm.json');
    const made = await run(['prescale', '--campaign', 'planned', '--plan-out', planFile]);
    expect(made.code, made.stderr).toBe(0);
    // another table's change does not matter; this one's does
    const stalePlan = path.join(dir, 'stale.json');
    expect((await run(['prescale', '--campaign', 'planned', '--plan-out', stalePlan])).code).toBe(0);
    const applied = await run(['apply', planFile, '--yes', '--wait', '30s']);
    expect(applied.code, applied.stderr).toBe(0);
    expect((await warmOf('Orders')).table).toEqual({ ReadUnitsPerSecond: 40000, WriteUnitsPerSecond: 12000, Status: 'ACTIVE' });
    const stale = await run(['apply', stalePlan, '--yes']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/dynamodb Orders \(warm\) \(billing mode and warm throughput\): changed/);
  });

  it('Ctrl-C while an UpdateTable is on the wire: it lands, the next is not sent, the rerun finishes', { timeout: 60_000 }, async () => {
    await control.fault({ service: 'dynamodb', operation: 'UpdateTable', delayMs: 1500, forward: true, times: 0 });
    await control.clearRequests();
    const started = Date.now();
    // SIGINT once the first UpdateTable is on its way (seen in the emulator's request log), while the shim holds it
    const res = await run(['prescale', '--campaign', 'interrupted', '--yes', '--wait', '30s'], async () => (await writesSent()).some((r) => r.operation === 'UpdateTable'));
    const elapsed = Date.now() - started;
    await control.clearFaults();
    expect(res.code, res.stderr).toBe(130);
    expect(res.stderr).toMatch(/waiting for DynamoDB UpdateTable to answer/);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    const sent = (await writesSent()).filter((r) => r.operation === 'UpdateTable');
    expect(sent).toHaveLength(1);
    const after = await warmOf('Signals');
    expect(after.table?.ReadUnitsPerSecond).toBe(40000);
    expect(after.index?.ReadUnitsPerSecond).toBe(12000);
    const again = await run(['prescale', '--campaign', 'interrupted', '--yes', '--wait', '30s']);
    expect(again.code, again.stderr).toBe(0);
    expect((await warmOf('Signals')).index).toEqual({ ReadUnitsPerSecond: 20000, WriteUnitsPerSecond: 4000, Status: 'ACTIVE' });
  });
});

describe('prescale restore of a campaign with warm targets', () => {
  it('says warm throughput is left as it is and sends no UpdateTable', { timeout: 30_000 }, async () => {
    await control.clearRequests();
    const res = await run(['prescale', 'restore', '--campaign', 'warm-send', '--yes', '--wait', '0s']);
    expect(res.code, res.stderr).toBe(0);
    expect(`${res.stdout}${res.stderr}`).toMatch(/dynamodb Sessions \(warm\): warm throughput cannot be lowered: left as it is/);
    expect((await writesSent()).filter((r) => r.operation === 'UpdateTable')).toEqual([]);
    expect((await warmOf('Sessions')).table?.ReadUnitsPerSecond).toBe(50000);
  });
});

describe('prescale --schedule with warm targets', () => {
  it('sets warm throughput now (it cannot be scheduled) and says so', { timeout: 30_000 }, async () => {
    const res = await run(['prescale', '--campaign', 'scheduled', '--schedule', '--yes', '--wait', '30s']);
    expect(res.code, res.stderr).toBe(0);
    expect(`${res.stdout}${res.stderr}`).toMatch(/warm throughput is set now, not at the scale-up time \(it cannot be scheduled\), and cannot be lowered afterwards/);
    expect((await warmOf('Later')).table).toEqual({ ReadUnitsPerSecond: 40000, WriteUnitsPerSecond: 12000, Status: 'ACTIVE' });
  });
});
