/**
 * --since and --publish against moto: events received, batch sizes, idempotency keys stable across
 * reruns, and partial batch failures retried (the shim delivers all but the first entry and reports
 * it failed, in the API's own response shape).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsErrors } from '../support/emulator.js';
import { runInProcess } from '../support/streams.js';
import { oversoldInventory } from '../support/oversold-inventory.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const sqs = new SQSClient(common);
const events = new EventBridgeClient(common);
afterAll(() => [sqs, events].forEach((c) => c.destroy()));

let dir: string;
const N = 23; // 23 oversold SKUs: 3 batches of at most 10

beforeAll(async () => {
  dir = await oversoldInventory('retailctl-publish-', N);
});

function cli(args: string[]) {
  return runInProcess(['inventory', 'reconcile', ...args, '--config', path.join(dir, 'retailctl.yaml'), '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}

async function drain(queueUrl: string): Promise<{ body: Record<string, unknown>; attributes: Record<string, string> }[]> {
  const out: { body: Record<string, unknown>; attributes: Record<string, string> }[] = [];
  for (;;) {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 0 }));
    if (!res.Messages?.length) return out;
    for (const m of res.Messages) out.push({ body: JSON.parse(m.Body!) as Record<string, unknown>, attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])) });
  }
}

describe('--publish sqs:', () => {
  it('one message per drift row, in batches of 10, the same idempotency keys on a rerun; a failed entry is retried', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'inventory-drift' }));
    await control.clearRequests();
    await control.configure({ failFirstEntry: { SendMessageBatch: 1 } });
    const first = await cli(['--publish', `sqs:${QueueUrl}`, '--yes', '--json']);
    expect(first.code).toBe(5); // oversell is in failOn; publishing itself succeeded
    const doc = JSON.parse(first.stdout) as { published: { sent: number; events: number; calls: number; failed: unknown[] } };
    expect(doc.published).toMatchObject({ sent: N, events: N, calls: 4, failed: [] }); // 3 batches + 1 retry of the failed entry
    const batches = (await control.requests()).filter((r) => r.operation === 'SendMessageBatch');
    expect(batches).toHaveLength(4);
    const messages = await drain(QueueUrl!);
    expect(messages).toHaveLength(N);
    const detail = messages.map((m) => m.body.detail as Record<string, unknown>);
    expect(new Set(detail.map((d) => d.sku)).size).toBe(N);
    expect(messages[0]!.body).toMatchObject({ source: 'retailctl.inventory', 'detail-type': 'InventoryDrift', detail: { class: 'oversell', expected: 10, actual: 12, delta: 2 } });
    const keys = new Map(detail.map((d) => [d.sku, d.idempotencyKey]));

    const second = await cli(['--publish', `sqs:${QueueUrl}`, '--yes']);
    expect(second.code).toBe(5);
    const again = (await drain(QueueUrl!)).map((m) => m.body.detail as Record<string, unknown>);
    expect(again).toHaveLength(N);
    for (const d of again) expect(d.idempotencyKey).toBe(keys.get(d.sku));
    expect(new Set(again.map((d) => d.runId)).size).toBe(1);
    expect(again[0]!.runId).not.toBe(detail[0]!.runId);
  });

  it('--dry-run counts the events and sends none', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'inventory-drift-dry' }));
    const res = await cli(['--publish', `sqs:${QueueUrl}`, '--dry-run', '--json']);
    expect(JSON.parse(res.stdout).published).toMatchObject({ events: N, dryRun: true, sent: 0 });
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(attrs.Attributes?.ApproximateNumberOfMessages).toBe('0');
  });

  it('without --yes and without a TTY, publishing needs confirmation (exit 3)', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'inventory-drift-confirm' }));
    expect((await cli(['--publish', `sqs:${QueueUrl}`])).code).toBe(3);
  });
});

describe('--publish eventbridge:', () => {
  it('PutEvents in batches of 10 to the bus; a rule delivers them; a failed entry is retried', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'bus-target' }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await events.send(new CreateEventBusCommand({ Name: 'inventory-sync' }));
    await events.send(new PutRuleCommand({ Name: 'drift', EventBusName: 'inventory-sync', EventPattern: JSON.stringify({ source: ['retailctl.inventory'], 'detail-type': ['InventoryDrift'] }) }));
    await events.send(new PutTargetsCommand({ Rule: 'drift', EventBusName: 'inventory-sync', Targets: [{ Id: 'q', Arn: Attributes!.QueueArn! }] }));
    await control.clearRequests();
    await control.configure({ failFirstEntry: { PutEvents: 1 } });
    const res = await cli(['--publish', 'eventbridge:inventory-sync', '--yes', '--json']);
    expect(JSON.parse(res.stdout).published).toMatchObject({ sent: N, calls: 4, failed: [] });
    expect((await control.requests()).filter((r) => r.operation === 'PutEvents')).toHaveLength(4);
    const delivered = await drain(QueueUrl!);
    expect(delivered).toHaveLength(N);
    expect(delivered[0]!.body).toMatchObject({ source: 'retailctl.inventory', 'detail-type': 'InventoryDrift' });
  });
});

describe('--publish: a target that is not there, a call that fails outright', () => {
  it('a bus or queue that does not exist is exit 2 naming --publish, before any source is read', async () => {
    await control.clearRequests();
    // a missing source would be the error if the sources were read first
    const bus = await cli(['--publish', 'eventbridge:no-such-bus', '--yes', '--source', 'wms=missing.csv']);
    expect(bus.code, bus.stderr).toBe(2);
    expect(bus.stderr).toMatch(/error: --publish eventbridge:no-such-bus: there is no event bus named "no-such-bus"/);
    expect(bus.stderr).not.toMatch(/missing\.csv|unexpected error/);
    const queueUrl = `${endpoint}/000000000000/no-such-queue`;
    const queue = await cli(['--publish', `sqs:${queueUrl}`, '--yes', '--source', 'wms=missing.csv']);
    expect(queue.code, queue.stderr).toBe(2);
    expect(queue.stderr).toContain(`error: --publish sqs:${queueUrl}: no such queue`);
    const operations = (await control.requests()).map((r) => r.operation);
    expect(operations).toContain('DescribeEventBus');
    expect(operations).toContain('GetQueueAttributes');
    expect(operations.filter((o) => o === 'PutEvents' || o === 'SendMessageBatch')).toEqual([]);
  });

  it('after a call fails outright no further batch is sent: only those already under way finish', async () => {
    const many = await mkdtemp(path.join(os.tmpdir(), 'retailctl-publish-fatal-'));
    const skus = Array.from({ length: 400 }, (_, i) => `SKU-${i}`); // 40 batches, 8 at a time
    await writeFile(path.join(many, 'wms.csv'), `sku,loc,qty\n${skus.map((s) => `${s},dfw1,10`).join('\n')}\n`);
    await writeFile(path.join(many, 'web.csv'), `sku,loc,qty\n${skus.map((s) => `${s},dfw1,12`).join('\n')}\n`);
    await writeFile(path.join(many, 'retailctl.yaml'), await readFile(path.join(dir, 'retailctl.yaml'), 'utf8'));
    await events.send(new CreateEventBusCommand({ Name: 'inventory-fatal' }));
    await control.clearRequests();
    await control.fault({ service: 'events', operation: 'PutEvents', times: 0, delayMs: 20, ...awsErrors.json('AccessDeniedException', 'not authorized to perform events:PutEvents') });
    try {
      const res = await runInProcess(['inventory', 'reconcile', '--publish', 'eventbridge:inventory-fatal', '--yes', '--config', path.join(many, 'retailctl.yaml'), '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: many });
      expect(res.code, res.stderr).not.toBe(0);
      expect(res.stderr).toMatch(/error: EventBridge PutEvents was denied \(AccessDeniedException/);
      const sent = (await control.requests()).filter((r) => r.operation === 'PutEvents');
      // the first 8 start together; none of the other 32 may follow the failure
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.length).toBeLessThanOrEqual(8);
      await new Promise((r) => setTimeout(r, 300));
      expect((await control.requests()).filter((r) => r.operation === 'PutEvents')).toHaveLength(sent.length);
    } finally {
      await control.clearFaults();
    }
  });
});

describe('--since', () => {
  it('marks rows new, persisting and resolved against the previous results', async () => {
    const first = await cli(['--out', 'run1.json']);
    expect(first.code).toBe(5);
    // SKU-000 fixed, SKU-001 now undersold, the rest unchanged
    const web = (await readFile(path.join(dir, 'web.csv'), 'utf8')).replace('SKU-000,dfw1,12', 'SKU-000,dfw1,10').replace('SKU-001,dfw1,12', 'SKU-001,dfw1,8');
    await writeFile(path.join(dir, 'web2.csv'), web);
    const second = await cli(['--source', 'web=web2.csv', '--since', 'run1.json', '--out', 'run2.json', '--json']);
    expect(JSON.parse(second.stdout).changes).toEqual({ new: 0, persisting: N - 1, resolved: 1 });
    const rows = JSON.parse(await readFile(path.join(dir, 'run2.json'), 'utf8')) as { sku: string; class: string; change: string; previousClass?: string }[];
    expect(rows.find((r) => r.sku === 'SKU-000')).toMatchObject({ change: 'resolved', class: 'oversell' });
    expect(rows.find((r) => r.sku === 'SKU-001')).toMatchObject({ change: 'persisting', class: 'undersell', previousClass: 'oversell' });
  });
});
