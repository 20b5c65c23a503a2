/**
 * The `inventory.publish` plan kind: the drift events of one reconcile, to be sent to the bus or
 * queue of `--publish`, exactly, by `retailctl apply`.
 *
 * - The events are the plan's content (with their run id and idempotency keys): apply sends them as
 *   planned and reads no export again (the exports may have moved on since).
 * - Precondition: the target as read (its ARN and creation time: a bus or queue deleted and made
 *   again is another one, and one that is gone refuses the plan).
 * - Actions: one PutEvents / SendMessageBatch call per batch of 10, its parameters given as the
 *   number of entries and the sha256 of the entries exactly as sent (the events themselves are in
 *   `plan.events`; a plan of 100,000 events would otherwise carry them twice).
 * - A sent event leaves nothing a reader can ask the bus (or a standard queue) about: a second apply
 *   is refused by the record of applied plans on this host (plan/applied.ts), not by a precondition.
 *   A FIFO queue also drops a repeat of an idempotency key within 5 minutes.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AwsContext } from '../aws/context.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { canonicalJson, parsePlanObject, type PlanAction, type Precondition } from '../plan/document.js';
import type { ExecuteMode, KindHandler } from '../plan/handler.js';
import { mdText, mdTable } from '../util/markdown.js';
import { shown } from '../util/sanitize.js';
import { batchesOf, eventBridgeEntries, idempotencyKey, parsePublishTarget, publishEvents, readPublishTarget, sqsEntries, type DriftEvent, type PublishResult, type PublishTarget, type TargetIdentity } from './publish.js';

export interface InventoryPublishPlan {
  kind: 'inventory.publish';
  version: 1;
  /** `eventbridge:<bus>` or `sqs:<queue-url>`, as given to `--publish`. */
  target: string;
  runId: string;
  /** Every event to send, in order (what the direct command would send). */
  events: DriftEvent[];
}

export function publishPlan(target: string, runId: string, events: DriftEvent[]): InventoryPublishPlan {
  return { kind: 'inventory.publish', version: 1, target, runId, events };
}

function describeTarget(target: PublishTarget): { id: string; what: string } {
  return target.kind === 'eventbridge' ? { id: `eventbridge:${target.bus}`, what: `event bus ${target.bus}` } : { id: `sqs:${target.queueUrl}`, what: `queue ${target.queueUrl}` };
}

/** What the plan was computed from: the bus or queue, as read (null: not there). */
export function publishPreconditions(target: PublishTarget, identity: TargetIdentity | null): Precondition[] {
  return [{ ...describeTarget(target), value: identity }];
}

function classCounts(events: readonly DriftEvent[]): string {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.class, (counts.get(e.class) ?? 0) + 1);
  return [...counts].map(([c, n]) => `${n} ${c}`).join(', ');
}

function describeEvent(e: DriftEvent): string {
  const delta = e.delta === null ? '' : ` (${e.delta > 0 ? '+' : ''}${e.delta})`;
  return `${shown(e.class, 40).padEnd(19)} ${shown(e.sku)} @ ${shown(e.location)} (${shown(e.channel)}): expected ${e.expected ?? '-'}, actual ${e.actual ?? '-'}${delta}${e.change ? `, ${e.change}` : ''}`;
}

/** Events listed when a plan is shown; the rest are counted. */
const SHOWN_EVENTS = 10;

export function renderPublishPlan(plan: InventoryPublishPlan): string {
  const n = plan.events.length;
  const calls = batchesOf(plan.events).length;
  if (!n) return `publish to ${shown(plan.target)}: no drift events, nothing to send (run ${shown(plan.runId, 60)})`;
  return [
    `publish ${n} drift event${n === 1 ? '' : 's'} to ${shown(plan.target)} in ${calls} call${calls === 1 ? '' : 's'} (run ${shown(plan.runId, 60)}): ${shown(classCounts(plan.events), 300)}`,
    ...plan.events.slice(0, SHOWN_EVENTS).map((e) => `  ${describeEvent(e)}`),
    ...(n > SHOWN_EVENTS ? [`  … and ${n - SHOWN_EVENTS} more`] : []),
  ].join('\n');
}

function actionsOf(plan: InventoryPublishPlan): PlanAction[] {
  const target = parsePublishTarget(plan.target);
  const n = plan.events.length;
  let first = 0;
  return batchesOf(plan.events).map((batch) => {
    const range = `events ${first + 1}–${first + batch.length} of ${n}: ${classCounts(batch)}`;
    first += batch.length;
    const digest = (entries: unknown) => `sha256:${createHash('sha256').update(canonicalJson(entries)).digest('hex')}`;
    return target.kind === 'eventbridge'
      ? { call: 'events:PutEvents', target: `event bus ${target.bus}`, summary: range, params: { EventBusName: target.bus, entries: batch.length, entriesSha256: digest(eventBridgeEntries(batch, target.bus)) } }
      : { call: 'sqs:SendMessageBatch', target: `queue ${target.queueUrl}`, summary: range, params: { QueueUrl: target.queueUrl, entries: batch.length, entriesSha256: digest(sqsEntries(batch, target.queueUrl)) } };
  });
}

