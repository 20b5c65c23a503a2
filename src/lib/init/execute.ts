import { copyFile, open, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';
import { checkOutputFile, resolveOutputPath } from '../io/paths.js';
import { writeFileAtomic } from '../io/rows.js';
import { packageRoot } from '../util/package-root.js';
import { shown } from '../util/sanitize.js';
import type { InitPlan } from './plan.js';

/** The starter config shipped with the package (the documented example). */
export function readTemplate(): Promise<string> {
  return readFile(path.join(packageRoot(), 'examples', 'retailctl.yaml'), 'utf8');
}

/**
 * Check, before anything is read or written, that the config path (and its `.bak` beside it) can
 * take a file: not a directory, device, FIFO or socket, and in (or below) a writable directory.
 * A symlink is checked at its target, which is where the file is written. Exit 2 naming `--config`.
 */
export async function checkInitTarget(file: string, cwd: string, backup: string): Promise<void> {
  for (const [given, label] of [[file, '--config'], [backup, 'the backup of --config']] as const) {
    const absolute = path.resolve(cwd, given);
    await checkOutputFile(absolute, label, { stdout: false }).catch((err: unknown) => {
      if (!(err instanceof RetailctlError)) throw err;
      // checkOutputFile names the absolute path; the user wrote `given`
      throw new RetailctlError(err.code, err.message.replace(`${label} ${absolute}:`, `${label} ${shown(given)}:`), { exitCode: err.exitCode, hint: 'point --config at a file in a writable directory' });
    });
  }
}

/** Current content of the target (through a symlink), or undefined when there is none. Only called once checkInitTarget passed (a FIFO would block). */
export async function readExisting(file: string): Promise<string | undefined> {
  return (await readExistingBytes(file))?.toString('utf8');
}

/** The same as bytes, for its size and sha256. */
export async function readExistingBytes(file: string): Promise<Buffer | undefined> {
  try {
    // O_NONBLOCK: a FIFO put there since the check must not block the run
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      if (!(await handle.stat()).isFile()) throw new RetailctlError('OUTPUT_UNUSABLE', `--config ${shown(file)}: is not a regular file (a device, FIFO or socket)`, { exitCode: ExitCode.Usage, hint: 'point --config at a file in a writable directory' });
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Carry out the plan. The new file appears atomically (write aside, then rename), after any backup. */
export async function executeInit(plan: InitPlan, cwd: string, template: string): Promise<void> {
  if (plan.action === 'unchanged') return;
  const target = path.resolve(cwd, plan.path);
  try {
    // the backup is of the file really there (a symlinked config: its target); the new content is
    // written through the link, which stays
    if (plan.action === 'overwrite' && plan.backup) await copyFile(await resolveOutputPath(target), await resolveOutputPath(`${target}.bak`));
    await writeFileAtomic(target, [template]);
  } catch (err) {
    if (err instanceof RetailctlError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // what the checks could not foresee (a directory the system refuses to create, a read-only file system)
    if (code && ['EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'EROFS', 'EEXIST', 'EISDIR'].includes(code)) {
      throw new RetailctlError('OUTPUT_UNUSABLE', `--config ${shown(plan.file)}: cannot be written (${shown((err as Error).message)})`, { exitCode: ExitCode.Usage, hint: 'point --config at a file in a writable directory', cause: err });
    }
    throw err;
  }
}
