import { findCampaign } from '../config/campaign.js';
import { formatPath, type LoadedConfig } from '../config/load.js';
import type { Campaign } from '../config/schema.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { applyPrescale, deleteActions, type ExecuteOptions, type OtherWrite, type TargetResult } from './execute.js';
import { gatherPrescale, lambdaReadiness, readReadiness, readScalableTargets, type PrescaleState } from './gather.js';
import { pendingWrites, planPrescale, type ConfigTimingProblem, type PrescalePlan } from './plan.js';
import { renderPrescalePlan, renderPrescaleStatus, renderRestorePlan, type StatusRow } from './render.js';
import { planRestore, type RestoreStep } from './restore.js';
import { prescaleKind, prescalePreconditions, restoreKind, type RestorePlan } from './kind.js';
import { runPlan, type Prepared } from '../plan/step.js';
import { resolveTargets } from './targets.js';
import { readSizing, sizingQueries } from './sizing.js';
import { campaignWindow } from './window.js';
import { billingProblems, planWarm, readTables, resolveWarmTargets, tablesOf, warmPreconditions, warmStatus, type WarmTargetPlan } from './warm.js';
import { checkReport } from './check.js';

/** Rounds of re-reading after applying, to converge with another run writing the same targets at the same time. */
export const CONVERGE_ROUNDS = 3;

async function campaignOf(ctx: CommandContext, name: string): Promise<{ campaign: Campaign; loaded: LoadedConfig }> {
  const loaded = await ctx.config();
  return { campaign: findCampaign(loaded.config, name), loaded };
}

/** Config problems the clock revealed: exit 2, one `file:line:col: path: message` line each, like any config problem. */
function timingError(loaded: LoadedConfig, problems: ConfigTimingProblem[]): RetailctlError {
  const located = problems.map((p) => {
    const first = loaded.locate(p.path);
    const [where, path] = !first.found && p.fallbackPath ? [loaded.locate(p.fallbackPath), p.fallbackPath] : [first, p.path];
    return { where, text: `${formatPath(path)}: ${p.message}` };
  });
  const lines = located.map((l) => `${l.where.location}: ${l.text}`);
  return new RetailctlError('CONFIG_INVALID', lines[0]!, {
    exitCode: ExitCode.Usage,
    details: lines.slice(1),
    hint: 'nothing was changed; fix the config or the command, then rerun',
    locations: located.map((l) => ({ file: loaded.file, line: l.where.line, col: l.where.col, message: l.text })),
  });
}

/**
 * After applying, read the targets again: another run (another campaign sharing a target, started
 * at the same time, perhaps from another machine) may have written in between without seeing this
 * run's actions. Plan again with what is there now and write what differs, until nothing does.
 */
async function converge(
  replan: (state: Pick<PrescaleState, 'observations'>) => PrescalePlan,
  read: () => Promise<Pick<PrescaleState, 'observations'>>,
  opts: ExecuteOptions,
  firstRead: PrescaleState['observations'],
): Promise<{ plan: PrescalePlan; replanned: string[]; settled: boolean; results: TargetResult[]; undone: string[] }> {
  const replanned = new Set<string>();
  const results: TargetResult[] = [];
  const undone: string[] = [];
  let planned = firstRead;
  for (let round = 0; ; round++) {
    let fresh = await read();
    const recreated = recreatedByThisRun(planned, fresh.observations, opts.othersWritten ?? []);
    if (recreated.length) {
      for (const w of recreated) await deleteActions(opts.write, w.ref, [w.name], opts.signal);
      undone.push(...recreated.map((w) => w.name));
      opts.othersWritten = (opts.othersWritten ?? []).filter((w) => !recreated.includes(w));
      fresh = await read();
    }
    planned = fresh.observations;
    const next = replan(fresh);
    const pending = next.targets.filter((t) => pendingWrites(t) > 0);
    if (pending.length === 0 || round === CONVERGE_ROUNDS) return { plan: next, replanned: [...replanned], settled: pending.length === 0, results, undone };
    for (const t of pending) replanned.add(t.ref.label);
    results.push(...(await applyPrescale({ ...next, targets: pending }, opts)));
  }
}

/**
 * Another campaign's actions this run wrote that a concurrent restore of that campaign had deleted
 * in between (the small race left after reading just before writing): that campaign's scale-up was
 * read before and is gone now, while an action this run wrote for it is there. A rerun of a
 * campaign never deletes its own scale-up, so it is a restore (a raise-now run writes its scale-up
 * too; one raised at once by an earlier version has none: that case is not detected, and its
 * re-created way down only brings the target to its baseline after the window).
 */
export function recreatedByThisRun(before: PrescaleState['observations'], now: PrescaleState['observations'], written: readonly OtherWrite[]): OtherWrite[] {
  return written.filter((w) => {
    const key = `${w.ref.resourceId}|${w.ref.dimension}`;
    const was = before[key]?.others?.find((o) => o.campaign === w.campaign);
    const is = now[key]?.others?.find((o) => o.campaign === w.campaign);
    if (!was) return false;
    if (!is) return false;
    const present = [is.up, is.drain, is.down].some((a) => a?.name === w.name);
    // being restored: its up (read before) or its down is gone (a restore deletes the down last)
    const gone = (Boolean(was.up) && !is.up) || !is.down;
    return present && gone;
  });
}

