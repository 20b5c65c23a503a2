/**
 * `retailctl apply plan.json` and `retailctl plan show plan.json`: a reviewed plan, verified in a
 * fixed order and then executed exactly, by the same handler and executor as the direct command.
 *
 * Order: well-formed, digest/HMAC, format version (exit 2) → actions match the plan (exit 2) →
 * account and region of the current credentials (exit 2) → expiry (exit 1) → made in the future
 * (exit 2) → the kind's own staleness, e.g. scheduled times past (exit 1) → this host's record of
 * applied plans (exit 1, applied.ts) → every precondition read again: what the plan writes must be
 * among them (exit 2), and each as planned (exit 1, the differences listed, nothing written) →
 * confirm → claim the plan in the record → execute.
 */
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { shellQuote } from '../io/prompt.js';
import { shown } from '../util/sanitize.js';
import { alreadyApplied, claimApplied, findApplied, finishApplied, recordFile, type AppliedEntry } from './applied.js';
import { canonicalJson, changedPreconditions, diffLines, type ChangedPrecondition, type PlanDocument } from './document.js';
import { callerIdentity } from '../aws/identity.js';
import { readPlanFile } from './file.js';
import { handlerFor } from './kinds.js';
import { renderPlanHeader, renderPlanMarkdown } from './render.js';
import type { KindHandler } from './handler.js';

/** How far a plan's `createdAt` may be ahead of this machine's clock. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** A renderer's output; a forged plan whose fields it cannot show is not a plan retailctl made (exit 2). */
function renderOf(file: string, render: () => string): string {
  try {
    return render();
  } catch (err) {
    if (err instanceof RetailctlError) throw err;
    throw new RetailctlError('PLAN_INVALID', `${file}: is not a valid plan file: its plan cannot be shown (${shown((err as Error).message, 120)})`, { exitCode: ExitCode.Usage, hint: 'make a new plan with the command\'s --plan-out' });
  }
}

/** A plan file read, verified and typed by its kind's handler, and rendered for people. */
async function loadPlan(ctx: CommandContext, file: string): Promise<{ doc: PlanDocument; handler: KindHandler<unknown>; plan: unknown; text: string }> {
  const doc = await readPlanFile(file, ctx.env, ctx.cwd);
  const handler = await handlerFor(doc.kind);
  const plan = handler.parse(file, doc.plan as Record<string, unknown>);
  const text = renderOf(file, () => handler.render(plan, ctx.out));
  if (canonicalJson(handler.actions(plan)) !== canonicalJson(doc.actions)) {
    throw new RetailctlError('PLAN_INVALID', `${file}: its actions are not the writes its plan makes`, { exitCode: ExitCode.Usage, hint: 'never edit a plan file: make a new one with --plan-out' });
  }
  return { doc, handler, plan, text };
}

/** One line per changed precondition: what, as planned, as now. */
export function describeChanges(changes: readonly ChangedPrecondition[]): string[] {
  return changes.map((c) => {
    if (c.planned === null || c.now === null) return `${c.what}: ${c.now === null ? 'was there when planned, now absent' : `absent when planned, now ${shown(JSON.stringify(c.now), 200)}`}`;
    return `${c.what}: changed: ${diffLines(c.planned, c.now).map((l) => shown(l, 200)).join('; ')}`;
  });
}

