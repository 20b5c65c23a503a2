/**
 * The prescale plan kinds for the shared apply step: `prescale.schedule` / `prescale.raise` (the
 * campaign's scale-up and way down) and `prescale.restore`. Preconditions are the scalable targets
 * as read (registered min/max, scaling policy, every retailctl campaign's scheduled actions on them);
 * the actions are exactly the writes `targetWrites` / the restore steps make.
 */
import { z } from 'zod';
import type { AwsContext } from '../aws/context.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode } from '../errors.js';
import { parsePlanObject, type PlanAction, type Precondition } from '../plan/document.js';
import type { ExecuteMode, KindHandler } from '../plan/handler.js';
import { formatDuration } from '../util/duration.js';
import { mdTable, mdText } from '../util/markdown.js';
import { applyPrescale, executeRestore, waitUntilReady, type ExecuteOptions, type TargetResult } from './execute.js';
import { readScalableTargets, type PrescaleState } from './gather.js';
import { SCHEDULE_MARGIN_MS, targetWrites, wayDownOrder, type PrescalePlan, type ScheduledActionPlan, type TargetWrite } from './plan.js';
import { renderPrescalePlan, renderRestorePlan } from './render.js';
import type { RestoreStep } from './restore.js';
import type { ScalableTargetRef } from './targets.js';
import type { Campaign } from '../config/schema.js';
import { applyWarm, readTables, waitWarm, warmActions, warmPreconditions, type WarmResult } from './warm.js';

/** The scalable targets exactly as the plan read them. */
export function prescalePreconditions(refs: readonly ScalableTargetRef[], observations: PrescaleState['observations']): Precondition[] {
  return refs.map((ref) => {
    const o = observations[`${ref.resourceId}|${ref.dimension}`];
    const value = o ? JSON.parse(JSON.stringify({ registered: o.registered ?? null, hasPolicy: o.hasPolicy ?? false, actions: o.actions ?? {}, others: o.others ?? [] })) : null;
    return { id: `autoscaling:${ref.namespace}/${ref.resourceId}/${ref.dimension}`, what: `${ref.label} (scalable target and retailctl's scheduled actions on it)`, value };
  });
}

async function observeTargets(ctx: CommandContext, aws: AwsContext, campaign: string, refs: readonly ScalableTargetRef[]): Promise<Precondition[]> {
  const { observations } = await readScalableTargets(aws.read, campaign, refs, ctx.signal);
  return prescalePreconditions(refs, observations);
}

function writeAction(ref: ScalableTargetRef, w: TargetWrite): PlanAction {
  const target = ref.label;
  const where = { ServiceNamespace: ref.namespace, ResourceId: ref.resourceId, ScalableDimension: ref.dimension };
  switch (w.type) {
    case 'register':
      return { call: 'application-autoscaling:RegisterScalableTarget', target, summary: `min ${w.min}, max ${w.max} (${w.why})`, params: { ...where, MinCapacity: w.min, MaxCapacity: w.max } };
    case 'delete':
      return { call: 'application-autoscaling:DeleteScheduledAction', target, summary: `delete ${w.names.join(', ')}`, params: { ...where, ScheduledActionNames: w.names } };
    case 'put':
      return { call: 'application-autoscaling:PutScheduledAction', target, summary: `${w.action.name} at ${w.action.utc}: min ${w.action.min}, max ${w.action.max}`, params: { ...where, ScheduledActionName: w.action.name, Schedule: w.action.schedule, Timezone: w.action.timezone, MinCapacity: w.action.min, MaxCapacity: w.action.max } };
    case 'putOther':
      return { call: 'application-autoscaling:PutScheduledAction', target, summary: `campaign ${w.update.campaign}'s ${w.update.name} at ${w.update.utc}: min ${w.update.min}, max ${w.update.max} (only while that campaign still has its down action)`, params: { ...where, ScheduledActionName: w.update.name, Schedule: w.update.schedule, Timezone: w.update.timezone, MinCapacity: w.update.min, MaxCapacity: w.update.max } };
  }
}

/** Scheduled actions of a plan that would be written for a time already past (or due within the margin): they would never fire. */
function passed(label: string, actions: readonly (ScheduledActionPlan | undefined)[], now: Date): string[] {
  return actions.flatMap((a) => (a && Date.parse(a.utc) <= now.getTime() + SCHEDULE_MARGIN_MS ? [`${label}: ${a.name} at ${a.utc} has passed (or is due within ${SCHEDULE_MARGIN_MS / 60_000} min): a scheduled action for it would never fire`] : []));
}

