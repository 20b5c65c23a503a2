import { DateTime } from 'luxon';
import { findCampaign } from '../config/campaign.js';
import type { Campaign } from '../config/schema.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, isAwsError, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { sleep } from '../util/sleep.js';
import { executePrescale } from './execute.js';
import { gatherPrescale, lambdaReadiness, readReadiness } from './gather.js';
import { planPrescale } from './plan.js';
import { renderPrescalePlan, renderPrescaleStatus, type StatusRow } from './render.js';
import { actionName, resolveTargets } from './targets.js';
import { campaignWindow } from './window.js';

async function campaignOf(ctx: CommandContext, name: string): Promise<Campaign> {
  return findCampaign((await ctx.config()).config, name);
}

/** `retailctl prescale --campaign <name> [--schedule]`: read → plan → (dry run) → confirm → apply → wait. */
export async function prescaleRun(ctx: CommandContext, name: string, options: { schedule: boolean; waitMs: number }): Promise<CommandResult> {
  const campaign = await campaignOf(ctx, name);
  const refs = resolveTargets(campaign);
  const aws = await ctx.aws();
  const [state, region] = await Promise.all([gatherPrescale(aws.read, name, refs, ctx.signal), (await aws.read.client('lambda')).config.region()]);
  const plan = planPrescale({ campaignName: name, campaign, mode: options.schedule ? 'schedule' : 'now', now: ctx.now(), observations: state.observations, lambdas: state.lambdas, account: state.account, region });
  const text = renderPrescalePlan(plan, ctx.out);
  if (plan.refusals.length) {
    if (!ctx.options.json) ctx.out.info(text);
    throw new RetailctlError('PRESCALE_PREFLIGHT_FAILED', `refusing to prescale ${name}: ${plan.refusals[0]}`, {
      exitCode: ExitCode.CheckFailed,
      details: plan.refusals.slice(1),
      hint: 'nothing was changed; fix the cause above and rerun',
      data: { plan, applied: false },
    });
  }
  if (ctx.options.dryRun) return { data: { plan, applied: false, dryRun: true }, text };

  ctx.out.info(text);
  await ctx.confirm(`${options.schedule ? 'Schedule' : 'Raise'} capacity for ${plan.targets.length} targets of ${name}?`);
  const progress = !options.schedule && options.waitMs > 0 ? await ctx.out.progress(`raising ${plan.targets.length} targets and waiting until they are ready (up to ${formatDuration(options.waitMs)})`) : undefined;
  let lastPrinted = 0;
  const results = await executePrescale(plan, {
    write: aws.write(),
    read: aws.read,
    waitMs: options.schedule ? 0 : options.waitMs,
    signal: ctx.signal,
    onProgress: (lines) => {
      if (ctx.out.interactive) progress?.update(lines.join('\n'));
      else if (Date.now() - lastPrinted > 10_000) {
        lastPrinted = Date.now();
        for (const l of lines) ctx.out.info(l);
      }
    },
  });
  const failed = results.filter((r) => r.status === 'failed');
  const notReady = options.schedule ? [] : results.filter((r) => r.status === 'ok' && options.waitMs > 0 && !r.readiness?.ready);
  const lines = results.map((r) => `${r.status === 'failed' ? '✗' : !options.schedule && options.waitMs > 0 && !r.readiness?.ready ? '…' : '✓'} ${r.label}: ${r.status === 'failed' ? `failed: ${r.reason}` : options.schedule ? 'scheduled' : (r.readiness?.detail ?? 'raised')}`);
  const data = { plan, applied: true, results };
  if (failed.length) {
    progress?.fail();
    return { exitCode: ExitCode.PartialFailure, data, text: `${lines.join('\n')}\n${failed.length} of ${results.length} targets failed; rerun the same command to retry them (done ones are unchanged)` };
  }
  if (notReady.length) {
    progress?.fail(`not ready after ${formatDuration(options.waitMs)}: ${notReady.map((r) => r.label).join(', ')}`);
    return { exitCode: ExitCode.CheckFailed, data, text: `${lines.join('\n')}\nnot ready after ${formatDuration(options.waitMs)}: ${notReady.map((r) => `${r.label} (${r.readiness?.detail ?? 'unknown'})`).join(', ')}; capacity keeps coming and still scales down at ${plan.window.endsAt.local} ${plan.window.timezone}` };
  }
  progress?.succeed();
  const done = options.schedule
    ? `scheduled: up at ${plan.window.readyBy.local}, down at ${plan.window.endsAt.local} ${plan.window.timezone}`
    : `ready; scales back down at ${plan.window.endsAt.local} ${plan.window.timezone} (${plan.window.endsAt.utc})`;
  return { data, text: `${lines.join('\n')}\n${name}: ${done}` };
}

