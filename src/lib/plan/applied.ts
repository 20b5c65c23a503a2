/**
 * The record of plan files applied on this host, so a plan is never applied twice: one small file
 * per plan digest under `<state dir>/applied-plans/`, created with O_EXCL just before the first
 * write (so two applies started at once cannot both pass it, and a killed run still leaves it), and
 * rewritten with the outcome afterwards. `retailctl apply` refuses a plan whose file is there.
 *
 * The state dir is RETAILCTL_STATE_DIR, else $XDG_STATE_HOME/retailctl, else ~/.local/state/retailctl:
 * one per user and host, whatever --config or checkout a plan is applied with. Another host (a fresh CI
 * runner) has its own, unless the job caches that directory or points RETAILCTL_STATE_DIR at one
 * it keeps; plans also expire (`--plan-ttl`).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';
import type { PlanKind } from './document.js';

export interface AppliedEntry {
  digest: string;
  kind: PlanKind;
  /** The plan file as given to apply. */
  planFile: string;
  startedAt: string;
  /** `started`: claimed, no outcome recorded yet (still running, or killed). */
  outcome: 'started' | 'done' | 'failed';
  /** `done`: the run's exit code (4 = some writes failed). */
  exitCode?: number;
  /** `failed`: the error code. */
  error?: string;
}

/** Where retailctl keeps state of its own on this host. */
export function stateDir(env: NodeJS.ProcessEnv): string {
  if (env.RETAILCTL_STATE_DIR) return path.resolve(env.RETAILCTL_STATE_DIR);
  if (env.XDG_STATE_HOME) return path.join(env.XDG_STATE_HOME, 'retailctl');
  return path.join(env.HOME || os.homedir(), '.local', 'state', 'retailctl');
}

/** The record of one plan digest. */
export function recordFile(env: NodeJS.ProcessEnv, digest: string): string {
  return path.join(stateDir(env), 'applied-plans', `${createHash('sha256').update(digest).digest('hex').slice(0, 40)}.json`);
}

const unusable = (file: string, err: NodeJS.ErrnoException, doing: string) =>
  new RetailctlError('PLAN_RECORD', `cannot ${doing} the record of applied plans ${file} (${err.code ?? err.message}): not applied, nothing was changed`, {
    exitCode: ExitCode.Usage,
    hint: 'apply records every plan before it writes, so none is applied twice: make the state directory writable, or set RETAILCTL_STATE_DIR to one that is',
  });

/** The record of a digest, or undefined when this host never applied it. A record that cannot be read counts as applied. */
export async function findApplied(file: string): Promise<AppliedEntry | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unusable(file, err as NodeJS.ErrnoException, 'read');
  }
  try {
    return JSON.parse(text) as AppliedEntry;
  } catch {
    // cut short by a crash while it was written: the claim was made, so the plan was started
    return { digest: '', kind: 'init', planFile: '', startedAt: 'an unknown time', outcome: 'started' };
  }
}

/** Claim a digest before the first write: exclusive, so of two applies started together only one goes on. */
export async function claimApplied(file: string, entry: AppliedEntry, refusal: (prior: AppliedEntry) => RetailctlError): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
  } catch (err) {
    throw unusable(file, err as NodeJS.ErrnoException, 'make');
  }
  let handle;
  try {
    handle = await open(file, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw refusal((await findApplied(file).catch(() => undefined)) ?? { ...entry, startedAt: 'an unknown time', outcome: 'started' });
    throw unusable(file, err as NodeJS.ErrnoException, 'write');
  }
  try {
    await handle.writeFile(`${JSON.stringify(entry)}\n`);
  } finally {
    await handle.close();
  }
}

/** The outcome, once known (a record that cannot be updated still says `started`: the plan stays refused). */
export async function finishApplied(file: string, entry: AppliedEntry): Promise<void> {
  await writeFile(file, `${JSON.stringify(entry)}\n`);
}

/** The refusal for a plan already recorded. */
export function alreadyApplied(planFile: string, record: string, state: AppliedEntry, replan: string): RetailctlError {
  const outcome = state.outcome === 'done' ? (state.exitCode ? `finished with exit ${state.exitCode}` : 'finished') : state.outcome === 'failed' ? `failed (${state.error ?? 'error'})` : 'started, no outcome recorded (still running, or killed)';
  return new RetailctlError('PLAN_ALREADY_APPLIED', `${planFile}: already applied at ${state.startedAt} (${outcome}; recorded in ${record}): not applied again, nothing was changed`, {
    exitCode: ExitCode.Failure,
    hint: `a plan is applied once; to make its changes again, make a fresh plan: ${replan}`,
    data: { applied: false, appliedAt: state.startedAt, outcome: state.outcome },
  });
}
