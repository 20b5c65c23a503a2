/**
 * Finding and opening a source's files: local paths and globs, `s3://bucket/key`, and S3 prefixes
 * and globs (`s3://bucket/exports/`, `s3://bucket/shopify/*.csv.gz`, listed with ListObjectsV2).
 * Every way a path can fail the user (no such file, a directory, unreadable, a glob matching
 * nothing, no such key or bucket, a `.gz` that is not gzip) is one exit-2 line naming the source
 * and the file; nothing here is an "unexpected error".
 */
import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { AwsClients } from '../aws/context.js';
import { ExitCode, isAwsError, RetailctlError } from '../errors.js';
import { shown } from '../util/sanitize.js';

/** One file of a source, found and not yet read. */
export interface InputFile {
  /** Absolute local path or `s3://bucket/key`. */
  file: string;
  /** As shown in messages: relative to the working directory, or the s3:// URL. */
  shown: string;
  /** mtime / LastModified when known before opening. */
  modified?: Date;
  /** Bytes as stored (S3 listings). */
  size?: number;
}

export interface OpenedInput {
  /** The file's bytes, decompressed when it is named `.gz`. */
  stream: Readable;
  modified?: Date;
  /** A local file's size and mtime when it was opened (to see it change while it is read). */
  local?: { size: number; mtimeMs: number };
}

/** What the finder needs from the run. */
export interface FileContext {
  resolve: (p: string) => string;
  aws?: () => Promise<AwsClients>;
  cwd: string;
  signal?: AbortSignal;
}

const GLOB = /[*?[\]{}]/;

function sourceError(source: string, message: string, hint: string, cause?: unknown): RetailctlError {
  return new RetailctlError('INVENTORY_READ', `source ${source}: ${message}`, { exitCode: ExitCode.Usage, hint, cause });
}

const pathHint = (source: string) => `fix inventory.sources.${source}.path in the config, or pass --source ${source}=<path>`;

export function parseS3(source: string, url: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(url);
  if (!m) throw sourceError(source, `${shown(url)} is not an s3://bucket/key path`, pathHint(source));
  return { bucket: m[1]!, key: m[2]! };
}

/** Relative to the working directory when the file is under it, else absolute. */
function showLocal(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** Why a local path cannot be read, in words (errno codes are kept for the curious). */
function localProblem(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'ENOTDIR':
      return 'no such file (a part of the path is not a directory)';
    case 'EACCES':
    case 'EPERM':
      return 'not readable by this user (permission denied)';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'EIO':
      return 'the disk or device failed to read it (EIO)';
    case 'ENAMETOOLONG':
      return 'the path is too long';
    default:
      return `cannot be read (${err.code ?? err.message})`;
  }
}

/** Every file of `paths`, in order: globs expanded (sorted), S3 prefixes listed. */
export async function findFiles(source: string, paths: readonly string[], ctx: FileContext): Promise<InputFile[]> {
  const out: InputFile[] = [];
  for (const p of paths) {
    if (p.startsWith('s3://')) {
      out.push(...(await findS3(source, p, ctx)));
      continue;
    }
    const absolute = ctx.resolve(p);
    if (GLOB.test(p)) {
      const { glob } = await import('tinyglobby');
      const matches = (await glob(absolute.split(path.sep).join('/'), { absolute: true, onlyFiles: true })).sort();
      if (matches.length === 0) throw sourceError(source, `no file matches ${shown(p)}`, `check the pattern and the directory (${shown(showLocal(path.dirname(absolute), ctx.cwd))}); ${pathHint(source)}`);
      for (const m of matches) out.push({ file: path.resolve(m), shown: showLocal(path.resolve(m), ctx.cwd) });
    } else {
      out.push({ file: absolute, shown: showLocal(absolute, ctx.cwd) });
    }
  }
  return out;
}

async function s3Client(source: string, ctx: FileContext) {
  if (!ctx.aws) throw new RetailctlError('INTERNAL', `source ${source}: an s3:// path without an AWS context`);
  return (await ctx.aws()).client('s3');
}