/** What the direct command adds to the executor: converging with a concurrent run after writing. */
export interface PrescaleExecuteMode extends ExecuteMode {
  converge?: (opts: ExecuteOptions) => Promise<Settled>;
}

export interface Settled {
  plan: PrescalePlan;
  replanned: string[];
  settled: boolean;
  results: TargetResult[];
  undone: string[];
}

async function executePrescale(ctx: CommandContext, aws: AwsContext, plan: PrescalePlan, mode: PrescaleExecuteMode): Promise<CommandResult> {
  const schedule = plan.mode === 'schedule';
  const name = plan.campaign;
  const waitMs = mode.waitMs ?? 0;
  const progress = !schedule && waitMs > 0 ? await ctx.out.progress(`raising ${plan.targets.length + (plan.warm?.length ?? 0)} targets and waiting until they are ready (up to ${formatDuration(waitMs)})`) : undefined;
  let lastPrinted = 0;
  const opts: ExecuteOptions = {
    othersWritten: [],
    write: aws.write(),
    read: aws.read,
    waitMs: schedule ? 0 : waitMs,
    signal: ctx.signal,
    onProgress: (lines) => {
      if (ctx.out.interactive) progress?.update(lines.join('\n'));
      else if (Date.now() - lastPrinted > 10_000) {
        lastPrinted = Date.now();
        for (const l of lines) ctx.out.info(l);
      }
    },
  };
  const results = await applyPrescale(plan, opts);
  // warm throughput is set now in both modes (it cannot be scheduled, nor lowered afterwards)
  const warmOpts = { write: opts.write, read: opts.read, signal: ctx.signal, waitMs };
  const warm: WarmResult[] = await applyWarm(plan.warm, warmOpts);
  // a reviewed plan is applied exactly: no re-planning after it (its preconditions were just checked)
  const settled: Settled = results.some((r) => r.status === 'failed') || !mode.converge ? { plan, replanned: [], settled: true, results: [], undone: [] } : await mode.converge(opts);
  for (const late of settled.results.filter((r) => r.status === 'failed')) Object.assign(results.find((r) => r.key === late.key)!, late);
  const applied = settled.plan;
  if (!schedule && waitMs > 0) await waitUntilReady(applied, results, opts);
  if (waitMs > 0 && warm.some((r) => r.status === 'ok')) await waitWarm(plan.warm, warm, warmOpts);

  const warmFailed = warm.filter((r) => r.status === 'failed');
  const warmNotReady = waitMs > 0 ? warm.filter((r) => r.status === 'ok' && !r.readiness?.ready) : [];
  const failed = [...results.filter((r) => r.status === 'failed'), ...warmFailed];
  const notReady = [...(schedule ? [] : results.filter((r) => r.status === 'ok' && waitMs > 0 && !r.readiness?.ready)), ...warmNotReady];
  const lines = results.map((r) => `${r.status === 'failed' ? '✗' : !schedule && waitMs > 0 && !r.readiness?.ready ? '…' : '✓'} ${r.label}: ${r.status === 'failed' ? `failed: ${r.reason}` : schedule ? 'scheduled' : (r.readiness?.detail ?? 'raised')}`);
  for (const r of warm) {
    const mark = r.status === 'failed' ? '✗' : waitMs > 0 && !r.readiness?.ready ? '…' : '✓';
    const what = r.status === 'failed' ? `failed: ${r.reason}` : `${r.skipped ? 'already at or above the request, nothing sent' : 'warm throughput set'}${r.readiness ? `; ${r.readiness.detail}` : ''}`;
    lines.push(`${mark} ${r.label}: ${what}`);
  }
  if (settled.replanned.length) lines.push(`another campaign wrote to ${settled.replanned.join(', ')} while this run applied: planned together with it again`);
  if (settled.undone.length) lines.push(`another campaign was restored while this run applied: removed ${settled.undone.join(', ')}, which this run had written after the restore deleted it`);
  const data = { plan: { ...applied, ...(plan.warm ? { warm: plan.warm } : {}) }, applied: true, results, ...(warm.length ? { warm } : {}), ...(settled.replanned.length ? { replanned: settled.replanned } : {}) };
  const rerun = mode.mode === 'apply' ? 'rerun the prescale command (a plan file is applied once)' : 'rerun the same command';
  if (failed.length) {
    progress?.fail();
    return { exitCode: ExitCode.PartialFailure, data, text: `${lines.join('\n')}\n${failed.length} of ${results.length + warm.length} targets failed; ${rerun} to retry them (done ones are unchanged)` };
  }
  if (!settled.settled) {
    progress?.fail();
    return { exitCode: ExitCode.CheckFailed, data, text: `${lines.join('\n')}\nanother run kept changing these targets' scheduled actions; rerun the same command to converge, then check with prescale status` };
  }
  if (notReady.length) {
    progress?.fail(`not ready after ${formatDuration(waitMs)}: ${notReady.map((r) => r.label).join(', ')}`);
    return { exitCode: ExitCode.CheckFailed, data, text: `${lines.join('\n')}\nnot ready after ${formatDuration(waitMs)}: ${notReady.map((r) => `${r.label} (${r.readiness?.detail ?? 'unknown'})`).join(', ')}; capacity keeps coming and still scales down at ${applied.window.endsAt.local} ${applied.window.timezone}` };
  }
  progress?.succeed();
  const done = schedule
    ? `scheduled: up at ${applied.window.readyBy.local}, down at ${applied.window.endsAt.local} ${applied.window.timezone}`
    : `ready; scales back down at ${applied.window.endsAt.local} ${applied.window.timezone} (${applied.window.endsAt.utc})`;
  return { data, text: `${lines.join('\n')}\n${name}: ${done}${sharedNote(applied)}` };
}