const utcOf = (schedule: string, timezone: string | undefined) => {
  const local = /^at\((.+)\)$/.exec(schedule)?.[1];
  if (!local) return undefined;
  return DateTime.fromISO(local, { zone: timezone ?? 'UTC' }).toUTC().toISO({ suppressMilliseconds: true }) ?? undefined;
};

/** `retailctl prescale status --campaign <name>`: read-only. */
export async function prescaleStatus(ctx: CommandContext, name: string): Promise<CommandResult> {
  const campaign = await campaignOf(ctx, name);
  const refs = resolveTargets(campaign);
  const aws = await ctx.aws();
  const state = await gatherPrescale(aws.read, name, refs, ctx.signal);
  const rows: StatusRow[] = await Promise.all(
    refs.map(async (ref) => {
      const seen = state.observations[`${ref.resourceId}|${ref.dimension}`] ?? {};
      // Lambda's provisioned concurrency was just read by gatherPrescale: no second call
      const readiness = ref.lambda ? lambdaReadiness(state.pc[ref.key], ref.desired) : await readReadiness(aws.read, ref, ref.desired, ctx.signal);
      const row: StatusRow = { ref, planned: ref.desired, readiness, actions: state.actions[ref.key] ?? {} };
      if (seen.downAction) row.baseline = seen.downAction;
      if (seen.registered) row.registered = seen.registered;
      return row;
    }),
  );
  const window = campaignWindow(campaign);
  const targets = rows.map((r) => ({
    target: r.ref.label,
    resourceId: r.ref.resourceId,
    dimension: r.ref.dimension,
    baseline: r.baseline ?? null,
    planned: r.planned,
    registered: r.registered ?? null,
    current: r.readiness.current,
    ready: r.readiness.ready,
    readiness: r.readiness.detail,
    scheduledActions: Object.fromEntries(Object.entries(r.actions).map(([d, a]) => [d, { ...a, utc: utcOf(a.schedule, a.timezone) ?? null }])),
  }));
  return { data: { campaign: name, window, targets }, text: renderPrescaleStatus(name, window, rows, ctx.out) };
}