const count = z.number().nullable();
const eventSchema = z.strictObject({
  sku: z.string(),
  location: z.string(),
  channel: z.string(),
  expected: count,
  actual: count,
  delta: count,
  class: z.string().min(1),
  onHand: count,
  reserved: count,
  runId: z.string().min(1),
  idempotencyKey: z.string().regex(/^[0-9a-f]{32}$/, 'expected 32 hex digits'),
  change: z.string().optional(),
});
const planSchema = z.strictObject({
  kind: z.literal('inventory.publish'),
  version: z.literal(1),
  target: z.string().refine((t) => /^eventbridge:.+/.test(t) || /^sqs:https?:\/\//.test(t), 'expected eventbridge:<bus> or sqs:<queue-url>'),
  runId: z.string().min(1),
  events: z.array(eventSchema),
});

async function executePublish(ctx: CommandContext, aws: AwsContext, plan: InventoryPublishPlan, mode: ExecuteMode): Promise<CommandResult> {
  const target = parsePublishTarget(plan.target);
  const n = plan.events.length;
  const tally: PublishResult = { sent: 0, failed: [], calls: 0 };
  const published = () => ({ ...tally, target: plan.target, runId: plan.runId, events: n, dryRun: false });
  const stopped = (err?: unknown) =>
    new RetailctlError('INTERRUPTED', `${(ctx.signal.reason as Error).message} while publishing: ${tally.sent} of ${n} events sent to ${shown(plan.target)} (run ${plan.runId}); the calls under way were let finish, no other was started`, {
      exitCode: ExitCode.Interrupted,
      cause: err,
      hint:
        mode.mode === 'apply'
          ? 'this plan is recorded as applied and is not applied again: make a fresh plan for the rest (a FIFO queue drops repeats of the events it received in the last 5 minutes)'
          : 'rerun the same command to send the drift as it is then (every event carries an idempotency key; a FIFO queue drops repeats within 5 minutes)',
      data: { applied: tally.sent > 0, published: published() },
    });
  try {
    await publishEvents(plan.events, target, aws.write(), ctx.signal, tally);
  } catch (err) {
    if (ctx.signal.aborted) throw stopped(err);
    throw err;
  }
  if (ctx.signal.aborted) throw stopped();
  const result = published();
  const text = `published ${result.sent} of ${n} events to ${shown(plan.target)} in ${result.calls} calls (run ${plan.runId})${result.failed.length ? `; ${result.failed.length} FAILED after retries` : ''}`;
  return { exitCode: result.failed.length ? ExitCode.PartialFailure : ExitCode.Ok, data: { applied: true, published: result }, text };
}

export const inventoryPublishKind: KindHandler<InventoryPublishPlan> = {
  kinds: ['inventory.publish'],
  parse(file, plan) {
    const checked = parsePlanObject(planSchema, file, plan);
    // every event is what a reconcile makes of its row: its key from its content, once, in this run
    const seen = new Set<string>();
    for (const [i, e] of checked.events.entries()) {
      const why = e.runId !== checked.runId ? `its run id is not the plan's (${shown(checked.runId, 60)})` : e.idempotencyKey !== idempotencyKey(e as never) ? 'its idempotencyKey is not the one of its sku, location, channel, class and counts' : seen.has(e.idempotencyKey) ? 'it repeats an earlier event' : undefined;
      if (why) throw new RetailctlError('PLAN_INVALID', `${file}: is not a valid plan file: plan.events.${i}: ${why}: not a plan retailctl made`, { exitCode: ExitCode.Usage, hint: 'make a new plan with the command\'s --plan-out' });
      seen.add(e.idempotencyKey);
    }
    // the plan exactly as read, keys in their order: an event's JSON is sent as it was planned
    return plan as unknown as InventoryPublishPlan;
  },
  actions: actionsOf,
  render: (plan) => renderPublishPlan(plan),
  markdown(plan) {
    const n = plan.events.length;
    return [
      `**inventory publish** to ${mdText(plan.target)}: ${n} drift event${n === 1 ? '' : 's'} (run ${mdText(plan.runId)})${n ? `: ${mdText(classCounts(plan.events), 500)}` : ''}`,
      ...(n
        ? ['', mdTable(['class', 'sku', 'location', 'channel', 'expected', 'actual', 'delta'], plan.events.slice(0, 50).map((e) => [e.class, e.sku, e.location, e.channel, e.expected, e.actual, e.delta])), ...(n > 50 ? ['', `… and ${n - 50} more`] : [])]
        : []),
    ].join('\n');
  },
  async observe(ctx, aws, plan) {
    const target = parsePublishTarget(plan.target);
    return publishPreconditions(target, await readPublishTarget(target, aws.read, ctx.signal));
  },
  question: (plan) => `Publish ${plan.events.length} drift events to ${plan.target}?`,
  noop: (plan) => plan.events.length === 0,
  execute: executePublish,
};