export function s3Missing(source: string, url: string, bucket: string, err: unknown): RetailctlError | undefined {
  if (isAwsError(err, 'NoSuchBucket')) return sourceError(source, `cannot read ${shown(url)}: bucket ${shown(bucket)} does not exist (S3 NoSuchBucket)`, `check the bucket name, the region and the account; ${pathHint(source)}`, err);
  if (isAwsError(err, 'NoSuchKey', 'NotFound')) return sourceError(source, `cannot read ${shown(url)}: no such object (S3 NoSuchKey)`, `check the key (did tonight's export run?); ${pathHint(source)}`, err);
  return undefined;
}

/** `s3://b/key` as is; `s3://b/prefix/` every object under it; `s3://b/dir/*.csv.gz` the keys matching. */
async function findS3(source: string, url: string, ctx: FileContext): Promise<InputFile[]> {
  const { bucket, key } = parseS3(source, url);
  const isGlob = GLOB.test(key);
  if (!isGlob && key !== '' && !key.endsWith('/')) return [{ file: url, shown: url }];
  const prefix = isGlob ? key.slice(0, key.search(GLOB)) : key;
  let match: (k: string) => boolean = (k) => !k.endsWith('/');
  if (isGlob) {
    const { default: picomatch } = await import('picomatch');
    const test = picomatch(key, { dot: true });
    match = (k) => !k.endsWith('/') && test(k);
  }
  const s3 = await s3Client(source, ctx);
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const found: InputFile[] = [];
  let token: string | undefined;
  do {
    let page;
    try {
      page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: ctx.signal });
    } catch (err) {
      throw s3Missing(source, url, bucket, err) ?? err;
    }
    for (const o of page.Contents ?? []) {
      if (!o.Key || !match(o.Key)) continue;
      found.push({ file: `s3://${bucket}/${o.Key}`, shown: `s3://${bucket}/${o.Key}`, ...(o.LastModified ? { modified: o.LastModified } : {}), ...(o.Size !== undefined ? { size: o.Size } : {}) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (found.length === 0) {
    throw sourceError(source, isGlob ? `no object matches ${shown(url)}` : `no object under ${shown(url)}`, `check the bucket and prefix (did tonight's export run?); ${pathHint(source)}`);
  }
  return found.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** Open one file for reading (checked: exists, a file, readable), gunzipped when it is named `.gz`. */
/** A local export's stat: a missing file, a directory, a FIFO or a device is exit 2 naming it. */
export async function statLocal(source: string, input: InputFile): Promise<Stats> {
  const hint = pathHint(source);
  const st = await stat(input.file).catch((err: NodeJS.ErrnoException) => {
    throw sourceError(source, `cannot read ${shown(input.shown)}: ${localProblem(err)}`, hint, err);
  });
  if (st.isDirectory()) throw sourceError(source, `${shown(input.shown)} is a directory, not a file`, `point it at the export file, or use a glob such as ${shown(path.join(input.shown, '*.csv'))}; ${hint}`);
  // a FIFO with no writer blocks open() for ever, in a thread no signal can stop; /dev/zero never ends
  if (!st.isFile()) throw sourceError(source, `${shown(input.shown)} is not a regular file (a FIFO, device or socket)`, `write the export to a file first and point the source at it; ${hint}`);
  return st;
}

/**
 * A local export rewritten while it was read (its size or mtime moved) is exit 2: the rows read may
 * be half of one export and half of the next.
 */
export async function checkUnchanged(source: string, input: InputFile, before: { size: number; mtimeMs: number }): Promise<void> {
  const now = await stat(input.file).catch(() => undefined);
  if (now && now.size === before.size && now.mtimeMs === before.mtimeMs) return;
  const what = now ? (now.size === before.size ? 'its modification time moved' : `${before.size.toLocaleString('en-US')} → ${now.size.toLocaleString('en-US')} bytes`) : 'it is gone';
  throw new RetailctlError('INVENTORY_CHANGED', `source ${source}: ${shown(input.shown)} changed while it was read (${what}): the rows read may mix two exports`, {
    exitCode: ExitCode.Usage,
    hint: 'rerun once the export is complete (an exporter that writes to a temporary name and renames it into place never shows a half-written file)',
  });
}

export async function openInput(source: string, input: InputFile, ctx: FileContext): Promise<OpenedInput> {
  let stream: Readable;
  let modified = input.modified;
  let local: OpenedInput['local'];
  let empty = false;
  if (input.file.startsWith('s3://')) {
    const { bucket, key } = parseS3(source, input.file);
    const s3 = await s3Client(source, ctx);
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: ctx.signal });
      stream = res.Body as Readable;
      if (res.LastModified) modified = res.LastModified;
      if (res.ContentLength === 0) empty = true;
    } catch (err) {
      throw s3Missing(source, input.file, bucket, err) ?? err;
    }
  } else {
    const hint = pathHint(source);
    const st = await statLocal(source, input);
    modified = st.mtime;
    local = { size: st.size, mtimeMs: st.mtimeMs };
    if (st.size === 0) empty = true;
    const handle = await open(input.file, constants.O_RDONLY).catch((err: NodeJS.ErrnoException) => {
      throw sourceError(source, `cannot read ${shown(input.shown)}: ${localProblem(err)}`, hint, err);
    });
    stream = handle.createReadStream({ highWaterMark: 1 << 20 });
  }
  // pipeline: an error anywhere ends every stream (and reaches the reader)
  // a 0-byte .gz is an empty export (said so by the reader), not a gzip error
  if (input.file.toLowerCase().endsWith('.gz') && !empty) stream = pipeline(stream, gzipMagic(), createGunzip(), () => {});
  return { stream, ...(modified ? { modified } : {}), ...(local ? { local } : {}) };
}