/** ` (shared: … way down after the last window at …)` when a target is planned together with another campaign. */
function sharedNote(plan: PrescalePlan): string {
  const together = plan.targets.filter((t) => t.shared.some((s) => s.together));
  if (!together.length) return '';
  return together.map((t) => `\n${t.ref.label}: planned together with ${t.shared.filter((s) => s.together).map((s) => s.campaign).join(', ')}; way down at ${(t.drain ?? t.down).local.replace('T', ' ').slice(0, 16)} (${(t.drain ?? t.down).utc}), after the last window`).join('');
}

const ref = z.object({ key: z.string(), label: z.string(), namespace: z.enum(['lambda', 'ecs', 'dynamodb']), resourceId: z.string(), dimension: z.string(), desired: z.number() }).passthrough();
const action = z.object({ name: z.string(), schedule: z.string(), timezone: z.string(), utc: z.string(), min: z.number(), max: z.number(), changed: z.boolean() }).passthrough();
const prescaleSchema = z
  .object({
    kind: z.enum(['prescale.schedule', 'prescale.raise']),
    version: z.literal(1),
    campaign: z.string().min(1),
    mode: z.enum(['now', 'schedule']),
    window: z.object({ readyBy: z.object({ utc: z.string(), local: z.string() }).passthrough(), endsAt: z.object({ utc: z.string(), local: z.string() }).passthrough(), timezone: z.string() }).passthrough(),
    targets: z.array(z.object({ ref, baseline: z.object({ min: z.number(), max: z.number() }), baselineSource: z.string(), down: action, up: action.optional(), drain: action.optional(), otherUpdates: z.array(action.passthrough()), deletes: z.array(z.object({ name: z.string(), self: z.boolean() }).passthrough()), shared: z.array(z.object({}).passthrough()) }).passthrough()),
    refusals: z.array(z.string()),
    warm: z
      .array(
        z
          .object({
            ref: z.object({ key: z.string(), label: z.string(), target: z.string(), table: z.string(), index: z.string().optional(), read: z.number().optional(), write: z.number().optional() }).passthrough(),
            billingMode: z.string(),
            current: z.object({ read: z.number().nullable(), write: z.number().nullable(), status: z.string().nullable() }),
            update: z.object({ read: z.number().int().positive().optional(), write: z.number().int().positive().optional() }).optional(),
          })
          .passthrough(),
      )
      .optional(),
  })
  .passthrough();