export async function applyPlan(ctx: CommandContext, file: string, options: { waitMs: number }): Promise<CommandResult> {
  const { doc, handler, plan, text: planText } = await loadPlan(ctx, file);
  if (handler.checkCommand) ctx.signals.checkCommand = handler.checkCommand(plan);
  const aws = await ctx.aws();
  const who = await callerIdentity(aws.read, ctx.signal);
  if (who.account !== doc.account || who.region !== doc.region) {
    throw new RetailctlError('PLAN_WRONG_ACCOUNT', `${file}: made for account ${doc.account} in ${doc.region}, but these credentials are account ${who.account} in ${who.region}: not applied`, {
      exitCode: ExitCode.Usage,
      hint: 'apply it with the profile and region it was made with (--profile/--region), or make a new plan for this account',
    });
  }
  const now = ctx.now();
  if (Date.parse(doc.expiresAt) <= now.getTime()) {
    throw new RetailctlError('PLAN_EXPIRED', `${file}: expired at ${doc.expiresAt} (made ${doc.createdAt}): re-plan, nothing was changed`, {
      exitCode: ExitCode.Failure,
      hint: `make a fresh plan: ${doc.command} --plan-out ${shellQuote(file)}`,
    });
  }
  const replan = `${doc.command} --plan-out ${shellQuote(file)}`;
  if (Date.parse(doc.createdAt) > now.getTime() + CLOCK_SKEW_MS) {
    throw new RetailctlError('PLAN_INVALID', `${file}: made at ${doc.createdAt}, later than now (${now.toISOString()}): a clock is wrong, or the file is not one retailctl made`, { exitCode: ExitCode.Usage, hint: 'check the clocks of the machine that made it and of this one' });
  }
  const stale = handler.stale?.(plan, now) ?? [];
  if (stale.length) {
    throw new RetailctlError('PLAN_EXPIRED', `${file}: ${stale[0]}: re-plan, nothing was changed`, { exitCode: ExitCode.Failure, details: stale.slice(1), hint: `make a fresh plan: ${replan}` });
  }
  // a plan is applied once on this host, whatever config or checkout it is given with (applied.ts)
  const record = handler.noop(plan) ? undefined : recordFile(ctx.env, doc.digest);
  if (record) {
    const prior = await findApplied(record);
    if (prior) throw alreadyApplied(file, record, prior, replan);
  }
  const fresh = await handler.observe(ctx, aws, plan, doc.preconditions);
  // what the plan changes is read from the plan itself: every such item must be a precondition
  const planned = new Set(doc.preconditions.map((p) => p.id));
  const uncovered = fresh.filter((p) => !planned.has(p.id));
  if (uncovered.length) {
    throw new RetailctlError('PLAN_INVALID', `${file}: its preconditions do not cover what it changes (${uncovered.map((p) => p.what).slice(0, 3).join('; ')}${uncovered.length > 3 ? '; …' : ''}): not a plan retailctl made, not applied`, { exitCode: ExitCode.Usage, hint: 'make a new plan with the command\'s --plan-out' });
  }
  const changes = changedPreconditions(doc.preconditions, fresh);
  const text = `${renderPlanHeader(doc, file)}\n${planText}`;
  if (changes.length) {
    if (!ctx.options.json) ctx.out.info(text);
    throw new RetailctlError('PLAN_STALE', `${file}: ${changes.length} of ${doc.preconditions.length} things this plan was computed from changed since it was made: not applied, nothing was changed`, {
      exitCode: ExitCode.Failure,
      details: describeChanges(changes),
      hint: `if this plan was applied already, that is its own change; otherwise review what changed and make a fresh plan: ${doc.command} --plan-out ${shellQuote(file)}`,
      data: { applied: false, kind: doc.kind, changedPreconditions: changes },
    });
  }
  if (ctx.options.dryRun) return { data: { plan, preconditions: doc.preconditions, actions: doc.actions, applied: false, dryRun: true, kind: doc.kind, planFile: file }, text: `${text}\n\npreconditions hold: \`retailctl apply ${shellQuote(file)}\` would make exactly these writes` };
  await handler.beforeConfirm?.(ctx, aws, plan);
  if (!handler.noop(plan)) {
    ctx.out.info(text);
    if (handler.asks?.(plan) ?? true) await ctx.confirm(handler.question(plan));
  }
  const startedAt = ctx.now().toISOString();
  const entry = (outcome: AppliedEntry['outcome'], extra: Partial<AppliedEntry> = {}): AppliedEntry => ({ digest: doc.digest, kind: doc.kind, planFile: file, startedAt, outcome, ...extra });
  // claimed exclusively: of two applies that both passed the check above, only one writes
  if (record) await claimApplied(record, entry('started'), (prior) => alreadyApplied(file, record, prior, replan));
  let result: CommandResult;
  try {
    result = await handler.execute(ctx, aws, plan, { mode: 'apply', text, waitMs: options.waitMs });
  } catch (err) {
    if (record) await finishApplied(record, entry('failed', { error: err instanceof RetailctlError ? err.code : 'INTERNAL' })).catch((e: unknown) => ctx.out.warn(`the record of this apply in ${record} still says started: ${(e as Error).message}`));
    throw err;
  }
  if (record) await finishApplied(record, entry('done', { exitCode: result.exitCode ?? ExitCode.Ok })).catch((e: unknown) => ctx.out.warn(`the record of this apply in ${record} still says started: ${(e as Error).message}`));
  return { ...result, data: { ...result.data, kind: doc.kind, planFile: file } };
}

/** `retailctl plan show plan.json [--markdown]`: any plan file, for people or a PR comment. Reads no AWS. */
export async function showPlan(ctx: CommandContext, file: string, options: { markdown: boolean }): Promise<CommandResult> {
  const { doc, handler, plan, text } = await loadPlan(ctx, file);
  const expired = Date.parse(doc.expiresAt) <= ctx.now().getTime();
  const data = { ...doc, expired };
  if (options.markdown) return { data, text: renderPlanMarkdown(doc, renderOf(file, () => handler.markdown(plan)), expired) };
  return { data, text: `${renderPlanHeader(doc, file, expired)}\n${text}` };
}