/** Passes the bytes through, failing with code NOT_GZIP unless they start as gzip data does (1f 8b). */
function gzipMagic(): Transform {
  let head: Buffer | undefined = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!head) return callback(null, chunk);
      head = Buffer.concat([head, chunk]);
      if (head.length < 2) return callback();
      const ok = head[0] === 0x1f && head[1] === 0x8b;
      const all = head;
      head = undefined;
      if (!ok) return callback(Object.assign(new Error('it does not start with the gzip signature 1f 8b'), { code: 'NOT_GZIP' }));
      callback(null, all);
    },
    flush(callback) {
      // one byte, or none: not gzip (an empty .gz is reported by the reader as an empty file)
      if (head && head.length > 0) return callback(Object.assign(new Error('it is 1 byte long'), { code: 'NOT_GZIP' }));
      callback();
    },
  });
}

/**
 * An error met while reading a file's bytes, for the user: a `.gz` that is not gzip or is cut off,
 * a read error of the disk (exit 2 naming source and file), or an S3 body that broke off (exit 1).
 * Errors already explained pass through.
 */
export function readFailure(source: string, input: InputFile, err: unknown, signal?: AbortSignal): unknown {
  if (err instanceof RetailctlError || signal?.aborted) return err;
  const e = err as NodeJS.ErrnoException;
  // only I/O and zlib errors carry a code; anything else is a bug and is left as it is
  if (typeof e?.code !== 'string') return err;
  const name = shown(input.shown);
  if (e.code === 'NOT_GZIP') {
    return sourceError(source, `${name} is not gzip data (${e.message}), although its name ends in .gz`, 'check the export (is it really compressed?); rename it without .gz if it is plain text', err);
  }
  if (e.code === 'Z_DATA_ERROR' || e.code === 'Z_STREAM_ERROR' || e.code === 'Z_NEED_DICT') {
    return sourceError(source, `${name} holds corrupt gzip data (${e.message})`, 'fetch or export the file again', err);
  }
  if (e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message ?? '')) {
    return sourceError(source, `${name} is cut off: the gzip data ends early (an interrupted export or download?)`, 'fetch or export the file again', err);
  }
  if (input.file.startsWith('s3://')) {
    return new RetailctlError('INVENTORY_READ', `source ${source}: reading ${name} broke off: ${e.message ?? String(err)}`, { exitCode: ExitCode.Failure, hint: 'rerun; if it keeps happening, check the network and the object', cause: err });
  }
  return sourceError(source, `cannot read ${name}: ${e.code ? localProblem(e) : (e.message ?? String(err))}`, pathHint(source), err);
}
