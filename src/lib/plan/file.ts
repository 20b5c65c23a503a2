/**
 * Plan files on disk, and the identity a plan is bound to: writing (`--plan-out`, atomic) and
 * reading (`apply`, `plan show`), each failure one line with exit 2.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AwsContext } from '../aws/context.js';
import { callerIdentity } from '../aws/identity.js';
import type { CommandContext, CommandResult, GlobalOptions } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { canonicalPath, checkOutputFile, STDOUT } from '../io/paths.js';
import { shellQuote } from '../io/prompt.js';
import { writeFileAtomic } from '../io/rows.js';
import { formatDuration } from '../util/duration.js';
import { shown } from '../util/sanitize.js';
import { buildPlanDocument, parsePlanDocument, type PlanDocument } from './document.js';
import { planData, type KindHandler, type Prepared } from './handler.js';

/** Default `--plan-ttl`. */
export const DEFAULT_PLAN_TTL_MS = 24 * 3_600_000;

/** `--plan-out`, checked before any work starts like every output: a file of its own, never the config or init's backup of it. */
export async function checkPlanOut(options: GlobalOptions, cwd: string): Promise<void> {
  const file = options.planOut!;
  if (options.dryRun) throw new RetailctlError('USAGE', '--plan-out and --dry-run: give one (--plan-out already writes nothing to AWS and prints the plan)', { exitCode: ExitCode.Usage });
  if (file === STDOUT && options.json) throw new RetailctlError('USAGE', '--plan-out -: stdout already carries the --json document', { exitCode: ExitCode.Usage, hint: 'name a file' });
  if (file === STDOUT) return;
  await checkOutputFile(path.resolve(cwd, file), '--plan-out', { stdout: !options.json });
  const [target, config, backup] = await Promise.all([file, options.config, `${options.config}.bak`].map((p) => canonicalPath(path.resolve(cwd, p))));
  if (target === config || target === backup) {
    throw new RetailctlError('USAGE', `--plan-out ${shown(file)} is the config file${target === config ? '' : "'s backup (.bak)"}: writing the plan would replace it`, { exitCode: ExitCode.Usage, hint: 'name a file of its own for the plan, e.g. plan.json' });
  }
}

/** A plan file larger than this is not one retailctl wrote (and more than a JSON string can hold safely). */
const MAX_PLAN_BYTES = 256 * 1024 * 1024;

/** The command line a plan came from, without what only concerns writing the plan. */
function commandLine(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--plan-out' || a === '--plan-ttl') {
      i++;
      continue;
    }
    if (a.startsWith('--plan-out=') || a.startsWith('--plan-ttl=') || a === '--json' || a === '--yes' || a === '-y') continue;
    out.push(shellQuote(a));
  }
  return ['retailctl', ...out].join(' ');
}

/** `--plan-out FILE`: sign the plan, bind it to the account and region, write it atomically. Writes nothing to AWS. */
export async function writePlanFile<P>(ctx: CommandContext, aws: AwsContext, handler: KindHandler<P>, prepared: Prepared<P>, file: string): Promise<CommandResult> {
  const who = await callerIdentity(aws.read, ctx.signal);
  const ttlMs = ctx.options.planTtlMs ?? DEFAULT_PLAN_TTL_MS;
  const doc = buildPlanDocument({
    kind: prepared.kind,
    command: commandLine(ctx.argv),
    retailctl: ctx.version,
    account: who.account,
    region: who.region,
    now: ctx.now(),
    ttlMs,
    preconditions: prepared.preconditions,
    actions: handler.actions(prepared.plan),
    plan: prepared.plan,
    key: ctx.env.RETAILCTL_PLAN_KEY || undefined,
  });
  await writeFileAtomic(file === STDOUT ? file : path.resolve(ctx.cwd, file), [`${JSON.stringify(doc, null, 2)}\n`], { stdout: ctx.out.rawStdout });
  const where = file === STDOUT ? 'stdout' : file;
  const shownFile = file === STDOUT ? 'plan.json' : shellQuote(file);
  const text = `${prepared.text}\n\nplan written to ${where}: ${doc.kind}, ${doc.actions.length} write call${doc.actions.length === 1 ? '' : 's'}, account ${doc.account} ${doc.region}, valid for ${formatDuration(ttlMs)} (until ${doc.expiresAt}); nothing was changed\nreview it with \`retailctl plan show ${shownFile}\`, apply it with \`retailctl apply ${shownFile}\``;
  if (file === STDOUT) ctx.out.info(text);
  return {
    data: { ...planData(handler, prepared), planFile: file, kind: doc.kind, digest: doc.digest, account: doc.account, region: doc.region, createdAt: doc.createdAt, expiresAt: doc.expiresAt },
    text: file === STDOUT ? undefined : text,
  };
}

/** Read and verify a plan file (exit 2 for anything that is not an intact plan this retailctl reads). */
export async function readPlanFile(file: string, env: NodeJS.ProcessEnv, cwd: string): Promise<PlanDocument> {
  const at = path.resolve(cwd, file);
  const info = await stat(at).catch((err: NodeJS.ErrnoException) => {
    throw new RetailctlError('PLAN_INVALID', `${file}: ${err.code === 'ENOENT' ? 'no such plan file' : `cannot be read (${err.code ?? err.message})`}`, { exitCode: ExitCode.Usage, hint: 'give the file a command\'s --plan-out wrote' });
  });
  if (!info.isFile()) throw new RetailctlError('PLAN_INVALID', `${file}: is ${info.isDirectory() ? 'a directory' : 'not a regular file'}, not a plan file`, { exitCode: ExitCode.Usage, hint: 'give the file a command\'s --plan-out wrote' });
  if (info.size > MAX_PLAN_BYTES) throw new RetailctlError('PLAN_INVALID', `${file}: ${info.size} bytes is larger than any plan retailctl writes`, { exitCode: ExitCode.Usage });
  const text = await readFile(at, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new RetailctlError('PLAN_INVALID', `${file}: cannot be read (${err.code ?? err.message})`, { exitCode: ExitCode.Usage });
  });
  return parsePlanDocument(file, text, { key: env.RETAILCTL_PLAN_KEY || undefined });
}
