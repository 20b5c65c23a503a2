/**
 * The one apply step every writing command goes through. A feature gathers and plans (pure) into a
 * `Prepared` plan and supplies a `KindHandler` (render, actions, preconditions, executor); this
 * module does the rest the same way for all of them: refusal, `--plan-out`, `--dry-run`,
 * confirmation, execution. `retailctl apply` (apply.ts) feeds the same handler from a plan file.
 */
import type { AwsContext } from '../aws/context.js';
import type { CommandContext, CommandResult } from '../context.js';
import { planData, type ExecuteMode, type KindHandler, type Prepared } from './handler.js';

export type { ExecuteMode, KindHandler, Prepared } from './handler.js';

/**
 * A direct command: refusal → `--plan-out` (write the plan file, nothing else) → `--dry-run` →
 * confirm → execute. Internally plan + apply in one process.
 */
export async function runPlan<P, M extends ExecuteMode = ExecuteMode>(ctx: CommandContext, handler: KindHandler<P> & { execute(ctx: CommandContext, aws: AwsContext, plan: P, mode: M): Promise<CommandResult> }, prepared: Prepared<P>, extra?: Omit<M, keyof ExecuteMode> & Partial<ExecuteMode>): Promise<CommandResult> {
  if (prepared.refusal) {
    if (!ctx.options.json) ctx.out.info(prepared.text);
    throw prepared.refusal;
  }
  const aws = await ctx.aws();
  if (ctx.options.planOut !== undefined) {
    const { writePlanFile } = await import('./file.js');
    return writePlanFile(ctx, aws, handler, prepared, ctx.options.planOut);
  }
  if (ctx.options.dryRun) return { data: planData(handler, prepared), text: prepared.text };
  if (!prepared.noop) {
    for (const line of prepared.lines ?? [prepared.text]) ctx.out.info(line);
    if (handler.asks?.(prepared.plan) ?? true) await ctx.confirm(handler.question(prepared.plan));
  }
  return handler.execute(ctx, aws, prepared.plan, { ...extra, mode: 'direct', text: prepared.text } as M);
}
