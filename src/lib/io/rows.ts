/**
 * Result files for people and scripts: rows as JSON (an array, one object per line) or CSV (header
 * row, csv.ts) by the file's extension. Streamed — drift files and manifests can have
 * millions of rows — and atomic: written beside the target and renamed into place, so a killed
 * run never leaves half a file where the last good one was.
 *
 * The target is resolved first: a symlink is written through (its target is replaced, the link
 * stays), a device, FIFO or socket is refused, and `-` writes to stdout instead of a file.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { chmod, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';
import { makeDirs, resolveOutputPath, STDOUT, systemPath } from './paths.js';

/** Where `-` goes: the run's stdout. */
export interface StdoutSink {
  write(chunk: string): unknown;
}

export interface WriteOptions {
  /** Required for `-`; without it `-` is refused. */
  stdout?: StdoutSink;
  /** Permission bits of a new file (an existing file keeps its own). Default 0o644 less the umask. */
  mode?: number;
}

/** Text, or bytes already encoded as UTF-8. */
export type Chunk = string | Uint8Array;

/** Write `chunks` to `file` atomically (temp file + rename), in writes of about 64 KB. */
export async function writeFileAtomic(file: string, chunks: Iterable<Chunk> | AsyncIterable<Chunk>, options: WriteOptions = {}): Promise<void> {
  if (file === STDOUT) return writeToStdout(chunks, options.stdout);
  const special = await systemPath(file);
  if (special) {
    throw new RetailctlError('OUTPUT_UNUSABLE', `${file}: ${special === path.resolve(file) ? 'is' : `leads to ${special},`} under /dev or /proc (devices and process streams), not a file retailctl can write: not replaced`, { exitCode: ExitCode.Usage, hint: 'point it at a regular file, or pass - to write to stdout' });
  }
  const target = await resolveOutputPath(file);
  const existing = await stat(file).catch(() => undefined); // follows links, also /dev/stdout → a pipe
  if (existing && !existing.isFile()) {
    throw new RetailctlError('OUTPUT_UNUSABLE', `${file}: is ${existing.isDirectory() ? 'a directory' : 'not a regular file (a device, FIFO or socket)'}: not replaced`, {
      exitCode: ExitCode.Usage,
      hint: 'point it at a regular file, or pass - to write to stdout',
    });
  }
  await makeDirs(path.dirname(target));
  // a name nobody can predict, opened O_CREAT|O_EXCL (a link planted there is never followed), short
  // (a 255-byte target name still fits), and with the mode of the file it replaces from the start
  const tmp = path.join(path.dirname(target), `.retailctl-${randomBytes(8).toString('hex')}.tmp`);
  const mode = existing ? existing.mode & 0o777 : (options.mode ?? 0o644);
  const out = createWriteStream(tmp, { flags: 'wx', mode });
  await once(out, 'open');
  try {
    let pending = '';
    for await (const chunk of chunks) {
      if (typeof chunk !== 'string') {
        if (pending) out.write(pending);
        pending = '';
        if (!out.write(chunk)) await once(out, 'drain');
        continue;
      }
      pending += chunk;
      if (pending.length >= 1 << 16) {
        if (!out.write(pending)) await once(out, 'drain');
        pending = '';
      }
    }
    out.end(pending);
    await once(out, 'finish');
    if (existing) await chmod(tmp, existing.mode & 0o7777);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, target);
}

async function writeToStdout(chunks: Iterable<Chunk> | AsyncIterable<Chunk>, stdout: StdoutSink | undefined): Promise<void> {
  if (!stdout) throw new RetailctlError('OUTPUT_UNUSABLE', '-: this output cannot go to stdout', { exitCode: ExitCode.Usage, hint: 'name a file' });
  let pending = '';
  const utf8 = new TextDecoder();
  for await (const chunk of chunks) {
    // stdout gets text: a terminal's sanitiser works on it (a chunk can end inside a character: streamed)
    pending += typeof chunk === 'string' ? chunk : utf8.decode(chunk, { stream: true });
    if (pending.length >= 1 << 16) {
      const ok = stdout.write(pending);
      pending = '';
      if (ok === false && 'once' in stdout) await once(stdout as unknown as NodeJS.EventEmitter, 'drain');
    }
  }
  if (pending) stdout.write(pending);
}

/** The format of a rows file: JSON for a `.json` name, CSV for anything else (also `-`). */
export function rowFormatOf(file: string): 'csv' | 'json' {
  return file.toLowerCase().endsWith('.json') ? 'json' : 'csv';
}

/** Rows as a JSON array (`.json`) or CSV with these columns (anything else, also `-`; see csv.ts). */
export async function writeRowsFile(file: string, rows: Iterable<object>, columns: readonly string[], options: WriteOptions = {}): Promise<void> {
  if (rowFormatOf(file) === 'json') return writeFileAtomic(file, jsonArray(rows), options);
  const { csvChunks } = await import('./csv.js');
  return writeFileAtomic(file, csvChunks(rows, columns), options);
}

function* jsonArray(items: Iterable<unknown>): Generator<string> {
  let first = true;
  yield '[';
  for (const item of items) {
    yield `${first ? '' : ','}\n  ${JSON.stringify(item)}`;
    first = false;
  }
  yield first ? ']\n' : '\n]\n';
}
