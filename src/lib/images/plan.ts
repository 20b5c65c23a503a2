/**
 * The migration plan, pure: source images + catalogue + what the destination already holds →
 * one item per object to write or skip, with every input problem found before any upload.
 */
import picomatch from 'picomatch';
import type { CatalogProblem, CatalogRow } from './catalog.js';
import { buildKey, type Template } from './keys.js';
import type { SourceImage } from './source.js';

/** What a listing of the destination says about one key. */
export interface ExistingObject {
  size: number;
  etag: string;
}

/** What an earlier run recorded after uploading a key (the local journal). */
export interface JournalEntry {
  key: string;
  source: string;
  size: number;
  mtimeMs?: number;
  sha256: string;
  etag: string;
  contentType: string;
  /** For images from an http(s) origin: the origin's validators, for a conditional GET on the next run. */
  originEtag?: string;
  originModified?: string;
}

/**
 * - upload: no object at the key; replace: an object with a different size (or --force);
 * - skip: the journal proves the same bytes are there (same file size and time, same ETag);
 * - check: same size but no proof: the executor hashes the file and compares (MD5 against a plain
 *   ETag, else the sha256 stored in the object's metadata) before deciding skip or replace;
 * - empty: a 0-byte file (a failed export or copy, never a usable image): not uploaded, and an
 *   object already at the key is left as it is.
 */
export type Action = 'upload' | 'replace' | 'skip' | 'check' | 'empty';

export interface PlanItem {
  image: SourceImage;
  key: string;
  cacheControl: string;
  action: Action;
  /** Catalogue row that mapped it (`catalog.csv:12`). */
  row?: string;
  existing?: ExistingObject;
  /** From the journal, for skipped items. */
  known?: JournalEntry;
  /** A shard's item: its place in the whole migration's plan (the merged manifest's order). */
  index?: number;
}

export interface ImagesPlan {
  items: PlanItem[];
  /** Input problems (collisions, unusable key values, bad catalogue rows): nothing is uploaded when there are any. */
  problems: CatalogProblem[];
  audit: {
    /** Catalogue rows whose image is not in the source. */
    missing: CatalogRow[];
    /** Source images no catalogue row references (not uploaded). */
    unreferenced: string[];
  };
  counts: Record<Action, number>;
  bytes: { total: number; toUpload: number };
  /** `--shard K/N`: this run's part of a plan of `total` items (collisions and the audit are the whole plan's). */
  shard?: { k: number; n: number; total: number; plan: string };
}

/** Pure: the shard (1..n) a key falls in: the first 4 bytes of its SHA-256, modulo n. Stable across runners and versions. */
export function shardOf(key: string, n: number, hash: (key: string) => Buffer): number {
  return (hash(key).readUInt32BE(0) % n) + 1;
}

/** Pure: keep the items of shard k of n (each with its index in the whole plan), and count again. */
export function takeShard(plan: ImagesPlan, shard: { k: number; n: number }, hash: (key: string) => Buffer): void {
  const total = plan.items.length;
  // the whole plan's identity (every key with its source, size and, from S3, ETag, in order): every shard
  // of one plan computes the same on any runner (no modification times: checkouts differ in them)
  const identity = hash(plan.items.map((i) => `${i.key}\u0000${i.image.path}\u0000${i.image.size ?? ''}\u0000${i.image.s3?.etag ?? ''}`).join('\n')).toString('hex').slice(0, 16);
  plan.items = plan.items.flatMap((item, index) => (shardOf(item.key, shard.n, hash) === shard.k ? [{ ...item, index }] : []));
  plan.shard = { ...shard, total, plan: identity };
  Object.assign(plan, tally(plan.items));
}

export interface PlanInput {
  images: SourceImage[];
  /** Without a catalogue every image is moved under its own relative path. */
  catalog?: CatalogRow[];
  catalogProblems?: CatalogProblem[];
  template: Template;
  prefix: string;
  /** `--cache-control` or the default for the template. */
  cacheControl: string;
  cacheRules: { glob: string; cacheControl: string }[];
  /** Objects under the prefix now (one ListObjectsV2 pass). */
  existing: Map<string, ExistingObject>;
  journal: Map<string, JournalEntry>;
  force: boolean;
  /** sha256 hex of each source image, needed when the template uses {hash}. */
  hashes?: Map<string, string>;
}

/** Cache-Control for keys with a content hash in them: they never change, cache them for a year. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const DEFAULT_CACHE_CONTROL = 'public, max-age=86400';

export function defaultCacheControl(template: Template): string {
  return template.uses.has('hash') ? IMMUTABLE : DEFAULT_CACHE_CONTROL;
}

/** What the keys and the input problems depend on: no S3 state (see planKeys). */
export type KeyInput = Omit<PlanInput, 'existing' | 'journal' | 'force'>;

export function planMigration(input: PlanInput): ImagesPlan {
  const plan = planKeys(input);
  decideActions(plan, input);
  return plan;
}