export const prescaleKind: KindHandler<PrescalePlan> & { execute(ctx: CommandContext, aws: AwsContext, plan: PrescalePlan, mode: PrescaleExecuteMode): Promise<CommandResult> } = {
  kinds: ['prescale.schedule', 'prescale.raise'],
  parse: (file, plan) => parsePlanObject(prescaleSchema, file, plan) as unknown as PrescalePlan,
  actions: (plan) => [...plan.targets.flatMap((t) => targetWrites(t).map((w) => writeAction(t.ref, w))), ...warmActions(plan.warm)],
  render: (plan, out) => renderPrescalePlan(plan, out),
  markdown(plan) {
    const rows = plan.targets.map((t) => [t.ref.label, `${t.baseline.min}/${t.baseline.max}`, `${t.planned.min}/${t.planned.max}`, t.up?.utc ?? (plan.mode === 'now' ? 'now' : ''), (t.drain ?? t.down).utc, targetWrites(t).length]);
    return [
      `**prescale ${mdText(plan.campaign)}** (${plan.mode === 'schedule' ? 'scheduled' : 'raise now'}): ready by ${mdText(plan.window.readyBy.utc)}, ends ${mdText(plan.window.endsAt.utc)} (${mdText(plan.window.timezone)})`,
      '',
      mdTable(['target', 'baseline min/max', 'planned min/max', 'up (UTC)', 'way down (UTC)', 'writes'], rows),
      ...((plan.warm ?? []).length
        ? ['', mdTable(['warm target', 'read (units/s)', 'write (units/s)', 'action'], (plan.warm ?? []).map((w) => [w.ref.label, `${w.current.read ?? '?'} → ${w.ref.read ?? 'unchanged'}`, `${w.current.write ?? '?'} → ${w.ref.write ?? 'unchanged'}`, w.update ? 'UpdateTable (cannot be lowered afterwards)' : 'skip: already at or above'])), '']
        : []),
      ...(typeof plan.cost?.usd === 'number' && plan.cost.usd > 0 ? ['', `estimated Lambda provisioned concurrency cost: $${plan.cost.usd.toFixed(2)}`] : []),
      ...(plan.warnings ?? []).map((w) => `\n> warning: ${mdText(w, 500)}`),
    ].join('\n');
  },
  observe: async (ctx, aws, plan) => {
    const refs = (plan.warm ?? []).map((w) => w.ref);
    const [targets, tables] = await Promise.all([observeTargets(ctx, aws, plan.campaign, plan.targets.map((t) => t.ref)), readTables(aws.read, [...new Set(refs.map((r) => r.table))], ctx.signal)]);
    return [...targets, ...warmPreconditions(refs, tables)];
  },
  // a plan made before the window is no plan for after it: its scale-up (or way down) time has passed
  // (raising now, its own up action only records the raise: capacity is registered at once)
  stale: (plan, now) => plan.targets.flatMap((t) => passed(t.ref.label, targetWrites(t).map((w) => (w.type === 'put' ? (plan.mode === 'now' && w.action === t.up ? undefined : w.action) : w.type === 'putOther' ? w.update : undefined)), now)),
  question: (plan) => `${plan.mode === 'schedule' ? 'Schedule' : 'Raise'} capacity for ${plan.targets.length + (plan.warm ?? []).filter((w) => w.update).length} targets of ${plan.campaign}?`,
  noop: (plan) => plan.targets.every((t) => targetWrites(t).length === 0) && !(plan.warm ?? []).some((w) => w.update),
  execute: executePrescale,
  checkCommand: (plan) => `retailctl prescale status --campaign ${plan.campaign}`,
};

/** `prescale restore`'s plan: the steps as shown (`steps`, unchanged) and, under `restore`, exactly what is executed. */
export interface RestorePlan {
  kind: 'prescale.restore';
  version: 1;
  campaign: string;
  steps: Record<string, unknown>[];
  restore: {
    /** The time the restore was planned at (other campaigns' live windows are judged at it). */
    now: string;
    steps: RestoreStep[];
    /** The config's campaigns, for keeping capacity other live campaigns need. */
    campaigns: Record<string, Campaign>;
  };
}

const todoOf = (plan: RestorePlan) => plan.restore.steps.filter((s) => s.to || s.deletes.length || s.otherUpdates.length || s.otherDeletes.length);

/** A restore's write calls, one per call, in the order executeRestore makes them. */
function restoreActions(plan: RestorePlan): PlanAction[] {
  return todoOf(plan).flatMap((s) => {
    const where = { ServiceNamespace: s.ref.namespace, ResourceId: s.ref.resourceId, ScalableDimension: s.ref.dimension };
    const t = s.ref.label;
    const del = (name: string, whose: string): PlanAction => ({ call: 'application-autoscaling:DeleteScheduledAction', target: t, summary: `delete ${whose} ${name}`, params: { ...where, ScheduledActionName: name } });
    const put = (u: RestoreStep['otherUpdates'][number]): PlanAction => ({ call: 'application-autoscaling:PutScheduledAction', target: t, summary: `campaign ${u.campaign}'s ${u.name} at ${u.utc}: min ${u.min}, max ${u.max} (only while that campaign still has its down action)`, params: { ...where, ScheduledActionName: u.name, Schedule: u.schedule, Timezone: u.timezone, MinCapacity: u.min, MaxCapacity: u.max } });
    const register = (min: number, max: number, why: string): PlanAction => ({ call: 'application-autoscaling:RegisterScalableTarget', target: t, summary: `min ${min}, max ${max} (${why})`, params: { ...where, MinCapacity: min, MaxCapacity: max } });
    const others = s.otherUpdates.filter((u) => u.changed);
    const waysDown = [...new Set(others.map((u) => u.campaign))].flatMap((c) => {
      const mine = others.filter((u) => u.campaign === c);
      return wayDownOrder(mine.find((u) => u.direction === 'drain'), mine.find((u) => u.direction === 'down'));
    });
    return [
      ...s.otherDeletes.map((d) => del(d.name, "another campaign's drain")),
      ...waysDown.map(put),
      ...others.filter((u) => u.direction === 'up').map(put),
      ...(s.to && s.drainFirst ? [register(s.to.min, s.drainTo ?? s.to.min, 'cap the maximum so capacity comes down, then wait')] : []),
      ...(s.to ? [register(s.to.min, s.to.max, s.keptFor.length ? `kept for ${s.keptFor.map((k) => k.campaign).join(', ')}` : 'the baseline')] : []),
      ...s.deletes.map((name) => del(name, "this campaign's")),
    ];
  });
}

