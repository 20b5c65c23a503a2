/**
 * The plan of one `images migrate` as plain data (JSON-serialisable, `kind: 'images.migrate'`,
 * `version: 1`), made by a pure function from what was gathered. A dry run prints it under `plan`
 * in --json (all but `items`), and it is all that executeMigration (migrate.ts) acts on: executing a
 * plan read back from a file (JSON.stringify of it) writes exactly its items and aborts exactly its
 * unfinished uploads, without listing the bucket again.
 *
 * - `preconditions`: what the plan was made from, for a later step to check before applying it:
 *   each planned key's object as listed at plan time (size and ETag) or `absent`, and each source
 *   file's size, mtime and sha256. The sha256 is the one the planning already had (the {hash}
 *   template's hashes, the journal's record of an unchanged file, a dry run's content comparison);
 *   null where planning did not read the file: no file is read a second time to fill it in (the
 *   upload hashes what it sends, and S3 checks that hash).
 * - `actions`: the uploads (key → source, Content-Type where already known from the bytes, else
 *   null: it is taken from the bytes at upload; Cache-Control), the unfinished multipart uploads to
 *   abort, and the CloudFront paths to invalidate when every planned replacement is made.
 * - `items`: the same, per key, as the executor takes them (the source image, the listed object,
 *   the journal entry of an unchanged one).
 */
import type { BatchPlan, EngineChoice } from './batch-plan.js';
import type { LockBody } from './lock.js';
import { parseLockBody } from './lock.js';
import type { Template } from './keys.js';
import { tally, type Action, type ImagesPlan, type PlanItem } from './plan.js';
import { FREE_INVALIDATION_PATHS, invalidationPaths } from './report.js';

/** A dry run's content comparison of one `check` item: its action now, and what reading it found. */
export interface Settled {
  action: Action;
  sha256?: string;
  contentType?: string;
}

export interface ObjectPrecondition {
  key: string;
  /** The object under the key when the plan was made. */
  listed: { size: number; etag: string } | 'absent';
}

export interface SourcePrecondition {
  /** The source path (relative to the source directory, or the URL path on the origin). */
  path: string;
  size: number | null;
  mtimeMs: number | null;
  /** null when planning did not read the file (see above). */
  sha256: string | null;
}

export interface UploadAction {
  key: string;
  source: string;
  /** From the bytes when planning read them; null: decided from the bytes at upload. */
  contentType: string | null;
  cacheControl: string;
  /** `check`: same size, compared by content at upload (skipped if equal). */
  action: 'upload' | 'replace' | 'check';
}

export interface MigrationPlan {
  kind: 'images.migrate';
  version: 1;
  source: string;
  bucket: string;
  prefix: string;
  keyTemplate: string;
  cacheControl: string;
  sse: 'AES256' | 'aws:kms';
  kmsKeyId: string | null;
  concurrency: number;
  distributionId: string | null;
  cdnDomain: string | null;
  counts: Record<Action, number>;
  bytes: { total: number; toUpload: number };
  sampleKeys: { source: string; key: string; action: Action }[];
  unfinishedUploads: number;
  /** A lock another run holds on the prefix (dry runs); null when none is (or this run holds it). */
  lock: LockBody | { unreadable: true } | null;
  preconditions: { objects: ObjectPrecondition[]; sources: SourcePrecondition[] };
  actions: {
    uploads: UploadAction[];
    abortMultipartUploads: { key: string; uploadId: string }[];
    invalidation: { distributionId: string; paths: string[] } | null;
  };
  items: PlanItem[];
  /** Which engine copies, and why (`--engine`, images.batch.minObjects). */
  engine?: EngineChoice;
  /** The S3 Batch Operations job that copies the items (--engine batch), or absent. */
  batch?: BatchPlan;
  /** `--shard K/N`: this run's part of a whole plan of `total` items (never in a plan file). */
  shard?: { k: number; n: number; total: number; plan: string };
}

export interface MigrationInputs {
  migration: { source: string; bucket: string; prefix: string; template: Template; cacheControl: string; sse: 'AES256' | 'aws:kms'; kmsKeyId: string | undefined; concurrency: number; distributionId: string | undefined };
  /** Keys with their actions from the listing and the journal. */
  keyed: Pick<ImagesPlan, 'items' | 'shard'>;
  hashes?: Map<string, string> | undefined;
  settled?: Map<string, Settled> | undefined;
  unfinished: { key: string; uploadId: string }[];
  heldLock?: { body: Buffer } | undefined;
  cdnDomain?: string | undefined;
}

