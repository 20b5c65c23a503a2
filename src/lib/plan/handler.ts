/**
 * What a feature gives the shared apply step for its plan kinds: the prepared plan, and a handler
 * (render, write calls, preconditions, executor). Types and the plan document only; no I/O.
 */
import type { AwsContext } from '../aws/context.js';
import type { CommandContext, CommandResult } from '../context.js';
import type { RetailctlError } from '../errors.js';
import type { Output } from '../io/output.js';
import type { PlanAction, PlanKind, Precondition } from './document.js';

/** A plan a feature made from what it read, ready for the apply step. */
export interface Prepared<P> {
  kind: PlanKind;
  /** The feature's plan object: plain, versioned data with `kind` (what `--dry-run --json` prints). */
  plan: P;
  /** Exactly what the plan was computed from. */
  preconditions: Precondition[];
  /** The plan for people. */
  text: string;
  /** The same text as the lines the command printed before it went through this step, each on its own line (timestamped off a terminal). */
  lines?: string[];
  /** Preflight refused the change (already decided with --force): thrown, also for --plan-out. */
  refusal?: RetailctlError;
  /** Nothing to change; the executor still runs (it may audit the no-op) but nothing asks. */
  noop: boolean;
}

/** How the executor was reached. */
export interface ExecuteMode {
  /** `direct`: the command itself (may re-plan on a conflict); `apply`: a reviewed plan file, exactly. */
  mode: 'direct' | 'apply';
  /** The plan as rendered (already printed before the confirmation). */
  text: string;
  /** How long to wait for the change to take effect (`--wait`), for kinds that wait; 0 = do not. */
  waitMs?: number;
}

/** What a feature provides for one or more plan kinds. */
export interface KindHandler<P> {
  kinds: readonly PlanKind[];
  /** Check a plan object read back from a file (exit 2 naming the field), returning it typed. */
  parse(file: string, plan: Record<string, unknown>): P;
  /** Every write call the plan makes, in order. */
  actions(plan: P): PlanAction[];
  render(plan: P, out: Output): string;
  /** The plan as Markdown, for `plan show --markdown` and a PR comment. */
  markdown(plan: P): string;
  /** Read the preconditions' items again, now (read-only). */
  observe(ctx: CommandContext, aws: AwsContext, plan: P, planned: readonly Precondition[]): Promise<Precondition[]>;
  /** The confirmation question. */
  question(plan: P): string;
  /** Nothing to change (apply of such a plan asks nothing). */
  noop(plan: P): boolean;
  /** Whether a change asks first (default: every one that is not a no-op); init asks only before replacing a file. */
  asks?(plan: P): boolean;
  /** Why the plan can no longer be applied now, whatever AWS holds (e.g. a scheduled time has passed); none: it can. */
  stale?(plan: P, now: Date): string[];
  /** Apply: what must hold before the question is asked (e.g. the config naming the audit log loads). */
  beforeConfirm?(ctx: CommandContext, aws: AwsContext, plan: P): Promise<void>;
  /** Make the planned writes and report as the direct command does. */
  execute(ctx: CommandContext, aws: AwsContext, plan: P, mode: ExecuteMode): Promise<CommandResult>;
  /** Where to look after an interrupted apply, e.g. `retailctl cdn status storefront`. */
  checkCommand?(plan: P): string;
}

/** The `--dry-run` / `--plan-out` document: the plan, what it was computed from, and its writes. */
export function planData<P>(handler: KindHandler<P>, prepared: Prepared<P>): Record<string, unknown> {
  return { plan: prepared.plan, preconditions: prepared.preconditions, actions: handler.actions(prepared.plan), applied: false, dryRun: true };
}
