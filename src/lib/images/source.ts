/**
 * Where the images come from: a local directory walked recursively (one directory open at a time,
 * stats batched; file contents are not read here), or an http(s) origin that the catalogue lists.
 */
import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';

/** One source image. */
export interface SourceImage {
  /** Relative path inside the source (forward slashes, NFC), or the URL path on an origin. */
  path: string;
  /** Local file. */
  file?: string;
  /** Remote image (http(s) source). */
  url?: string;
  size?: number;
  mtimeMs?: number;
}

/** Extensions treated as images when walking a directory; other files are counted, not moved. */
export const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'jpe', 'jfif', 'png', 'gif', 'webp', 'avif', 'svg', 'tif', 'tiff', 'bmp', 'ico', 'heic', 'heif', 'jxl']);

export function isRemote(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Walk `root` and return every image file under it (hidden files and directories skipped). */
export async function walkImages(root: string, signal?: AbortSignal): Promise<{ images: SourceImage[]; ignored: number }> {
  let info;
  try {
    info = await stat(root);
  } catch (err) {
    throw new RetailctlError('IMAGES_SOURCE', `source ${root}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message}`, { exitCode: ExitCode.Usage });
  }
  if (!info.isDirectory()) throw new RetailctlError('IMAGES_SOURCE', `source ${root} is not a directory`, { exitCode: ExitCode.Usage, hint: 'give the directory that holds the images, or an http(s):// origin' });
  const images: SourceImage[] = [];
  let ignored = 0;
  const pending = [''];
  while (pending.length) {
    signal?.throwIfAborted();
    const rel = pending.pop()!;
    const dir = path.join(root, rel);
    const files: string[] = [];
    for await (const entry of await opendir(dir)) {
      if (entry.name.startsWith('.')) continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) pending.push(childRel);
      else if (entry.isFile()) {
        const dot = entry.name.lastIndexOf('.');
        if (dot > 0 && IMAGE_EXTENSIONS.has(entry.name.slice(dot + 1).toLowerCase())) files.push(childRel);
        else ignored++;
      }
    }
    // stat in batches: one directory's files at a time, at most 64 in flight
    for (let i = 0; i < files.length; i += 64) {
      const batch = files.slice(i, i + 64);
      const stats = await Promise.all(batch.map((f) => stat(path.join(root, f)).catch(() => undefined)));
      batch.forEach((f, j) => {
        const s = stats[j];
        // a file that vanished between listing and stat is left out; an unreadable one fails at upload
        if (s) images.push({ path: f.normalize('NFC'), file: path.join(root, f), size: s.size, mtimeMs: Math.trunc(s.mtimeMs) });
      });
    }
  }
  images.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { images, ignored };
}

/** The origin URL of a catalogue path (a path on the origin, or a full URL on the same origin). */
export function remoteImage(base: string, catalogPath: string): SourceImage {
  const baseUrl = new URL(base.endsWith('/') ? base : `${base}/`);
  const url = new URL(catalogPath.replace(/^\/+/, ''), baseUrl);
  if (url.origin !== baseUrl.origin) throw new Error(`${catalogPath} is not on ${baseUrl.origin}`);
  return { path: decodeURIComponent(url.pathname.replace(/^\/+/, '')), url: url.href };
}