/**
 * The keys, Cache-Control and input problems of a migration, from the source and the catalogue only:
 * found before any S3 request (a collision or an unusable value is exit 2 before the lock is taken).
 * Every item is an `upload` (or `empty`) until decideActions has seen what the bucket holds.
 */
export function planKeys(input: KeyInput): ImagesPlan {
  const problems: CatalogProblem[] = [...(input.catalogProblems ?? [])];
  const rules = input.cacheRules.map((r) => ({ match: picomatch(r.glob, { dot: true }), cacheControl: r.cacheControl }));
  const byPath = new Map(input.images.map((i) => [i.path, i]));
  const missing: CatalogRow[] = [];
  const referenced = new Set<string>();
  const pairs: { image: SourceImage; row?: CatalogRow }[] = [];
  if (input.catalog) {
    for (const row of input.catalog) {
      const image = byPath.get(row.source.replace(/^\/+/, '').normalize('NFC'));
      if (!image) {
        missing.push(row);
        continue;
      }
      referenced.add(image.path);
      pairs.push({ image, row });
    }
  } else {
    for (const image of input.images) pairs.push({ image });
  }

  const owners = new Map<string, { image: SourceImage; row?: CatalogRow }>();
  const collisions = new Map<string, string[]>();
  const items: PlanItem[] = [];
  for (const { image, row } of pairs) {
    const where = row?.at ?? image.path;
    const hash = input.hashes?.get(image.path);
    const result = buildKey(input.template, input.prefix, { sourcePath: image.path, sku: row?.sku, category: row?.category, variant: row?.variant, position: row?.position, hash });
    if ('error' in result) {
      problems.push({ at: where, reason: `${image.path}: ${result.error}` });
      continue;
    }
    // the same text as the source path (the usual case without a catalogue): keep one string, not two
    const key = result.key === image.path ? image.path : result.key;
    const owner = owners.get(key);
    if (owner) {
      // the same image listed twice for the same key is harmless; two different images are not
      if (owner.image.path !== image.path) {
        const list = collisions.get(key) ?? [`${owner.row?.at ?? owner.image.path} (${owner.image.path})`];
        list.push(`${where} (${image.path})`);
        collisions.set(key, list);
      }
      continue;
    }
    owners.set(key, { image, row });
    const relative = key.slice(input.prefix.length);
    const cacheControl = rules.find((r) => r.match(relative))?.cacheControl ?? input.cacheControl;
    items.push({ image, key, cacheControl, action: image.size === 0 ? 'empty' : 'upload', ...(row ? { row: row.at } : {}) });
  }
  for (const [key, list] of collisions) problems.push({ at: list[0]!.split(' ')[0]!, reason: `${list.length} different images map to the key ${key}: ${list.join(', ')}` });

  const unreferenced = input.catalog ? input.images.filter((i) => !referenced.has(i.path)).map((i) => i.path) : [];
  return { items, problems, audit: { missing, unreferenced }, ...tally(items) };
}

/** Each item's action from what the bucket holds now and what the journal recorded (updates the counts). */
export function decideActions(plan: ImagesPlan, state: Pick<PlanInput, 'existing' | 'journal' | 'force' | 'hashes'>): void {
  for (const item of plan.items) {
    const existing = state.existing.get(item.key);
    if (!existing) continue;
    const image = item.image;
    const hash = state.hashes?.get(image.path);
    item.existing = existing;
    if (item.action === 'empty') continue;
    const known = state.journal.get(item.key);
    if (state.force) item.action = 'replace';
    else if (image.size !== undefined && existing.size !== image.size) item.action = 'replace';
    // unchanged since the journal's entry: the same file (size, mtime), or the same source object (its ETag)
    else if (known && image.size !== undefined && known.source === image.path && known.size === image.size && (image.s3 ? known.originEtag === image.s3.etag : known.mtimeMs === image.mtimeMs) && known.etag === existing.etag && (!hash || known.sha256 === hash)) {
      item.action = 'skip';
      item.known = known;
    } else {
      item.action = 'check';
      // an origin image we uploaded and that is still there as we left it: ask the origin whether it changed
      if (known && image.url && known.source === image.path && known.etag === existing.etag && (known.originEtag || known.originModified)) item.known = known;
    }
  }
  Object.assign(plan, tally(plan.items));
}

/** Counts per action and bytes (all, and to upload) of plan items. */
export function tally(items: PlanItem[]): Pick<ImagesPlan, 'counts' | 'bytes'> {
  const counts: Record<Action, number> = { upload: 0, replace: 0, skip: 0, check: 0, empty: 0 };
  let total = 0;
  let toUpload = 0;
  for (const item of items) {
    counts[item.action]++;
    total += item.image.size ?? 0;
    if (item.action === 'upload' || item.action === 'replace') toUpload += item.image.size ?? 0;
  }
  return { counts, bytes: { total, toUpload } };
}
