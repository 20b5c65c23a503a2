/**
 * Where the images come from: a local directory walked recursively (one directory open at a time,
 * stats batched; file contents are not read here), or an http(s) origin that the catalogue lists.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';
import { IMAGE_TYPES } from './content.js';
import { BUCKET_NAME } from '../aws/names.js';

/** One source image. */
export interface SourceImage {
  /** Relative path inside the source (forward slashes, NFC), or the URL path on an origin. */
  path: string;
  /**
   * The local directory the path is relative to (one shared string for every image of a walk: a
   * full path per image was a third of the walk's memory at 100,000 files).
   */
  root?: string;
  /** The file's own relative name when it differs from `path` (not NFC on disk). */
  onDisk?: string;
  /** Remote image (http(s) source). */
  url?: string;
  /** An object in S3 (s3:// source): copied server-side, never downloaded. */
  s3?: { bucket: string; key: string; etag: string };
  size?: number;
  mtimeMs?: number;
}


export function isRemote(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** An s3://bucket/prefix source: the bucket, and the prefix (ending in `/`, or empty for the whole bucket). */
export function s3Source(source: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/i.exec(source);
  if (!m) return undefined;
  const bucket = m[1]!;
  if (!BUCKET_NAME.test(bucket)) throw new RetailctlError('USAGE', `source ${source}: "${bucket}" is not an S3 bucket name`, { exitCode: ExitCode.Usage });
  const raw = m[2] ?? '';
  if (raw.split('/').some((part) => part === '.' || part === '..')) throw new RetailctlError('USAGE', `source ${source}: a prefix with . or .. segments is not a plain S3 prefix`, { exitCode: ExitCode.Usage });
  return { bucket, prefix: raw === '' || raw.endsWith('/') ? raw : `${raw}/` };
}

/**
 * The images of an s3:// source from one listing of its prefix: keys relative to the prefix, with
 * size and ETag (what a copy is made conditional on). Hidden segments, non-images and retailctl's
 * own lock objects are left out, as a directory walk leaves them out; so is `exclude` (the
 * destination prefix, when it lies inside the source prefix of the same bucket: a rerun must not
 * take the copies for sources).
 */
export function s3Images(bucket: string, prefix: string, listing: ReadonlyMap<string, { size: number; etag: string }>, exclude?: string): { images: SourceImage[]; ignored: number; sameName: string[][] } {
  const images: SourceImage[] = [];
  let ignored = 0;
  const byPath = new Map<string, string[]>();
  for (const [key, object] of listing) {
    if (!key.startsWith(prefix) || key.endsWith('/')) continue;
    if (exclude !== undefined && key.startsWith(exclude)) continue;
    const rel = key.slice(prefix.length);
    const parts = rel.split('/');
    if (parts.some((p) => p.startsWith('.'))) continue;
    // an empty segment (`a//b.jpg`) is no path a catalogue can name: counted with the ignored
    if (parts.some((p) => p === '')) {
      ignored++;
      continue;
    }
    const name = parts[parts.length - 1]!;
    const dot = name.lastIndexOf('.');
    if (dot <= 0 || !Object.hasOwn(IMAGE_TYPES, name.slice(dot + 1).toLowerCase())) {
      ignored++;
      continue;
    }
    const path = rel.normalize('NFC');
    const same = byPath.get(path);
    if (same) same.push(key);
    else byPath.set(path, [key]);
    images.push({ path, size: object.size, s3: { bucket, key, etag: object.etag } });
  }
  images.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // keys that differ only in their Unicode form are one path to a catalogue: not two images
  return { images, ignored, sameName: [...byPath.values()].filter((keys) => keys.length > 1) };
}

/** Symlinks listed by path in a walk's result (all of them are counted). */
const LISTED_SYMLINKS = 1000;

/**
 * Walk `root` and return every image file under it (hidden files and directories skipped).
 * Symlinks are not followed, to files or directories, inside the tree or out of it (a link can
 * leave the source, or loop): they are counted and listed instead, so the report can say so.
 * Synchronous directory reads and stats, a directory at a time, yielding to the event loop between
 * batches (Ctrl-C still works): nothing else runs while the tree is walked, and on a local disk this
 * is ~4× cheaper than the same calls made asynchronously (measured: 2,000 files 60 ms vs 280 ms).
 */
export async function walkImages(root: string, signal?: AbortSignal): Promise<{ images: SourceImage[]; ignored: number; symlinks: { count: number; paths: string[] } }> {
  let info;
  try {
    info = statSync(root);
  } catch (err) {
    throw new RetailctlError('IMAGES_SOURCE', `source ${root}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message}`, { exitCode: ExitCode.Usage });
  }
  if (!info.isDirectory()) throw new RetailctlError('IMAGES_SOURCE', `source ${root} is not a directory`, { exitCode: ExitCode.Usage, hint: 'give the directory that holds the images, or an http(s):// origin' });
  const images: SourceImage[] = [];
  let ignored = 0;
  const symlinks = { count: 0, paths: [] as string[] };
  const pending = [''];
  let sinceYield = 0;
  while (pending.length) {
    if (++sinceYield >= 64) {
      sinceYield = 0;
      await new Promise((r) => setImmediate(r));
      signal?.throwIfAborted();
    }
    const rel = pending.pop()!;
    const dir = rel ? path.join(root, rel) : root;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw new RetailctlError('IMAGES_SOURCE', `cannot list ${dir}: ${(err as Error).message}`, { exitCode: ExitCode.Usage });
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) pending.push(childRel);
      else if (entry.isSymbolicLink()) {
        if (symlinks.count++ < LISTED_SYMLINKS) symlinks.paths.push(childRel.normalize('NFC'));
      } else if (entry.isFile()) {
        const dot = entry.name.lastIndexOf('.');
        if (dot <= 0 || !Object.hasOwn(IMAGE_TYPES, entry.name.slice(dot + 1).toLowerCase())) {
          ignored++;
          continue;
        }
        // a file that vanished between listing and stat is left out; an unreadable one fails at upload
        const s = statSync(path.join(dir, entry.name), { throwIfNoEntry: false });
        if (!s) continue;
        const nfc = childRel.normalize('NFC');
        images.push(nfc === childRel ? { path: childRel, root, size: s.size, mtimeMs: Math.trunc(s.mtimeMs) } : { path: nfc, root, onDisk: childRel, size: s.size, mtimeMs: Math.trunc(s.mtimeMs) });
      }
    }
  }
  images.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  symlinks.paths.sort();
  return { images, ignored, symlinks };
}

/** The local file of an image from a directory walk. */
export function fileOf(image: SourceImage): string {
  return path.join(image.root!, image.onDisk ?? image.path);
}

/** The origin URL of a catalogue path (a path on the origin, or a full URL on the same origin). */
export function remoteImage(base: string, catalogPath: string): SourceImage {
  const baseUrl = new URL(base.endsWith('/') ? base : `${base}/`);
  const url = new URL(catalogPath.replace(/^\/+/, ''), baseUrl);
  if (url.origin !== baseUrl.origin) throw new Error(`${catalogPath} is not on ${baseUrl.origin}`);
  return { path: decodeURIComponent(url.pathname.replace(/^\/+/, '')), url: url.href };
}