/** The plan, from what was gathered: pure (no I/O, the inputs are not changed). */
export function planMigration(input: MigrationInputs): MigrationPlan {
  const m = input.migration;
  const settled = input.settled;
  const items = settled ? input.keyed.items.map((i) => settledItem(i, settled.get(i.key))) : input.keyed.items;
  const { counts, bytes } = tally(items);
  const held = input.heldLock ? parseLockBody(input.heldLock.body.toString('utf8')) : undefined;
  return {
    kind: 'images.migrate',
    version: 1,
    source: m.source,
    bucket: m.bucket,
    prefix: m.prefix,
    keyTemplate: m.template.source,
    cacheControl: m.cacheControl,
    sse: m.sse,
    kmsKeyId: m.kmsKeyId ?? null,
    concurrency: m.concurrency,
    distributionId: m.distributionId ?? null,
    cdnDomain: input.cdnDomain ?? null,
    counts,
    bytes,
    sampleKeys: items.slice(0, 20).map((i) => ({ source: i.image.path, key: i.key, action: i.action })),
    unfinishedUploads: input.unfinished.length,
    lock: input.heldLock ? (held ?? { unreadable: true }) : null,
    preconditions: preconditions(items, input.hashes, settled),
    actions: actions(items, input.unfinished, m.distributionId, settled),
    items,
    ...(input.keyed.shard ? { shard: input.keyed.shard } : {}),
  };
}

/**
 * A `check` item as the content comparison left it. One found unchanged carries what was found (as
 * the journal would after a run), so executing the plan reports it as unchanged and never uploads it.
 */
function settledItem(item: PlanItem, settled: Settled | undefined): PlanItem {
  if (!settled || settled.action === item.action) return item;
  const { image, existing } = item;
  if (settled.action !== 'skip' || item.known || !existing || !settled.sha256 || !settled.contentType || image.size === undefined) return { ...item, action: settled.action };
  const known = { key: item.key, source: image.path, size: image.size, ...(image.mtimeMs !== undefined ? { mtimeMs: image.mtimeMs } : {}), sha256: settled.sha256, etag: existing.etag, contentType: settled.contentType };
  return { ...item, action: 'skip', known };
}

function preconditions(items: PlanItem[], hashes: Map<string, string> | undefined, settled: Map<string, Settled> | undefined): MigrationPlan['preconditions'] {
  const objects: ObjectPrecondition[] = [];
  const sources: SourcePrecondition[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    objects.push({ key: item.key, listed: item.existing ? { size: item.existing.size, etag: item.existing.etag } : 'absent' });
    const image = item.image;
    if (seen.has(image.path)) continue;
    seen.add(image.path);
    // the journal's sha256 stands for the file only when it proved the file unchanged (a `skip`)
    const sha256 = hashes?.get(image.path) ?? settled?.get(item.key)?.sha256 ?? (item.action === 'skip' ? item.known?.sha256 : undefined) ?? null;
    sources.push({ path: image.path, size: image.size ?? null, mtimeMs: image.mtimeMs ?? null, sha256 });
  }
  return { objects, sources };
}

function actions(items: PlanItem[], unfinished: { key: string; uploadId: string }[], distributionId: string | undefined, settled: Map<string, Settled> | undefined): MigrationPlan['actions'] {
  const uploads: UploadAction[] = [];
  const replacing: string[] = [];
  for (const item of items) {
    if (item.action !== 'upload' && item.action !== 'replace' && item.action !== 'check') continue;
    uploads.push({ key: item.key, source: item.image.url ?? item.image.path, contentType: settled?.get(item.key)?.contentType ?? null, cacheControl: item.cacheControl, action: item.action });
    if (item.existing) replacing.push(item.key);
  }
  const invalidation = distributionId && replacing.length ? { distributionId, paths: invalidationPaths(replacing, FREE_INVALIDATION_PATHS) } : null;
  return { uploads, abortMultipartUploads: unfinished.map((u) => ({ key: u.key, uploadId: u.uploadId })), invalidation };
}
