import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { access, lstat, mkdir, open, readlink, realpath, rmdir, stat, unlink } from 'node:fs/promises';
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
export async function checkOutputFile(file: string, label: string, options: { stdout?: boolean } = {}): Promise<void> {
  if (file === STDOUT) return;
  const hint = `point ${label} at a file in a writable directory`;
  const orStdout = options.stdout === false ? '' : `, or pass ${label} - to write to stdout`;
  const special = await systemPath(file);
  if (special) throw unusable(label, file, `${special === path.resolve(file) ? 'is' : `leads to ${special},`} under /dev or /proc (devices and process streams), not a file retailctl can write`, `${hint}${orStdout}`);
  const absolute = await resolveOutputPath(file);
  // stat follows the links itself: /dev/stdout → /proc/self/fd/1 → a pipe that has no path
  const existing = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw unusable(label, file, `cannot be checked (${err.code ?? err.message})`, hint);
  });
  if (existing?.isDirectory()) throw unusable(label, file, 'is a directory, not a file', hint);
  // a device or FIFO would swallow the output (or block the run) instead of keeping it
  if (existing && !existing.isFile()) throw unusable(label, file, 'is not a regular file (a device, FIFO or socket)', `${hint}${orStdout}`);
  if (existing) {
    if (!(await writable(absolute))) throw unusable(label, file, 'is not writable by this user', hint);
    return;
  }
  let dir = path.dirname(absolute);
  let missing: string | undefined;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const found = await stat(dir).catch(() => undefined);
    if (found) {
      if (!found.isDirectory()) throw unusable(label, file, `${dir} is not a directory`, hint);
      if (!(await writable(dir))) throw unusable(label, file, `cannot be created: ${dir} is not writable by this user`, hint);
      await probe(dir, missing !== undefined, label, file, hint);
      return;
    }
    missing = dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw unusable(label, file, 'no existing directory above it', hint);
}

/**
 * Permission bits cannot tell everything (root "may write" to /proc, where nothing can be made):
 * create something where the write would create its own — a file beside the target, or a directory
 * in the nearest existing one when directories are missing — and remove it at once. The probe has a
 * name of its own, so a concurrent run's file at the target is never touched.
 */
async function probe(dir: string, isDir: boolean, label: string, file: string, hint: string): Promise<void> {
  const at = path.join(dir, `.retailctl-probe-${randomBytes(6).toString('hex')}`); // short: a 255-byte target name fits
  try {
    if (isDir) {
      await mkdir(at);
      await rmdir(at).catch(() => {});
    } else {
      const handle = await open(at, 'wx');
      await handle.close();
      await unlink(at).catch(() => {});
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw unusable(label, file, `cannot be created: ${dir} does not allow new ${isDir ? 'directories' : 'files'} (${e.code ?? e.message})`, hint);
  }
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

/** The output path that means "write to stdout" (`--out -`). */
export const STDOUT = '-';

/** `dir` and the missing directories above it, deepest first, up to the nearest existing one. */
function missingDirs(dir: string, exists: (p: string) => 'dir' | 'other' | 'none'): string[] {
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const kind = exists(at);
    if (kind === 'dir') return missing;
    if (kind === 'other') throw Object.assign(new Error(`${at} is not a directory`), { code: 'ENOTDIR' });
    missing.push(at);
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  throw Object.assign(new Error(`no existing directory above ${dir}`), { code: 'ENOENT' });
}

const kindSync = (p: string): 'dir' | 'other' | 'none' => {
  try {
    return statSync(p).isDirectory() ? 'dir' : 'other';
  } catch {
    return 'none';
  }
};

/**
 * Create directory `dir` and what is missing above it, one level at a time below the nearest
 * existing ancestor (at most 256 levels). Node's `mkdir({ recursive: true })` loops forever on
 * paths such as /proc/self/x; this fails with the first level the system refuses (EACCES, ENOENT…).
 */
export async function makeDirs(dir: string): Promise<void> {
  for (const level of missingDirs(dir, kindSync).reverse()) {
    await mkdir(level).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/** makeDirs, synchronously (for lock files taken at start-up). */
export function makeDirsSync(dir: string): void {
  for (const level of missingDirs(dir, kindSync).reverse()) {
    try {
      mkdirSync(level);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * The path (`file` itself or a link on the way) under /dev or /proc, if any: /dev/stdout,
 * /dev/fd/1 and /proc/self/fd/1 reach whatever this process writes to — with `>> build.log` a
 * regular file that a rename would replace, log and all. No output of retailctl belongs there.
 */
export async function systemPath(file: string): Promise<string | undefined> {
  const inSystem = (p: string) => /^\/(dev|proc)(\/|$)/.test(p);
  let absolute = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    if (inSystem(absolute)) return absolute;
    const link = await lstat(absolute).catch(() => undefined);
    if (!link?.isSymbolicLink()) return undefined;
    absolute = path.resolve(path.dirname(absolute), await readlink(absolute));
  }
  return undefined;
}

/** `p` with symlinks resolved as far as it exists (the rest appended): equal for two names of one file. */
export async function canonicalPath(p: string): Promise<string> {
  const missing: string[] = [];
  let at = path.resolve(p);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const real = await realpath(at).catch(() => undefined);
    if (real) return path.join(real, ...missing.reverse());
    missing.push(path.basename(at));
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  return path.resolve(p);
}
