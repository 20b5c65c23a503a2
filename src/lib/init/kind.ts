/**
 * `retailctl init` through the shared apply step, and the `init` plan kind for `retailctl apply`.
 *
 * - Preconditions: the config file as read (absent, or its size and sha256), the backup it would
 *   replace when the file is overwritten, and the starter config this retailctl writes (so a plan is
 *   never applied by a retailctl that would write something else).
 * - Actions: keep the current file as `<file>.bak` (overwrite only), then write the new file
 *   atomically. Both name the absolute path: a plan may be applied from another directory.
 * - Like every plan, it is bound to the account and region of the credentials (sts:GetCallerIdentity),
 *   although init itself calls no AWS API: `init --plan-out` and its apply need credentials.
 */
import path from 'node:path';
import { z } from 'zod';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { parsePlanObject, type PlanAction, type Precondition } from '../plan/document.js';
import type { KindHandler, Prepared } from '../plan/handler.js';
import { runPlan } from '../plan/step.js';
import { mdText } from '../util/markdown.js';
import { checkInitTarget, executeInit, readExistingBytes, readTemplate } from './execute.js';
import { initNeedsConfirmation, planInit, renderInitPlan, sha256Hex, type InitPlan } from './plan.js';

/** A file as read: null when there is none. */
async function fileState(file: string): Promise<{ bytes: number; sha256: string } | null> {
  const content = await readExistingBytes(file);
  return content === undefined ? null : { bytes: content.length, sha256: sha256Hex(content) };
}

/** Exactly what an init plan was computed from (read now). */
export async function initPreconditions(plan: InitPlan, template: string): Promise<Precondition[]> {
  const out: Precondition[] = [{ id: `file:${plan.path}`, what: `${plan.file} (--config)`, value: await fileState(plan.path) }];
  if (plan.action === 'overwrite') out.push({ id: `file:${plan.path}.bak`, what: `${plan.backup} (the backup it replaces)`, value: await fileState(`${plan.path}.bak`) });
  out.push({ id: 'init:template', what: 'the starter config this retailctl writes', value: { bytes: Buffer.byteLength(template), sha256: sha256Hex(template) } });
  return out;
}

async function executeInitPlan(ctx: CommandContext, _aws: unknown, plan: InitPlan, mode: { mode: 'direct' | 'apply'; text: string }): Promise<CommandResult> {
  if (plan.action === 'unchanged') {
    ctx.out.info(mode.text);
    return { data: { plan, applied: false } };
  }
  const template = await readTemplate();
  // the precondition compared it a moment ago; the write is exactly the planned content or none
  if (sha256Hex(template) !== plan.sha256) throw new RetailctlError('PLAN_STALE', `the starter config changed while applying: ${plan.file} not written, nothing was changed`, { exitCode: ExitCode.Failure, data: { applied: false } });
  await executeInit(plan, ctx.cwd, template);
  return { data: { plan, applied: true }, text: `wrote ${plan.file}` };
}

const planSchema = z.object({
  kind: z.literal('init'),
  version: z.literal(1),
  file: z.string().min(1),
  path: z.string().refine((p) => path.isAbsolute(p), 'expected an absolute path'),
  action: z.enum(['create', 'overwrite', 'unchanged']),
  backup: z.string().min(1).optional(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 hex digits'),
});

function initActions(plan: InitPlan): PlanAction[] {
  if (plan.action === 'unchanged') return [];
  const write: PlanAction = { call: 'fs:WriteFile', target: plan.path, summary: `${plan.action === 'create' ? 'create' : 'replace'} ${plan.file} with the starter config (${plan.bytes} bytes), atomically`, params: { path: plan.path, bytes: plan.bytes, sha256: plan.sha256 } };
  if (plan.action === 'create') return [write];
  return [{ call: 'fs:CopyFile', target: `${plan.path}.bak`, summary: `keep the current ${plan.file} as ${plan.backup}`, params: { from: plan.path, to: `${plan.path}.bak` } }, write];
}

export const initKind: KindHandler<InitPlan> = {
  kinds: ['init'],
  parse(file, plan) {
    const parsed = parsePlanObject(planSchema, file, plan);
    if ((parsed.action === 'overwrite') !== (parsed.backup !== undefined)) throw new RetailctlError('PLAN_INVALID', `${file}: is not a valid plan file: plan.backup: expected exactly when the action is overwrite`, { exitCode: ExitCode.Usage, hint: 'make a new plan with the command\'s --plan-out' });
    return parsed as InitPlan;
  },
  actions: initActions,
  render: (plan) => renderInitPlan(plan),
  markdown: (plan) => `**init**: ${mdText(renderInitPlan(plan))}`,
  async observe(ctx, _aws, plan) {
    // a plan file is applied later: the paths are checked again (a directory or FIFO put there is exit 2)
    await checkInitTarget(plan.path, ctx.cwd, `${plan.path}.bak`);
    return initPreconditions(plan, await readTemplate());
  },
  question: (plan) => `Overwrite ${plan.file}?`,
  noop: (plan) => plan.action === 'unchanged',
  asks: initNeedsConfirmation,
  execute: executeInitPlan,
};

/** `retailctl init`: check the paths, plan, then the shared apply step (refusal, --plan-out, --dry-run, confirm, execute). */
export async function initRun(ctx: CommandContext): Promise<CommandResult> {
  const file = ctx.options.config;
  await checkInitTarget(file, ctx.cwd, `${file}.bak`);
  const template = await readTemplate();
  const absolute = path.resolve(ctx.cwd, file);
  const plan = planInit({ file, path: absolute, existing: (await readExistingBytes(absolute))?.toString('utf8'), template });
  const prepared: Prepared<InitPlan> = { kind: 'init', plan, preconditions: await initPreconditions(plan, template), text: renderInitPlan(plan), noop: plan.action === 'unchanged' };
  return runPlan(ctx, initKind, prepared);
}
