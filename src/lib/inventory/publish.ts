import { createHash, randomUUID } from 'node:crypto';
import type { AwsClients } from '../aws/context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { shown } from '../util/sanitize.js';
import { sleep } from '../util/sleep.js';
import type { ResultRow } from './reconcile.js';

/** Where drift events go: `eventbridge:<bus name or ARN>` or `sqs:<queue URL>`. */
export type PublishTarget = { kind: 'eventbridge'; bus: string } | { kind: 'sqs'; queueUrl: string };

export function parsePublishTarget(text: string): PublishTarget {
  if (text.startsWith('eventbridge:') && text.length > 'eventbridge:'.length) return { kind: 'eventbridge', bus: text.slice('eventbridge:'.length) };
  if (text.startsWith('sqs:') && /^sqs:https?:\/\//.test(text)) return { kind: 'sqs', queueUrl: text.slice('sqs:'.length) };
  throw new RetailctlError('USAGE', `--publish: expected eventbridge:<bus> or sqs:<queue-url>, got "${text}"`, { exitCode: ExitCode.Usage });
}

/** The documented event (README "inventory reconcile"): source retailctl.inventory, detail-type InventoryDrift. */
export interface DriftEvent {
  sku: string;
  location: string;
  channel: string;
  expected: number | null;
  actual: number | null;
  delta: number | null;
  class: string;
  onHand: number | null;
  reserved: number | null;
  runId: string;
  /** Same drift (same sku, location, channel, class and numbers) → same key on every rerun. */
  idempotencyKey: string;
  change?: string;
}

export const EVENT_SOURCE = 'retailctl.inventory';
export const EVENT_DETAIL_TYPE = 'InventoryDrift';
/** PutEvents and SendMessageBatch take at most 10 entries per call. */
export const BATCH_SIZE = 10;

export function idempotencyKey(r: Pick<ResultRow, 'sku' | 'location' | 'channel' | 'class' | 'expected' | 'actual'>): string {
  return createHash('sha256').update(JSON.stringify([r.sku, r.location, r.channel, r.class, r.expected, r.actual])).digest('hex').slice(0, 32);
}

/**
 * The SQS FIFO MessageGroupId of a drift event: `inv-` and the first 32 hex digits of
 * sha256(sku NUL location). AWS allows 1–128 characters from ASCII letters, digits and punctuation;
 * a sku can hold spaces, accents or be longer, so it stays in the body and the group is derived:
 * events of one sku at one location (all channels) keep their order, other keys are not held up.
 */
export function messageGroupId(sku: string, location: string): string {
  return `inv-${createHash('sha256').update(`${sku}\u0000${location}`).digest('hex').slice(0, 32)}`;
}

export function toEvent(r: ResultRow & { change?: string }, runId: string): DriftEvent {
  const e: DriftEvent = { sku: r.sku, location: r.location, channel: r.channel, expected: r.expected, actual: r.actual, delta: r.delta, class: r.class, onHand: r.onHand, reserved: r.reserved, runId, idempotencyKey: idempotencyKey(r) };
  if (r.change) e.change = r.change;
  return e;
}

export function newRunId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomUUID().slice(0, 8)}`;
}

export interface PublishResult {
  sent: number;
  failed: { idempotencyKey: string; error: string }[];
  calls: number;
}

/** Who the bus or queue of `--publish` is, as read: a queue or bus deleted and made again under the same name is another one. */
export type TargetIdentity = { Arn: string | null; CreationTime: string | null } | { QueueArn: string | null; CreatedTimestamp: string | null };

/**
 * The bus (EventBridge DescribeEventBus) or queue (SQS GetQueueAttributes) of `--publish`, read:
 * its ARN and when it was made, or null when there is none. Other errors (access, network) are thrown as they are.
 */
export async function readPublishTarget(target: PublishTarget, read: AwsClients, signal?: AbortSignal): Promise<TargetIdentity | null> {
  try {
    if (target.kind === 'eventbridge') {
      const client = await read.client('eventbridge');
      const { DescribeEventBusCommand } = await import('@aws-sdk/client-eventbridge');
      const bus = await client.send(new DescribeEventBusCommand({ Name: target.bus }), { abortSignal: signal });
      const created = bus.CreationTime as Date | string | number | undefined;
      return { Arn: bus.Arn ?? null, CreationTime: created === undefined ? null : new Date(created).toISOString() };
    }
    const client = await read.client('sqs');
    const { GetQueueAttributesCommand } = await import('@aws-sdk/client-sqs');
    const queue = await client.send(new GetQueueAttributesCommand({ QueueUrl: target.queueUrl, AttributeNames: ['QueueArn', 'CreatedTimestamp'] }), { abortSignal: signal });
    return { QueueArn: queue.Attributes?.QueueArn ?? null, CreatedTimestamp: queue.Attributes?.CreatedTimestamp ?? null };
  } catch (err) {
    const name = (err as { name?: string }).name ?? '';
    if (target.kind === 'eventbridge' && name === 'ResourceNotFoundException') return null;
    if (target.kind === 'sqs' && /QueueDoesNotExist|NonExistentQueue/.test(`${name} ${(err as { Code?: string }).Code ?? ''}`)) return null;
    throw err;
  }
}

/**
 * Before any source is read: the bus or queue of `--publish` exists (a read call: EventBridge
 * DescribeEventBus, SQS GetQueueAttributes), so a typo is exit 2 and not a failed send after the
 * whole reconciliation. Other errors (access, network) are reported as they are. Returns what was read.
 */
export async function checkPublishTarget(target: PublishTarget, given: string, read: AwsClients, signal?: AbortSignal): Promise<TargetIdentity> {
  const hint = 'check the name (and --region / --profile): create the bus or queue first, or fix --publish';
  const identity = await readPublishTarget(target, read, signal);
  if (identity) return identity;
  if (target.kind === 'eventbridge') throw new RetailctlError('PUBLISH_TARGET', `--publish ${shown(given)}: there is no event bus named "${shown(target.bus)}"`, { exitCode: ExitCode.Usage, hint });
  throw new RetailctlError('PUBLISH_TARGET', `--publish ${shown(given)}: no such queue`, { exitCode: ExitCode.Usage, hint });
}

/** The PutEvents entries of one batch, as sent. */
export function eventBridgeEntries(batch: readonly DriftEvent[], bus: string) {
  return batch.map((e) => ({ Source: EVENT_SOURCE, DetailType: EVENT_DETAIL_TYPE, EventBusName: bus, Detail: JSON.stringify(e), Resources: [] as string[] }));
}

/** The SendMessageBatch entries of one batch, as sent. */
export function sqsEntries(batch: readonly DriftEvent[], queueUrl: string) {
  const fifo = queueUrl.endsWith('.fifo');
  return batch.map((e, i) => ({
    Id: String(i),
    MessageBody: JSON.stringify({ source: EVENT_SOURCE, 'detail-type': EVENT_DETAIL_TYPE, detail: e }),
    MessageAttributes: { idempotencyKey: { DataType: 'String', StringValue: e.idempotencyKey } },
    // FIFO queues drop a repeat of the same key within 5 minutes; the group is derived from
    // sku and location (a sku itself may not be a valid group id)
    ...(fifo ? { MessageDeduplicationId: e.idempotencyKey, MessageGroupId: messageGroupId(e.sku, e.location) } : {}),
  }));
}

/** The events in the batches publishEvents sends them in. */
export function batchesOf<T>(events: readonly T[]): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < events.length; i += BATCH_SIZE) batches.push(events.slice(i, i + BATCH_SIZE));
  return batches;
}

/**
 * Send events in batches of 10 (8 calls at a time), retrying only the entries the API reports as
 * failed (3 attempts in all). A call that fails outright (no such bus, access denied, …) stops the
 * run: no further batch is started, the calls already under way finish, then its error is thrown.
 */
export async function publishEvents(events: readonly DriftEvent[], target: PublishTarget, write: AwsClients, signal?: AbortSignal, tally?: PublishResult): Promise<PublishResult> {
  const { default: pLimit } = await import('p-limit');
  const limit = pLimit(8);
  // `tally`: the caller's counts, kept current, so a run stopped part-way can say what was sent
  const result: PublishResult = tally ?? { sent: 0, failed: [], calls: 0 };
  const batches = batchesOf(events);
  const send = target.kind === 'eventbridge' ? await eventBridgeSender(write, target.bus, signal) : await sqsSender(write, target.queueUrl, signal);
  let fatal: { error: unknown } | undefined;
  const settled = await Promise.allSettled(
    batches.map((batch) =>
      limit(async () => {
        let pending = batch;
        for (let attempt = 1; pending.length && attempt <= 3; attempt++) {
          if (fatal) return; // queued batches are dropped once a call has failed outright
          if (attempt > 1) await sleep(200 * 2 ** attempt, signal);
          if (fatal) return;
          result.calls += 1;
          let failures: Map<string, string>;
          try {
            failures = await send(pending);
          } catch (err) {
            // the queued batches still start, see `fatal` and return at once (clearing the queue
            // instead would leave their promises unsettled)
            fatal ??= { error: err };
            throw err;
          }
          result.sent += pending.length - failures.size;
          const next = pending.filter((e) => failures.has(e.idempotencyKey));
          if (attempt === 3) for (const e of next) result.failed.push({ idempotencyKey: e.idempotencyKey, error: failures.get(e.idempotencyKey)! });
          pending = next;
        }
      }),
    ),
  );
  if (fatal) throw fatal.error;
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return result;
}

type Sender = (batch: DriftEvent[]) => Promise<Map<string, string>>;

async function eventBridgeSender(write: AwsClients, bus: string, signal?: AbortSignal): Promise<Sender> {
  const client = await write.client('eventbridge');
  const { PutEventsCommand } = await import('@aws-sdk/client-eventbridge');
  return async (batch) => {
    const res = await client.send(new PutEventsCommand({ Entries: eventBridgeEntries(batch, bus) }), { abortSignal: signal });
    const failed = new Map<string, string>();
    (res.Entries ?? []).forEach((entry, i) => {
      if (entry.ErrorCode) failed.set(batch[i]!.idempotencyKey, `${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`);
    });
    return failed;
  };
}

async function sqsSender(write: AwsClients, queueUrl: string, signal?: AbortSignal): Promise<Sender> {
  const client = await write.client('sqs');
  const { SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
  return async (batch) => {
    const res = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: sqsEntries(batch, queueUrl) }), { abortSignal: signal });
    const failed = new Map<string, string>();
    for (const f of res.Failed ?? []) failed.set(batch[Number(f.Id)]!.idempotencyKey, `${f.Code ?? 'Failed'}: ${f.Message ?? ''}`);
    return failed;
  };
}
