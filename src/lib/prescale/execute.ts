import type { AwsClients } from '../aws/context.js';
import { sleep } from '../util/sleep.js';
import { readReadiness, type Readiness } from './gather.js';
import type { PrescalePlan, ScheduledActionPlan, TargetPlan } from './plan.js';
import type { ScalableTargetRef } from './targets.js';

/** How many targets are changed or polled at once (Application Auto Scaling allows bursts of ~10-20 req/s). */
export const TARGET_CONCURRENCY = 10;

export interface TargetResult {
  key: string;
  label: string;
  /** ok: raised (now) or scheduled; failed: an AWS call failed (see reason). */
  status: 'ok' | 'failed';
  reason?: string;
  readiness?: Readiness;
}

export interface ExecuteOptions {
  write: AwsClients;
  read: AwsClients;
  /** now mode: how long to wait for every target to be ready (0 = do not wait). */
  waitMs: number;
  pollMs?: number;
  signal?: AbortSignal;
  onProgress?: (lines: string[]) => void;
}

async function limiter() {
  const { default: pLimit } = await import('p-limit');
  return pLimit(TARGET_CONCURRENCY);
}

async function registerTarget(write: AwsClients, ref: ScalableTargetRef, min: number, max: number, signal?: AbortSignal): Promise<void> {
  const aas = await write.client('autoscaling');
  const { RegisterScalableTargetCommand } = await import('@aws-sdk/client-application-auto-scaling');
  await aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: ref.namespace, ResourceId: ref.resourceId, ScalableDimension: ref.dimension as never, MinCapacity: min, MaxCapacity: max }), { abortSignal: signal });
}

async function putAction(write: AwsClients, ref: ScalableTargetRef, action: ScheduledActionPlan, signal?: AbortSignal): Promise<void> {
  const aas = await write.client('autoscaling');
  const { PutScheduledActionCommand } = await import('@aws-sdk/client-application-auto-scaling');
  await aas.send(
    new PutScheduledActionCommand({
      ServiceNamespace: ref.namespace,
      ScheduledActionName: action.name,
      ResourceId: ref.resourceId,
      ScalableDimension: ref.dimension as never,
      Schedule: action.schedule,
      Timezone: action.timezone,
      ScalableTargetAction: { MinCapacity: action.min, MaxCapacity: action.max },
    }),
    { abortSignal: signal },
  );
}

/**
 * Make one target's changes, in the order that keeps it safe if the run dies half-way: the way
 * down is scheduled BEFORE capacity goes up (so it always comes back down), and an unregistered
 * Lambda alias is first registered at its baseline so the down action has a target to live on.
 */
async function applyTarget(t: TargetPlan, opts: ExecuteOptions): Promise<void> {
  if (t.baselineSource === 'unregistered') await registerTarget(opts.write, t.ref, t.baseline.min, Math.max(t.baseline.max, 0), opts.signal);
  await putAction(opts.write, t.ref, t.down, opts.signal);
  if (t.drain) await putAction(opts.write, t.ref, t.drain, opts.signal);
  if (t.up) await putAction(opts.write, t.ref, t.up, opts.signal);
  if (t.register) await registerTarget(opts.write, t.ref, t.register.min, t.register.max, opts.signal);
}

/** Apply a prescale plan; in now mode, then wait until every target is really ready. */
export async function executePrescale(plan: PrescalePlan, opts: ExecuteOptions): Promise<TargetResult[]> {
  const limit = await limiter();
  const results: TargetResult[] = await Promise.all(
    plan.targets.map((t) =>
      limit(async (): Promise<TargetResult> => {
        try {
          await applyTarget(t, opts);
          return { key: t.ref.key, label: t.ref.label, status: 'ok' };
        } catch (err) {
          if (opts.signal?.aborted) throw err;
          return { key: t.ref.key, label: t.ref.label, status: 'failed', reason: err instanceof Error ? err.message : String(err) };
        }
      }),
    ),
  );
  if (plan.mode === 'now' && opts.waitMs > 0) await waitUntilReady(plan, results, opts);
  return results;
}

/** Poll every raised target until all are ready or the deadline passes; results carry the last readiness seen. */
async function waitUntilReady(plan: PrescalePlan, results: TargetResult[], opts: ExecuteOptions): Promise<void> {
  const limit = await limiter();
  const deadline = Date.now() + opts.waitMs;
  const pending = () => results.filter((r) => r.status === 'ok' && !r.readiness?.ready);
  for (;;) {
    await Promise.all(
      pending().map((r) =>
        limit(async () => {
          const t = plan.targets.find((x) => x.ref.key === r.key)!;
          r.readiness = await readReadiness(opts.read, t.ref, t.planned.min, opts.signal);
        }),
      ),
    );
    opts.onProgress?.(results.map((r) => `${r.readiness?.ready ? '✓' : r.status === 'failed' ? '✗' : '…'} ${r.label}: ${r.status === 'failed' ? `failed: ${r.reason}` : (r.readiness?.detail ?? 'waiting')}`));
    const left = deadline - Date.now();
    if (pending().length === 0 || left <= 0) return;
    await sleep(Math.min(opts.pollMs ?? 5000, left), opts.signal);
  }
}
