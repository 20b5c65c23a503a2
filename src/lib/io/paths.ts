import { constants } from 'node:fs';
import { access, lstat, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';

/** Deepest directory walk when looking for an existing ancestor (no real path is this deep). */
const MAX_DEPTH = 256;

function unusable(label: string, file: string, why: string, hint: string): RetailctlError {
  return new RetailctlError('OUTPUT_UNUSABLE', `${label} ${file}: ${why}`, { exitCode: ExitCode.Usage, hint });
}

/**
 * Check, before any work starts, that `file` can be created or appended to: it is not a directory,
 * and it (or the nearest existing ancestor directory, when it does not exist yet) is writable.
 * Nothing is created. `label` names the flag or config key in the message (exit 2).
 */
export async function checkOutputFile(file: string, label: string): Promise<void> {
  const absolute = await resolveOutputPath(file);
  const hint = `point ${label} at a file in a writable directory`;
  const existing = await stat(absolute).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw unusable(label, file, `cannot be checked (${err.code ?? err.message})`, hint);
  });
  if (existing?.isDirectory()) throw unusable(label, file, 'is a directory, not a file', hint);
  // a device or FIFO would swallow the output (or block the run) instead of keeping it
  if (existing && !existing.isFile()) throw unusable(label, file, 'is not a regular file (a device, FIFO or socket)', hint);
  if (existing) {
    if (!(await writable(absolute))) throw unusable(label, file, 'is not writable by this user', hint);
    return;
  }
  let dir = path.dirname(absolute);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const found = await stat(dir).catch(() => undefined);
    if (found) {
      if (!found.isDirectory()) throw unusable(label, file, `${dir} is not a directory`, hint);
      if (!(await writable(dir))) throw unusable(label, file, `cannot be created: ${dir} is not writable by this user`, hint);
      return;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw unusable(label, file, 'no existing directory above it', hint);
}

/**
 * Check, before any work starts, that directory `dir` is not blocked by a file: neither it nor its
 * nearest existing ancestor is one. Nothing is created; whether it is writable is left to the first
 * write (which reports it), so a read-only dry run still works. Paths in the message are shown
 * relative to `cwd`. Exit 2 naming `label` (`--state-dir state: state is a file, not a directory`).
 */
export async function checkOutputDir(dir: string, label: string, given: string, cwd: string): Promise<void> {
  const hint = `pass ${label} <a directory>`;
  let at = path.resolve(cwd, dir);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const found = await stat(at).catch(() => undefined);
    if (found) {
      if (!found.isDirectory()) throw unusable(label, given, `${path.relative(cwd, at) || at} is a file, not a directory`, hint);
      return;
    }
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  throw unusable(label, given, 'no existing directory above it', hint);
}

/**
 * The path a write to `file` really lands on: symlinks followed (a bounded number of hops), also a
 * dangling one, whose target is then created. Writers create directories above this path, not above
 * the link.
 */
export async function resolveOutputPath(file: string): Promise<string> {
  let absolute = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    const link = await lstat(absolute).catch(() => undefined);
    if (!link?.isSymbolicLink()) break;
    absolute = path.resolve(path.dirname(absolute), await readlink(absolute));
  }
  return absolute;
}

async function writable(p: string): Promise<boolean> {
  try {
    await access(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
