import type { AwsClients } from '../aws/context.js';
import { ExitCode, isAwsError, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { sleep } from '../util/sleep.js';
import type { ScheduledAction } from '@aws-sdk/client-application-auto-scaling';
import { campaignActionsOn, readReadiness, readScalableTargets, type Readiness } from './gather.js';
import type { Campaign } from '../config/schema.js';
import { needAt } from './shared.js';
import { othersOn, targetWrites, wayDownOrder } from './plan.js';
import type { CampaignActions } from './shared.js';
import type { OtherActionUpdate, PrescalePlan, ScheduledActionPlan, TargetPlan } from './plan.js';
import type { RestoreStep } from './restore.js';
import { slug, type ScalableTargetRef } from './targets.js';

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
  /** Every other campaign's action this run wrote (appended as they are written), for the re-read after applying. */
  othersWritten?: OtherWrite[];
}

/** Another campaign's action written by this run. */
export interface OtherWrite {
  ref: ScalableTargetRef;
  campaign: string;
  name: string;
  min: number;
  max: number;
  schedule: string;
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
 * down is scheduled BEFORE capacity goes up (so it always comes back down), other campaigns' ways
 * down are moved after this window before anything rises, and an unregistered Lambda alias is first
 * registered at its baseline so the down action has a target to live on. Actions AWS already holds
 * exactly are not written again.
 */
async function applyTarget(t: TargetPlan, opts: ExecuteOptions): Promise<void> {
  for (const w of targetWrites(t)) {
    if (w.type === 'register') await registerTarget(opts.write, t.ref, w.min, w.max, opts.signal);
    else if (w.type === 'delete') await deleteActions(opts.write, t.ref, w.names, opts.signal);
    else if (w.type === 'put') await putAction(opts.write, t.ref, w.action, opts.signal);
    else await putOther(opts, t.ref, w.update, opts.othersWritten);
  }
}

const otherWrite = (ref: ScalableTargetRef, u: OtherActionUpdate): OtherWrite => ({ ref, campaign: slug(u.campaign), name: u.name, min: u.min, max: u.max, schedule: u.schedule });

/** Every retailctl campaign's actions on a target as they are now, by campaign (as in the action names). */
export async function readCampaignsOn(read: AwsClients, ref: ScalableTargetRef, signal?: AbortSignal): Promise<Map<string, CampaignActions>> {
  const aas = await read.client('autoscaling');
  const { DescribeScheduledActionsCommand } = await import('@aws-sdk/client-application-auto-scaling');
  const scheduled: ScheduledAction[] = [];
  let token: string | undefined;
  do {
    const res = await aas.send(new DescribeScheduledActionsCommand({ ServiceNamespace: ref.namespace, ResourceId: ref.resourceId, ScalableDimension: ref.dimension as never, NextToken: token }), { abortSignal: signal });
    scheduled.push(...(res.ScheduledActions ?? []));
    token = res.NextToken && res.NextToken !== token ? res.NextToken : undefined;
  } while (token);
  return new Map(campaignActionsOn(scheduled, ref, '').others.map((o) => [o.campaign, o]));
}

/**
 * Another campaign's action is only ever updated, never re-created, and only while that campaign
 * still has its down action: read just before writing. A campaign without its down is being
 * restored (a restore deletes its down last) or is gone: it is left alone. Returns whether it was written.
 */
async function putOther(opts: Pick<ExecuteOptions, 'read' | 'write' | 'signal'>, ref: ScalableTargetRef, u: OtherActionUpdate, written?: OtherWrite[]): Promise<boolean> {
  const now = (await readCampaignsOn(opts.read, ref, opts.signal)).get(slug(u.campaign));
  if (!now?.down || !now[u.direction]) return false;
  await putAction(opts.write, ref, u, opts.signal);
  written?.push(otherWrite(ref, u));
  return true;
}

/** DeleteScheduledAction for each name; one already gone is fine. */
export async function deleteActions(write: AwsClients, ref: ScalableTargetRef, names: readonly string[], signal?: AbortSignal): Promise<void> {
  if (!names.length) return;
  const aas = await write.client('autoscaling');
  const { DeleteScheduledActionCommand } = await import('@aws-sdk/client-application-auto-scaling');
  for (const name of names) {
    try {
      await aas.send(new DeleteScheduledActionCommand({ ServiceNamespace: ref.namespace, ResourceId: ref.resourceId, ScalableDimension: ref.dimension as never, ScheduledActionName: name }), { abortSignal: signal });
    } catch (err) {
      if (!isAwsError(err, 'ObjectNotFoundException')) throw err;
    }
  }
}

export { wayDownOrder };

/** Other campaigns' drains and downs on a shared target, each pair in a safe order, each written only while that campaign has its down. */
async function putOtherWaysDown(opts: Pick<ExecuteOptions, 'read' | 'write' | 'signal'>, ref: ScalableTargetRef, updates: readonly OtherActionUpdate[], written?: OtherWrite[]): Promise<void> {
  for (const campaign of new Set(updates.map((u) => u.campaign))) {
    const mine = updates.filter((u) => u.campaign === campaign);
    for (const a of wayDownOrder(mine.find((u) => u.direction === 'drain'), mine.find((u) => u.direction === 'down'))) await putOther(opts, ref, a, written);
  }
}

/** Apply a prescale plan's writes (no waiting). */
export async function applyPrescale(plan: PrescalePlan, opts: ExecuteOptions): Promise<TargetResult[]> {
  const limit = await limiter();
  return Promise.all(
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
}

/** Apply a prescale plan; in now mode, then wait until every target is really ready. */
export async function executePrescale(plan: PrescalePlan, opts: ExecuteOptions): Promise<TargetResult[]> {
  const results = await applyPrescale(plan, opts);
  if (plan.mode === 'now' && opts.waitMs > 0) await waitUntilReady(plan, results, opts);
  return results;
}

/** Poll every raised target until all are ready or the deadline passes; results carry the last readiness seen. */
export async function waitUntilReady(plan: PrescalePlan, results: TargetResult[], opts: ExecuteOptions): Promise<void> {
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

export interface RestoreResult {
  target: string;
  status: 'ok' | 'failed';
  reason?: string;
}

/**
 * Carry out a restore: other campaigns' actions first (their way down re-planned without this
 * campaign), then the target's values now (capping the maximum first and waiting for capacity to
 * come down where no scaling policy would), then this campaign's actions are deleted.
 */
export interface RestoreOptions {
  write: AwsClients;
  read: AwsClients;
  waitMs: number;
  signal?: AbortSignal;
  /** The campaign restored, the time the restore planned at and the config's campaigns: for the re-read after writing. */
  campaign?: string;
  now?: Date;
  campaigns?: Record<string, Campaign>;
}

export async function executeRestore(steps: readonly RestoreStep[], opts: RestoreOptions): Promise<RestoreResult[]> {
  return Promise.all(
    steps.map(async (s): Promise<RestoreResult> => {
      try {
        await deleteActions(opts.write, s.ref, s.otherDeletes.map((d) => d.name), opts.signal);
        const others = s.otherUpdates.filter((u) => u.changed);
        const written: OtherWrite[] = [];
        await putOtherWaysDown(opts, s.ref, others, written);
        for (const a of others.filter((u) => u.direction === 'up')) await putOther(opts, s.ref, a, written);
        if (s.to && s.drainFirst) {
          const cap = s.drainTo ?? s.to.min;
          await registerTarget(opts.write, s.ref, s.to.min, cap, opts.signal);
          await waitForDrain(opts.read, s.ref, cap, opts.waitMs, opts.signal);
        }
        if (s.to) await registerTarget(opts.write, s.ref, s.to.min, s.to.max, opts.signal);
        await deleteActions(opts.write, s.ref, s.deletes, opts.signal);
        await settleRestore(s, written, opts);
        return { target: s.ref.label, status: 'ok' };
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        return { target: s.ref.label, status: 'failed', reason: (err as Error).message };
      }
    }),
  );
}

/**
 * After a restore, read the target again. Another campaign's action this restore wrote is deleted
 * again when that campaign is being restored at the same time (its down, or its up that was read,
 * is gone now): nothing is left of it but what this restore put back. This campaign's own actions,
 * re-created in between by a concurrent run that read them before they were deleted, are deleted
 * again. Together with the check before every write (putOther) no up is left without its down.
 */
async function settleRestore(s: RestoreStep, written: readonly OtherWrite[], opts: RestoreOptions): Promise<void> {
  const now = await readCampaignsOn(opts.read, s.ref, opts.signal);
  const undo: string[] = [];
  for (const campaign of new Set(written.map((w) => w.campaign))) {
    const was = s.othersRead?.find((o) => o.campaign === campaign);
    const is = now.get(campaign);
    if (is?.down && !(was?.up && !is.up)) continue;
    const present = new Set([is?.up, is?.drain, is?.down].filter((a) => a).map((a) => a!.name));
    undo.push(...written.filter((w) => w.campaign === campaign && present.has(w.name)).map((w) => w.name));
  }
  const back = [...now.values()].flatMap((c) => [c.up, c.drain, c.down]).filter((a) => a && s.deletes.includes(a.name)).map((a) => a!.name);
  await deleteActions(opts.write, s.ref, [...new Set([...undo, ...back])], opts.signal);
  // capacity kept for a campaign restored meanwhile (its down is gone) would stay raised with nothing to bring it down
  if (s.to && s.baseline && s.keptFor.length) {
    const still = s.keptFor.filter((k) => now.get(slug(k.campaign))?.down);
    if (still.length < s.keptFor.length) {
      const to = still.length ? { min: Math.max(...still.map((k) => k.min)), max: Math.max(...still.map((k) => k.max)) } : s.baseline;
      await registerTarget(opts.write, s.ref, to.min, to.max, opts.signal);
    }
  }
  if (s.to && s.baseline && opts.campaign && opts.now) await keepLiveCampaigns(s, s.baseline, opts as RestoreOptions & { campaign: string; now: Date });
}

/**
 * The restore registered what it planned from its first read; another campaign raised now in the
 * meantime (its way down and up written, its registration perhaps overwritten by this restore's)
 * is live on the target and needs more. Read the target again and, where the registered values are
 * below what the campaigns live now need (by their own actions, or the config when they are in it),
 * register that: the same re-read a prescale run converges with.
 */
async function keepLiveCampaigns(s: RestoreStep, baseline: { min: number; max: number }, opts: RestoreOptions & { campaign: string; now: Date }): Promise<void> {
  const nowMs = opts.now.getTime();
  const fresh = (await readScalableTargets(opts.read, opts.campaign, [s.ref], opts.signal)).observations[`${s.ref.resourceId}|${s.ref.dimension}`];
  if (!fresh?.registered) return;
  // a campaign being restored deletes its down last: one without its down holds nothing
  const others = othersOn(s.ref, fresh, nowMs, opts.campaigns).filter((o) => o.actions.down);
  for (const o of others) o.max = Math.max(o.max, o.min, o.source === 'config' ? baseline.max : 0);
  const live = needAt(others, nowMs);
  if (!live) return;
  const at = fresh.registered;
  if (at.min >= live.min && at.max >= live.max) return;
  await registerTarget(opts.write, s.ref, Math.max(at.min, live.min), Math.max(at.max, live.max), opts.signal);
}

/** Poll until a target's capacity is at most `wanted` (after capping its max), or the deadline passes. */
async function waitForDrain(read: AwsClients, ref: ScalableTargetRef, wanted: number, waitMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = await readReadiness(read, ref, wanted, signal);
    if (now.current <= wanted) return;
    if (Date.now() >= deadline) throw new RetailctlError('PRESCALE_DRAIN_TIMEOUT', `${ref.label} still has ${now.current} after ${formatDuration(waitMs)} capped at ${wanted}; its maximum stays capped, rerun restore to finish`, { exitCode: ExitCode.CheckFailed });
    await sleep(Math.min(5000, Math.max(0, deadline - Date.now())), signal);
  }
}
