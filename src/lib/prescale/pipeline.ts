import { findCampaign } from '../config/campaign.js';
import { formatPath, type LoadedConfig } from '../config/load.js';
import type { Campaign } from '../config/schema.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { applyPrescale, deleteActions, executeRestore, waitUntilReady, type ExecuteOptions, type OtherWrite, type TargetResult } from './execute.js';
import { gatherPrescale, lambdaReadiness, readReadiness, readScalableTargets, type PrescaleState } from './gather.js';
import { pendingWrites, planPrescale, type ConfigTimingProblem, type PrescalePlan } from './plan.js';
import { renderPrescalePlan, renderPrescaleStatus, renderRestorePlan, type StatusRow } from './render.js';
import { planRestore } from './restore.js';
import { resolveTargets } from './targets.js';
import { campaignWindow } from './window.js';

/** Rounds of re-reading after applying, to converge with another run writing the same targets at the same time. */
export const CONVERGE_ROUNDS = 3;

async function campaignOf(ctx: CommandContext, name: string): Promise<{ campaign: Campaign; loaded: LoadedConfig }> {
  const loaded = await ctx.config();
  return { campaign: findCampaign(loaded.config, name), loaded };
}

/** Config problems the clock revealed: exit 2, one `file:line:col: path: message` line each, like any config problem. */
function timingError(loaded: LoadedConfig, problems: ConfigTimingProblem[]): RetailctlError {
  const lines = problems.map((p) => {
    const first = loaded.locate(p.path);
    const [where, path] = !first.found && p.fallbackPath ? [loaded.locate(p.fallbackPath), p.fallbackPath] : [first, p.path];
    return `${where.location}: ${formatPath(path)}: ${p.message}`;
  });
  return new RetailctlError('CONFIG_INVALID', lines[0]!, { exitCode: ExitCode.Usage, details: lines.slice(1), hint: 'nothing was changed; fix the config or the command, then rerun' });
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

/** `retailctl prescale --campaign <name> [--schedule]`: read → plan → (dry run) → confirm → apply → converge → wait. */
export async function prescaleRun(ctx: CommandContext, name: string, options: { schedule: boolean; waitMs: number }): Promise<CommandResult> {
  const { campaign, loaded } = await campaignOf(ctx, name);
  const refs = resolveTargets(campaign);
  const aws = await ctx.aws();
  const now = ctx.now();
  const [state, region] = await Promise.all([gatherPrescale(aws.read, name, refs, ctx.signal), (await aws.read.client('lambda')).config.region()]);
  const planWith = (observations: PrescaleState['observations']) =>
    planPrescale({ campaignName: name, campaign, mode: options.schedule ? 'schedule' : 'now', now, observations, lambdas: state.lambdas, account: state.account, lambdaElsewhere: state.lambdaElsewhere, lambdaScheduled: state.lambdaScheduled, region, campaigns: loaded.config.campaigns });
  const plan = planWith(state.observations);
  if (plan.configProblems.length) throw timingError(loaded, plan.configProblems);
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
  const opts: ExecuteOptions = {
    othersWritten: [],
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
  };
  const results = await applyPrescale(plan, opts);
  const settled = results.some((r) => r.status === 'failed')
    ? { plan, replanned: [], settled: true, results: [] as TargetResult[], undone: [] as string[] }
    : await converge((fresh) => planWith(withCapacity(fresh.observations, state.observations)), () => readScalableTargets(aws.read, name, refs, ctx.signal), opts, state.observations);
  for (const late of settled.results.filter((r) => r.status === 'failed')) Object.assign(results.find((r) => r.key === late.key)!, late);
  const applied = settled.plan;
  if (!options.schedule && options.waitMs > 0) await waitUntilReady(applied, results, opts);

  const failed = results.filter((r) => r.status === 'failed');
  const notReady = options.schedule ? [] : results.filter((r) => r.status === 'ok' && options.waitMs > 0 && !r.readiness?.ready);
  const lines = results.map((r) => `${r.status === 'failed' ? '✗' : !options.schedule && options.waitMs > 0 && !r.readiness?.ready ? '…' : '✓'} ${r.label}: ${r.status === 'failed' ? `failed: ${r.reason}` : options.schedule ? 'scheduled' : (r.readiness?.detail ?? 'raised')}`);
  if (settled.replanned.length) lines.push(`another campaign wrote to ${settled.replanned.join(', ')} while this run applied: planned together with it again`);
  if (settled.undone.length) lines.push(`another campaign was restored while this run applied: removed ${settled.undone.join(', ')}, which this run had written after the restore deleted it`);
  const data = { plan: applied, applied: true, results, ...(settled.replanned.length ? { replanned: settled.replanned } : {}) };
  if (failed.length) {
    progress?.fail();
    return { exitCode: ExitCode.PartialFailure, data, text: `${lines.join('\n')}\n${failed.length} of ${results.length} targets failed; rerun the same command to retry them (done ones are unchanged)` };
  }
  if (!settled.settled) {
    progress?.fail();
    return { exitCode: ExitCode.CheckFailed, data, text: `${lines.join('\n')}\nanother run kept changing these targets' scheduled actions; rerun the same command to converge, then check with prescale status` };
  }
  if (notReady.length) {
    progress?.fail(`not ready after ${formatDuration(options.waitMs)}: ${notReady.map((r) => r.label).join(', ')}`);
    return { exitCode: ExitCode.CheckFailed, data, text: `${lines.join('\n')}\nnot ready after ${formatDuration(options.waitMs)}: ${notReady.map((r) => `${r.label} (${r.readiness?.detail ?? 'unknown'})`).join(', ')}; capacity keeps coming and still scales down at ${applied.window.endsAt.local} ${applied.window.timezone}` };
  }
  progress?.succeed();
  const done = options.schedule
    ? `scheduled: up at ${applied.window.readyBy.local}, down at ${applied.window.endsAt.local} ${applied.window.timezone}`
    : `ready; scales back down at ${applied.window.endsAt.local} ${applied.window.timezone} (${applied.window.endsAt.utc})`;
  return { data, text: `${lines.join('\n')}\n${name}: ${done}${sharedNote(applied)}` };
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

/** ` (shared: … way down after the last window at …)` when a target is planned together with another campaign. */
function sharedNote(plan: PrescalePlan): string {
  const together = plan.targets.filter((t) => t.shared.some((s) => s.together));
  if (!together.length) return '';
  return together.map((t) => `\n${t.ref.label}: planned together with ${t.shared.filter((s) => s.together).map((s) => s.campaign).join(', ')}; way down at ${(t.drain ?? t.down).local.replace('T', ' ').slice(0, 16)} (${(t.drain ?? t.down).utc}), after the last window`).join('');
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
export async function prescaleStatus(ctx: CommandContext, name: string): Promise<CommandResult> {
  const { campaign, loaded } = await campaignOf(ctx, name);
  const refs = resolveTargets(campaign);
  const aws = await ctx.aws();
  const state = await gatherPrescale(aws.read, name, refs, ctx.signal);
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
  const text = [renderPrescaleStatus(name, window, rows, ctx.out), ...warnings.map((w) => `  ${ctx.out.style('yellow', 'warning:')} ${w}`)].join('\n');
  return { data: { campaign: name, window, targets, warnings }, text };
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
  const todo = steps.filter((s) => s.to || s.deletes.length || s.otherUpdates.length || s.otherDeletes.length);
  const text = renderRestorePlan(name, steps, ctx.out);
  const plan = {
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
  };
  if (todo.length === 0) return { data: { plan, applied: false }, text: `${text}\nnothing to restore` };
  if (ctx.options.dryRun) return { data: { plan, applied: false, dryRun: true }, text };
  ctx.out.info(text);
  const kept = todo.filter((s) => s.keptFor.length).length;
  await ctx.confirm(`Restore ${todo.length} targets of ${name}${kept ? ` (${kept} kept up for other live campaigns)` : ' to their baseline'} now?`);
  const results = await executeRestore(todo, { write: aws.write(), read: aws.read, waitMs: options.waitMs, signal: ctx.signal, campaign: name, now: restoreNow, campaigns: loaded.config.campaigns });
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