/** `retailctl prescale --campaign <name> [--schedule]`: read → plan → the apply step (refusal, plan file, dry run, confirm) → apply → converge → wait. */
export async function prescaleRun(ctx: CommandContext, name: string, options: { schedule: boolean; waitMs: number }): Promise<CommandResult> {
  const { campaign, loaded } = await campaignOf(ctx, name);
  const refs = resolveTargets(campaign);
  const aws = await ctx.aws();
  const now = ctx.now();
  const warmRefs = resolveWarmTargets(campaign);
  const [state, region, tables, sized] = await Promise.all([
    gatherPrescale(aws.read, name, refs, ctx.signal),
    (await aws.read.client('lambda')).config.region(),
    readTables(aws.read, tablesOf(campaign), ctx.signal),
    readSizing(aws.read, sizingQueries(campaign), ctx.signal),
  ]);
  // on-demand tables take `warm`, provisioned ones `read`/`write`: a mismatch is a config error (exit 2)
  const billing = billingProblems(name, campaign, tables);
  if (billing.length) throw timingError(loaded, billing);
  const warm = planWarm(warmRefs, tables);
  const planWith = (observations: PrescaleState['observations']) =>
    withWarm(planPrescale({ campaignName: name, campaign, mode: options.schedule ? 'schedule' : 'now', now, observations, lambdas: state.lambdas, account: state.account, lambdaElsewhere: state.lambdaElsewhere, lambdaScheduled: state.lambdaScheduled, region, sized, campaigns: loaded.config.campaigns }), warm);
  const plan = planWith(state.observations);
  if (plan.configProblems.length) throw timingError(loaded, plan.configProblems);
  const preconditions = [...prescalePreconditions(refs, state.observations), ...warmPreconditions(warmRefs, tables)];
  const prepared: Prepared<PrescalePlan> = { kind: plan.kind, plan, preconditions, text: renderPrescalePlan(plan, ctx.out), noop: false };
  if (plan.refusals.length) {
    prepared.refusal = new RetailctlError('PRESCALE_PREFLIGHT_FAILED', `refusing to prescale ${name}: ${plan.refusals[0]}`, {
      exitCode: ExitCode.CheckFailed,
      details: plan.refusals.slice(1),
      hint: 'nothing was changed; fix the cause above and rerun',
      data: { plan, applied: false },
    });
  }
  return runPlan(ctx, prescaleKind, prepared, {
    waitMs: options.waitMs,
    converge: (opts) => converge((fresh) => planWith(withCapacity(fresh.observations, state.observations)), () => readScalableTargets(aws.read, name, refs, ctx.signal), opts, state.observations),
  });
}

/** The plan with its warm targets (set now in either mode: warm throughput cannot be scheduled). */
function withWarm(plan: PrescalePlan, warm: WarmTargetPlan[]): PrescalePlan {
  if (!warm.length) return plan;
  if (plan.mode === 'schedule' && warm.some((w) => w.update)) plan.notes.push('warm throughput is set now, not at the scale-up time (it cannot be scheduled), and cannot be lowered afterwards');
  return { ...plan, warm };
}

/** Capacity read once (Lambda's from its provisioned concurrency) carried into a re-read of the targets. */
function withCapacity(fresh: PrescaleState['observations'], first: PrescaleState['observations']): PrescaleState['observations'] {
  return Object.fromEntries(
    Object.entries(fresh).map(([k, o]) => {
      const out = { ...o };
      if (first[k]?.current !== undefined) out.current = first[k]!.current;
      if (first[k]?.capacity !== undefined) out.capacity = first[k]!.capacity;
      return [k, out];
    }),
  );
}

/**
 * Drains on a target that would leave it capped: one with no down strictly after it (AWS does not
 * order actions at the same instant), or one that fires inside the window of a campaign in the
 * config that uses the target.
 */
function drainWarnings(row: StatusRow, self: string, campaigns: Record<string, Campaign>): string[] {
  const out: string[] = [];
  const windows = Object.entries(campaigns)
    .filter(([, c]) => resolveTargets(c).some((r) => r.resourceId === row.ref.resourceId && r.dimension === row.ref.dimension))
    .map(([n, c]) => ({ name: n, window: campaignWindow(c) }));
  const sets = [{ owner: self, actions: row.actions }, ...row.others.map((o) => ({ owner: o.campaign, actions: o }))];
  for (const { owner, actions } of sets) {
    const { drain, down } = actions;
    if (!drain?.utc) continue;
    const rerun = `rerun prescale for ${owner}`;
    if (!down?.utc || Date.parse(down.utc) <= Date.parse(drain.utc)) out.push(`${row.ref.label}: campaign ${owner}'s drain ${drain.name} (${drain.utc}) has no down strictly after it: the maximum would stay capped at ${drain.max}; ${rerun}`);
    for (const w of windows) {
      const t = Date.parse(drain.utc);
      if (t > Date.parse(w.window.readyBy.utc) && t < Date.parse(w.window.endsAt.utc)) {
        out.push(`${row.ref.label}: campaign ${owner}'s drain ${drain.name} (${drain.utc}) fires inside campaign ${w.name}'s window (${w.window.readyBy.utc}–${w.window.endsAt.utc}): capacity is capped at ${drain.max} while it is live; ${rerun}`);
      }
    }
  }
  return out;
}

