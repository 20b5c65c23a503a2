/**
 * The shared AWS client layer under Ctrl-C, over the wire against moto (the shim holds a write
 * before passing it on, as a slow AWS would): a write already sent is never abandoned by the first
 * signal, even when the caller passed the run's stop signal; no write starts after it; side writes
 * still do; the second signal abandons what is in flight and says its outcome is unknown.
 */
import { ListQueuesCommand, CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { RunSignals } from '../../src/lib/interrupt.js';
import { emulatorContext } from '../support/aws.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
afterAll(() => sqs.destroy());

const queues = async () => ((await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? []).map((u) => u.split('/').pop());

describe('writes and the first signal', () => {
  it('a write on the wire finishes although the caller passed the stop signal; later writes are refused unsent; side writes go through', async () => {
    const signals = new RunSignals(10_000);
    const aws = emulatorContext(endpoint, { signals });
    await control.fault({ service: 'sqs', operation: 'CreateQueue', delayMs: 1500, forward: true });
    const client = await aws.write().client('sqs');
    const held = client.send(new CreateQueueCommand({ QueueName: 'held-write' }), { abortSignal: signals.stop });
    await new Promise((r) => setTimeout(r, 300));
    expect(signals.inFlight()).toEqual(['SQS CreateQueue']);
    signals.interrupt('SIGINT');
    const res = await held;
    expect(res.QueueUrl).toMatch(/held-write$/);
    await control.clearFaults();
    await expect(client.send(new CreateQueueCommand({ QueueName: 'after-stop' }))).rejects.toMatchObject({ code: 'INTERRUPTED', message: 'interrupted by SIGINT before SQS CreateQueue was sent: it was not applied' });
    await (await aws.write({ side: true }).client('sqs')).send(new CreateQueueCommand({ QueueName: 'side-write' }));
    expect((await queues()).sort()).toEqual(['held-write', 'side-write']);
    await aws.destroy();
  });

  it('the second signal abandons a write in flight: outcome unknown, with the command that shows the state', async () => {
    const signals = new RunSignals(10_000);
    signals.checkCommand = 'retailctl doctor';
    const aws = emulatorContext(endpoint, { signals });
    await control.fault({ service: 'sqs', operation: 'CreateQueue', delayMs: 3000, forward: true });
    const client = await aws.write().client('sqs');
    const held = client.send(new CreateQueueCommand({ QueueName: 'abandoned' }));
    await new Promise((r) => setTimeout(r, 300));
    signals.interrupt('SIGINT');
    signals.abandon('second signal (SIGINT)');
    await expect(held).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN', hint: expect.stringContaining('retailctl doctor') });
    await new Promise((r) => setTimeout(r, 3000));
    await control.clearFaults();
    await aws.destroy();
  });
});
