/**
 * inventory reconcile --publish sqs: to a FIFO queue: MessageGroupId and MessageDeduplicationId as
 * AWS accepts them (1–128 ASCII letters, digits, punctuation). moto accepts any id; the shim refuses
 * what AWS refuses, so a sku used as the group id (spaces, accents, long skus) fails here as on AWS.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint } = useEmulator();
const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
afterAll(() => sqs.destroy());

/** Case directories, removed when the file is done. */
const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

async function workspace(wms: string, web: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-fifo-'));
  made.push(dir);
  await writeFile(path.join(dir, 'wms.csv'), wms);
  await writeFile(path.join(dir, 'web.csv'), web);
  await writeFile(
    path.join(dir, 'retailctl.yaml'),
    'inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: loc, onHand: qty } }\n    web: { path: web.csv, role: channel, columns: { sku: sku, location: loc, available: qty } }\n  failOn: [oversell]\n',
  );
  return dir;
}

function cli(dir: string, args: string[]) {
  return runInProcess(['inventory', 'reconcile', ...args, '--config', path.join(dir, 'retailctl.yaml'), '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}

describe('--publish to an SQS FIFO queue', () => {
  const sendBatch = (QueueUrl: string, groupId: string) =>
    sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: '0', MessageBody: '{}', MessageGroupId: groupId, MessageDeduplicationId: 'd0' }] }));

  it('the emulator refuses a group id AWS refuses (a sku with spaces, accents, or over 128 characters), as AWS does', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'invout-rule.fifo', Attributes: { FifoQueue: 'true' } }));
    for (const sku of ['MUG 12oz', 'café-crème', 'X'.repeat(129)]) {
      const err = (await sendBatch(QueueUrl!, sku).catch((e: unknown) => e)) as { name?: string; $metadata?: { httpStatusCode?: number }; message?: string };
      expect(err.name).toBe('InvalidParameterValue');
      expect(err.$metadata?.httpStatusCode).toBe(400);
      expect(err.message).toContain('parameter MessageGroupId is invalid');
    }
    const dedup = (await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: '{}', MessageGroupId: 'g', MessageDeduplicationId: 'a b' })).catch((e: unknown) => e)) as { name?: string };
    expect(dedup.name).toBe('InvalidParameterValue');
    const ok = await sendBatch(QueueUrl!, `SKU-1!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~${'x'.repeat(90)}`);
    expect(ok.Successful).toHaveLength(1);
  });

  it('every drift event of skus AWS would refuse as group ids is delivered, the sku in the body, one group per sku and location', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'invout-drift.fifo', Attributes: { FifoQueue: 'true' } }));
    const skus = ['MUG 12oz', 'café-crème', 'X'.repeat(200), 'PLAIN-1'];
    const dir = await workspace(`sku,loc,qty\n${skus.map((s) => `${s},dfw1,10\n${s},reno1,10`).join('\n')}\n`, `sku,loc,qty\n${skus.map((s) => `${s},dfw1,12\n${s},reno1,12`).join('\n')}\n`);
    const res = await cli(dir, ['--publish', `sqs:${QueueUrl}`, '--yes', '--json']);
    expect(res.code, res.stderr).toBe(5);
    expect(JSON.parse(res.stdout).published).toMatchObject({ sent: 8, events: 8, failed: [] });
    const received: { sku: string; location: string; group: string }[] = [];
    for (let round = 0; round < 10 && received.length < 8; round++) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['MessageGroupId'], WaitTimeSeconds: 0 }));
      for (const m of r.Messages ?? []) {
        const detail = (JSON.parse(m.Body!) as { detail: { sku: string; location: string } }).detail;
        received.push({ sku: detail.sku, location: detail.location, group: m.Attributes!.MessageGroupId! });
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    expect(received.map((r) => `${r.sku}@${r.location}`).sort()).toEqual(skus.flatMap((s) => [`${s}@dfw1`, `${s}@reno1`]).sort());
    for (const r of received) expect(r.group).toMatch(/^[\x21-\x7e]{1,128}$/);
    expect(new Set(received.map((r) => r.group)).size).toBe(8);
  });
});