/** `retailctl prescale status --campaign <name>`: read-only. */
export async function prescaleStatus(ctx: CommandContext, name: string, options: { check?: boolean } = {}): Promise<CommandResult> {
  const { campaign, loaded } = await campaignOf(ctx, name);
  const aws = await ctx.aws();
  // planned minimums sized from the last campaign are read as a run reads them
  const refs = resolveTargets(campaign, await readSizing(aws.read, sizingQueries(campaign), ctx.signal));
  const warmRefs = resolveWarmTargets(campaign);
  const [state, tables] = await Promise.all([gatherPrescale(aws.read, name, refs, ctx.signal), readTables(aws.read, [...new Set(warmRefs.map((r) => r.table))], ctx.signal)]);
  const rows: StatusRow[] = await Promise.all(
    refs.map(async (ref) => {
      const seen = state.observations[`${ref.resourceId}|${ref.dimension}`] ?? {};
      // Lambda's provisioned concurrency was just read by gatherPrescale: no second call
      const readiness = ref.lambda ? lambdaReadiness(state.pc[ref.key], ref.desired) : await readReadiness(aws.read, ref, ref.desired, ctx.signal);
      const row: StatusRow = { ref, planned: ref.desired, readiness, actions: state.actions[ref.key] ?? {}, others: seen.others ?? [] };
      if (seen.downAction) row.baseline = seen.downAction;
      if (seen.registered) row.registered = seen.registered;
      return row;
    }),
  );
  const window = campaignWindow(campaign);
  const warnings = rows.flatMap((r) => drainWarnings(r, name, loaded.config.campaigns ?? {}));
  const actionsJson = (actions: StatusRow['actions']) => Object.fromEntries(Object.entries(actions).map(([d, a]) => [d, { ...a, utc: a.utc ?? null }]));
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
    scheduledActions: actionsJson(r.actions),
    otherCampaigns: r.others.map((o) => ({ campaign: o.campaign, scheduledActions: actionsJson(o) })),
  }));
  const warm = warmStatus(warmRefs, tables);
  const text = [renderPrescaleStatus(name, window, rows, ctx.out), ...warm.lines, ...warnings.map((w) => `  ${ctx.out.style('yellow', 'warning:')} ${w}`)].join('\n');
  const data = { campaign: name, window, targets, ...(warm.data.length ? { warm: warm.data } : {}), warnings };
  if (!options.check) return { data, text };
  const check = checkReport(name, window, ctx.now(), rows.map((r) => ({ row: r, seen: state.observations[`${r.ref.resourceId}|${r.ref.dimension}`] ?? {} })), warmRefs, tables, ctx.out);
  return { exitCode: check.exitCode, data: { ...data, check: check.data }, text: `${text}\n${check.text}` };
}

/**
 * `retailctl prescale restore --campaign <name>`: baseline from the down actions in AWS, so it works
 * from any machine; where another campaign is live on a target, only this campaign's part is undone.
 */
export async function prescaleRestore(ctx: CommandContext, name: string, options: { waitMs: number }): Promise<CommandResult> {
  const { campaign, loaded } = await campaignOf(ctx, name);
  const refs = resolveTargets(campaign);
  const aws = await ctx.aws();
  const state = await gatherPrescale(aws.read, name, refs, ctx.signal);
  const restoreNow = ctx.now();
  const steps = planRestore({ campaignName: name, campaign, now: restoreNow, observations: state.observations, campaigns: loaded.config.campaigns });
  const plan: RestorePlan = {
    kind: 'prescale.restore',
    version: 1,
    campaign: name,
    steps: steps.map((s) => ({
      target: s.ref.label,
      baseline: s.baseline ?? null,
      registered: s.registered ?? null,
      restoreTo: s.to ?? null,
      keptFor: s.keptFor,
      deleteActions: s.deletes,
      updateActions: s.otherUpdates,
      deleteOtherActions: s.otherDeletes,
    })),
    restore: { now: restoreNow.toISOString(), steps: JSON.parse(JSON.stringify(steps)) as RestoreStep[], campaigns: loaded.config.campaigns ?? {} },
  };
  const warmLeft = resolveWarmTargets(campaign).map((r) => `  ${r.label}: warm throughput cannot be lowered: left as it is`);
  const text = [renderRestorePlan(name, steps, ctx.out), ...warmLeft].join('\n');
  // nothing to restore is said as such, also in a dry run
  if (restoreKind.noop(plan) && ctx.options.dryRun) return { data: { plan, applied: false }, text: `${text}\nnothing to restore` };
  return runPlan(ctx, restoreKind, { kind: plan.kind, plan, preconditions: prescalePreconditions(refs, state.observations), text, noop: restoreKind.noop(plan) }, { waitMs: options.waitMs });
}