/** `retailctl prescale restore --campaign <name>`: baseline from the down actions in AWS, so it works from any machine. */
export async function prescaleRestore(ctx: CommandContext, name: string, options: { waitMs: number }): Promise<CommandResult> {
  const campaign = await campaignOf(ctx, name);
  const refs = resolveTargets(campaign);
  const aws = await ctx.aws();
  const state = await gatherPrescale(aws.read, name, refs, ctx.signal);
  const steps = refs.map((ref) => {
    const seen = state.observations[`${ref.resourceId}|${ref.dimension}`] ?? {};
    const actions = state.actions[ref.key] ?? {};
    return {
      ref,
      baseline: seen.downAction,
      registered: seen.registered,
      // without a scaling policy, lowering the minimum leaves the capacity up: cap it first
      drainFirst: Boolean(seen.downAction && !seen.hasPolicy && (seen.current ?? seen.registered?.min ?? 0) > seen.downAction.min),
      deletes: (['up', 'drain', 'down'] as const).filter((d) => actions[d]).map((d) => actionName(name, ref, d)),
    };
  });
  const todo = steps.filter((s) => s.baseline || s.deletes.length);
  const lines = [`prescale restore ${name}:`];
  for (const s of steps) {
    lines.push(s.baseline
      ? `  ${s.ref.label}: min/max ${s.registered ? `${s.registered.min}/${s.registered.max}` : '?'} → ${s.drainFirst ? `${s.baseline.min}/${s.baseline.min} until capacity is down, then ` : ''}${s.baseline.min}/${s.baseline.max}; delete ${s.deletes.join(', ')}`
      : `  ${s.ref.label}: nothing recorded by retailctl (no down action)${s.deletes.length ? `; delete ${s.deletes.join(', ')}` : ''}`);
  }
  const text = lines.join('\n');
  const plan = { version: 1, campaign: name, steps: steps.map((s) => ({ target: s.ref.label, baseline: s.baseline ?? null, registered: s.registered ?? null, deleteActions: s.deletes })) };
  if (todo.length === 0) return { data: { plan, applied: false }, text: `${text}\nnothing to restore` };
  if (ctx.options.dryRun) return { data: { plan, applied: false, dryRun: true }, text };
  ctx.out.info(text);
  await ctx.confirm(`Restore ${todo.length} targets of ${name} to their baseline now?`);
  const write = aws.write();
  const aas = await write.client('autoscaling');
  const { RegisterScalableTargetCommand, DeleteScheduledActionCommand } = await import('@aws-sdk/client-application-auto-scaling');
  const results = await Promise.all(
    todo.map(async (s) => {
      try {
        const register = (min: number, max: number) =>
          aas.send(new RegisterScalableTargetCommand({ ServiceNamespace: s.ref.namespace, ResourceId: s.ref.resourceId, ScalableDimension: s.ref.dimension as never, MinCapacity: min, MaxCapacity: max }), { abortSignal: ctx.signal });
        if (s.baseline && s.drainFirst) {
          await register(s.baseline.min, s.baseline.min);
          await waitForDrain(ctx, aws.read, s.ref, s.baseline.min, options.waitMs);
        }
        if (s.baseline) await register(s.baseline.min, s.baseline.max);
        for (const actionNameToDelete of s.deletes) {
          try {
            await aas.send(new DeleteScheduledActionCommand({ ServiceNamespace: s.ref.namespace, ResourceId: s.ref.resourceId, ScalableDimension: s.ref.dimension as never, ScheduledActionName: actionNameToDelete }), { abortSignal: ctx.signal });
          } catch (err) {
            if (!isAwsError(err, 'ObjectNotFoundException')) throw err;
          }
        }
        return { target: s.ref.label, status: 'ok' as const };
      } catch (err) {
        return { target: s.ref.label, status: 'failed' as const, reason: (err as Error).message };
      }
    }),
  );
  const failed = results.filter((r) => r.status === 'failed');
  const summary = results.map((r) => `${r.status === 'ok' ? '✓' : '✗'} ${r.target}${r.status === 'failed' ? `: ${r.reason}` : ''}`).join('\n');
  return { exitCode: failed.length ? ExitCode.PartialFailure : ExitCode.Ok, data: { plan, applied: true, results }, text: summary };
}

/** Poll until a target's capacity is at most `wanted` (after capping its max), or the deadline passes. */
async function waitForDrain(ctx: CommandContext, read: import('../aws/context.js').AwsClients, ref: import('./targets.js').ScalableTargetRef, wanted: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = await readReadiness(read, ref, wanted, ctx.signal);
    if (now.current <= wanted) return;
    if (Date.now() >= deadline) throw new RetailctlError('PRESCALE_DRAIN_TIMEOUT', `${ref.label} still has ${now.current} after ${formatDuration(waitMs)} capped at ${wanted}; its maximum stays capped, rerun restore to finish`, { exitCode: ExitCode.CheckFailed });
    await sleep(Math.min(5000, Math.max(0, deadline - Date.now())), ctx.signal);
  }
}
