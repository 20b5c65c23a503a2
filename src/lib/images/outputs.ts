/**
 * The files a migration writes for people (the manifest, the redirect map and its JSON twin),
 * checked before any work starts: a destination that cannot take the file is exit 2 naming the flag,
 * found before the lock is taken and before any S3 request, not after the upload (when the record
 * of what was done would be lost).
 */
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';
import { checkOutputFile, resolveOutputPath, STDOUT } from '../io/paths.js';
import { shown } from '../util/sanitize.js';
import { redirectFiles } from './report.js';

export interface OutputRequest {
  cwd: string;
  manifest?: string;
  redirects?: string;
  /** The catalogue being read: never an output. */
  catalogFile?: string;
}

interface Output {
  label: '--manifest' | '--redirects';
  given: string;
  file: string;
}

function unusable(label: string, given: string, why: string, hint: string): RetailctlError {
  return new RetailctlError('OUTPUT_UNUSABLE', `${label} ${shown(given)}: ${why}`, { exitCode: ExitCode.Usage, hint });
}

/**
 * Check every output of a migration: each can be created or replaced (not a directory, device or
 * FIFO, in a directory that exists or can be made, writable), no two are the same file (also
 * through a symlink), none is the catalogue, and none is `-` (stdout carries the run's report).
 */
export async function checkMigrationOutputs(request: OutputRequest): Promise<void> {
  const outputs: Output[] = [];
  if (request.manifest !== undefined) outputs.push({ label: '--manifest', given: request.manifest, file: path.resolve(request.cwd, request.manifest) });
  if (request.redirects !== undefined) {
    const { mapFile, jsonFile } = redirectFiles(path.resolve(request.cwd, request.redirects));
    outputs.push({ label: '--redirects', given: request.redirects, file: mapFile }, { label: '--redirects', given: request.redirects, file: jsonFile });
  }
  for (const o of outputs) {
    if (o.given === STDOUT || o.given.trim() === '') {
      throw unusable(o.label, o.given, o.given === STDOUT ? 'cannot go to stdout (stdout carries the run\'s report; --json makes it one JSON document)' : 'is empty', `name a file, e.g. ${o.label} ${o.label === '--manifest' ? 'images.csv' : 'redirects.map'}`);
    }
  }
  const catalogue = request.catalogFile ? await resolveOutputPath(request.catalogFile) : undefined;
  const seen = new Map<string, Output>();
  for (const o of outputs) {
    // the message names the file that cannot be written (--redirects writes two)
    const relative = path.relative(request.cwd, o.file);
    const named = o.file === path.resolve(request.cwd, o.given) ? o.given : relative && !relative.startsWith('..') ? relative : o.file;
    try {
      await checkOutputFile(o.file, o.label, { stdout: false });
    } catch (err) {
      const prefix = `${o.label} ${o.file}: `;
      if (err instanceof RetailctlError && err.message.startsWith(prefix)) throw unusable(o.label, named, err.message.slice(prefix.length), err.hint ?? `point ${o.label} at a file in a writable directory`);
      throw err;
    }
    const target = await resolveOutputPath(o.file);
    if (catalogue === target) throw unusable(o.label, named, 'is the catalogue (--catalog): it would be overwritten', `give ${o.label} another file name`);
    const other = seen.get(target);
    if (other) {
      const { mapFile, jsonFile } = redirectFiles(path.resolve(request.cwd, request.redirects ?? ''));
      const pair = `${path.relative(request.cwd, mapFile)} and ${path.relative(request.cwd, jsonFile)}`;
      const what = other.label === o.label ? 'they are the same file' : 'one of them is the --manifest file';
      throw new RetailctlError('USAGE', `--redirects ${shown(request.redirects)} writes ${shown(pair)}: ${what}`, { exitCode: ExitCode.Usage, hint: 'give the manifest and the redirects different file names' });
    }
    seen.set(target, o);
  }
}