async function executeRestorePlan(ctx: CommandContext, aws: AwsContext, plan: RestorePlan, mode: ExecuteMode): Promise<CommandResult> {
  const todo = todoOf(plan);
  if (!todo.length) return { data: { plan, applied: false }, text: `${mode.text}\nnothing to restore` };
  const results = await executeRestore(todo, { write: aws.write(), read: aws.read, waitMs: mode.waitMs ?? 0, signal: ctx.signal, campaign: plan.campaign, now: new Date(plan.restore.now), campaigns: plan.restore.campaigns });
  const failed = results.filter((r) => r.status === 'failed');
  const summary = results
    .map((r) => {
      const s = todo.find((x) => x.ref.label === r.target)!;
      const what = s.keptFor.length ? `: this campaign's part removed; kept at ${s.to!.min}/${s.to!.max} for ${s.keptFor.map((k) => k.campaign).join(', ')} (still live), which comes down after its own window` : '';
      return `${r.status === 'ok' ? '✓' : '✗'} ${r.target}${r.status === 'failed' ? `: ${r.reason}` : what}`;
    })
    .join('\n');
  return { exitCode: failed.length ? ExitCode.PartialFailure : ExitCode.Ok, data: { plan, applied: true, results }, text: summary };
}

const restoreSchema = z
  .object({
    kind: z.literal('prescale.restore'),
    version: z.literal(1),
    campaign: z.string().min(1),
    steps: z.array(z.record(z.string(), z.unknown())),
    restore: z.object({
      now: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO time'),
      steps: z.array(z.object({ ref, keptFor: z.array(z.object({ campaign: z.string() }).passthrough()), drainFirst: z.boolean(), deletes: z.array(z.string()), otherUpdates: z.array(action.passthrough()), otherDeletes: z.array(z.object({ name: z.string() }).passthrough()) }).passthrough()),
      campaigns: z.record(z.string(), z.unknown()),
    }),
  })
  .passthrough();

export const restoreKind: KindHandler<RestorePlan> = {
  kinds: ['prescale.restore'],
  parse: (file, plan) => parsePlanObject(restoreSchema, file, plan) as unknown as RestorePlan,
  actions: restoreActions,
  render: (plan, out) => renderRestorePlan(plan.campaign, plan.restore.steps, out),
  markdown(plan) {
    const rows = plan.restore.steps.map((s) => [s.ref.label, s.registered ? `${s.registered.min}/${s.registered.max}` : 'unregistered', s.to ? `${s.to.min}/${s.to.max}` : 'unchanged', s.keptFor.map((k) => k.campaign).join(', '), s.deletes.length]);
    return [`**prescale restore ${mdText(plan.campaign)}**`, '', mdTable(['target', 'registered min/max', 'restore to', 'kept for', 'actions deleted'], rows)].join('\n');
  },
  observe: (ctx, aws, plan) => observeTargets(ctx, aws, plan.campaign, plan.restore.steps.map((s) => s.ref)),
  stale: (plan, now) => todoOf(plan).flatMap((s) => passed(s.ref.label, s.otherUpdates.filter((u) => u.changed), now)),
  question: (plan) => {
    const todo = todoOf(plan);
    const kept = todo.filter((s) => s.keptFor.length).length;
    return `Restore ${todo.length} targets of ${plan.campaign}${kept ? ` (${kept} kept up for other live campaigns)` : ' to their baseline'} now?`;
  },
  noop: (plan) => todoOf(plan).length === 0,
  execute: executeRestorePlan,
  checkCommand: (plan) => `retailctl prescale status --campaign ${plan.campaign}`,
};
