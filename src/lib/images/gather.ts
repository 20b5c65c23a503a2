/**
 * Everything a migration plan is made from, read and never written: the catalogue, the source
 * images, the journal, content hashes for {hash} templates, what the bucket holds under the prefix
 * (under the run's lock), unfinished multipart uploads, the CDN domain, and in a dry run the content
 * comparison of same-size objects (read-only: file hashes, HEAD), so the plan says what would really
 * be skipped. The keys and input problems are found before any S3 request (exit 2 before the lock).
 */
import path from 'node:path';
import type { AwsContext } from '../aws/context.js';
import type { LeanS3 } from '../aws/lean-s3.js';
import type { CommandContext } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { catalogColumns, readCatalog, type CatalogProblem, type CatalogRow } from './catalog.js';
import { executePlan, Gate, hashStream } from './execute.js';
import { journalPath, loadJournal } from './journal.js';
import { loadKeyRules } from './keys.js';
import { LOCK_NAME, lockKey, type MigrationLock } from './lock.js';
import type { Settled } from './migration-plan.js';
import type { MigrateRequest, Migration } from './options.js';
import { decideActions, planKeys, takeShard, type ExistingObject, type ImagesPlan, type JournalEntry } from './plan.js';
import { fileOf, remoteImage, s3Images, walkImages, type SourceImage } from './source.js';

/** Problems shown on the terminal; the --json document carries up to 1,000. */
export const SHOWN = 20;

export interface Gathered {
  /** Every key with its action from the listing and the journal (before a dry run's content comparison). */
  keyed: ImagesPlan;
  /** sha256 of every image, for templates with {hash}. */
  hashes: Map<string, string> | undefined;
  /** A dry run's content comparison of the `check` items, by key. */
  settled: Map<string, Settled> | undefined;
  /** Multipart uploads an interrupted run left for keys of this plan. */
  unfinished: { key: string; uploadId: string }[];
  /** The lock another run holds on this prefix (dry runs only look). */
  heldLock: { body: Buffer } | undefined;
  cdnDomain: string | undefined;
  /** What the source and the catalogue hold that is not migrated (the --json `audit`). */
  audit: MigrationAudit;
  stateFile: string;
}

export interface MigrationAudit {
  missingImages: number;
  unreferencedImages: number;
  missing: { row: string; image: string; sku: string }[];
  unreferenced: string[];
  ignoredFiles: number;
  symlinksSkipped: number;
  symlinks: string[];
}

export function memory(): string {
  return `heap ${Math.round(process.memoryUsage().heapUsed / 1048576)} MB, rss ${Math.round(process.memoryUsage.rss() / 1048576)} MB`;
}

/** Throw an error of the lean S3 path explained like any AWS error (hints for denied, throttled, missing bucket). */
export async function rethrowS3(err: unknown, client: LeanS3, bucket: string, operation: string, which: 'destination' | 'source' = 'destination'): Promise<never> {
  const { S3RequestError } = await import('../aws/lean-s3.js');
  if (err instanceof S3RequestError && err.code === 'NoSuchBucket') {
    throw which === 'source'
      ? new RetailctlError('IMAGES_SOURCE', `source s3://${bucket}/ does not exist (S3 NoSuchBucket)`, { exitCode: ExitCode.Usage, hint: 'check the source bucket name, the region and the account' })
      : new RetailctlError('IMAGES_NO_BUCKET', `--bucket: ${bucket} does not exist (S3 NoSuchBucket)`, { exitCode: ExitCode.Usage, hint: 'check the bucket name, the region and the account (the bucket is not created for you)' });
  }
  throw client.translate(err, operation);
}

export async function gatherMigration(ctx: CommandContext, request: MigrateRequest, m: Migration, aws: AwsContext, lock: MigrationLock | undefined, started: number): Promise<Gathered> {
  // What the bucket holds is asked once the inputs are known good: a catalogue or key problem is exit 2
  // before any request (the lock is a write). It is asked under the lock, so the plan is made from a
  // state no other run is changing; a dry run takes no lock and only says whether one is held. The
  // client (credentials, signer) is made ready meanwhile, so the round trips start at once.
  const listerReady = aws.read.leanS3(m.bucket, { maxSockets: 4, signal: ctx.signal });
  listerReady.catch(() => {}); // awaited below; an input error found first must not leave it unhandled
  try {
    const inputs = await readInputs(ctx, request, m, started, aws);
    const { keyed, journal, hashes } = inputs;
    const [existing, allUnfinished, heldLock] = await bucketSnapshot(ctx, m, lock, listerReady);
    ctx.out.debug(`listing: ${existing.size} objects under s3://${m.bucket}/${m.prefix} (${Date.now() - started} ms since start, ${memory()})`);
    decideActions(keyed, { existing, journal, force: request.force, ...(hashes ? { hashes } : {}) });
    // multipart uploads an interrupted run left for keys of this plan (the set is built only when there are any)
    let unfinished = allUnfinished;
    if (unfinished.length) {
      const keys = new Set(keyed.items.map((i) => i.key));
      unfinished = unfinished.filter((u) => keys.has(u.key));
    }
    const cdnDomain = await servedFrom(ctx, request, m, aws);
    // a plan file is made as a dry run is: from what a run would really upload
    const settled = ctx.options.dryRun || ctx.options.planOut !== undefined ? await settleChecks(ctx, m, aws, keyed) : undefined;
    const audit = {
      missingImages: keyed.audit.missing.length,
      unreferencedImages: keyed.audit.unreferenced.length,
      missing: keyed.audit.missing.slice(0, 1000).map((r) => ({ row: r.at, image: r.source, sku: r.sku })),
      unreferenced: keyed.audit.unreferenced.slice(0, 1000),
      ignoredFiles: inputs.ignored,
      symlinksSkipped: inputs.symlinks.count,
      symlinks: inputs.symlinks.paths,
    };
    return { keyed, hashes, settled, unfinished, heldLock, cdnDomain, audit, stateFile: inputs.stateFile };
  } finally {
    void listerReady.then((l) => l.close(), () => {});
  }
}

interface Inputs {
  keyed: ImagesPlan;
  journal: Map<string, JournalEntry>;
  hashes: Map<string, string> | undefined;
  ignored: number;
  symlinks: { count: number; paths: string[] };
  stateFile: string;
}

/** The catalogue, the source images, the journal and the keys: local reads only (an http(s) source is not fetched here). */
async function readInputs(ctx: CommandContext, request: MigrateRequest, m: Migration, started: number, aws: AwsContext): Promise<Inputs> {
  const { config, source, bucket, catalogFile, remote, prefix, template, cacheControl } = m;
  const keyRules = loadKeyRules(); // imported while the inputs are read
  keyRules.catch(() => {});
  let catalog: CatalogRow[] | undefined;
  let catalogProblems: CatalogProblem[] = [];
  if (catalogFile) {
    const read = await readCatalog(catalogFile, path.relative(ctx.cwd, catalogFile) || catalogFile, catalogColumns(config.columns, request.columns));
    catalog = read.rows;
    catalogProblems = read.problems;
  }
  let images: SourceImage[];
  let ignored = 0;
  let symlinks = { count: 0, paths: [] as string[] };
  if (remote) {
    const seen = new Map<string, SourceImage>();
    for (const row of catalog!) {
      try {
        const image = remoteImage(source, row.source);
        row.source = image.path;
        seen.set(image.path, image);
      } catch (err) {
        catalogProblems.push({ at: row.at, reason: (err as Error).message });
      }
    }
    images = [...seen.values()];
  } else if (m.s3Source) {
    ({ images, ignored } = await listS3Source(ctx, m, aws));
  } else {
    ({ images, ignored, symlinks } = await walkImages(path.resolve(ctx.cwd, source), ctx.signal));
  }
  ctx.out.debug(`source: ${images.length} images in ${Date.now() - started} ms since start (${memory()})`);

  const stateFile = journalPath(path.resolve(ctx.cwd, request.stateDir), bucket);
  const journal = await loadJournal(stateFile);
  const hashes = template.uses.has('hash') ? await contentHashes(images, journal) : undefined;
  await keyRules;
  const keyed = planKeys({
    images,
    ...(catalog ? { catalog, catalogProblems } : {}),
    template,
    prefix,
    cacheControl,
    cacheRules: config.cacheRules ?? [],
    ...(hashes ? { hashes } : {}),
  });
  if (m.s3Source) keyed.problems.push(...amongSources(m, keyed));
  if (keyed.problems.length) throw problemsError(keyed.problems, `input problem${keyed.problems.length === 1 ? '' : 's'} (key collisions, unusable catalogue values)`);
  // a shard keeps its keys only once the whole plan is known good: collisions and the audit span every shard
  if (m.shard) {
    const { createHash } = await import('node:crypto');
    takeShard(keyed, m.shard, (key) => createHash('sha256').update(key).digest());
  }
  return { keyed, journal, hashes, ignored, symlinks, stateFile };
}

/**
 * An s3:// source in the destination bucket: a planned key among the sources (under the source
 * prefix, outside a destination prefix that lies inside it) would overwrite a source object, or be
 * listed as a source by the next run. Refused before anything is written: the source is never modified.
 */
function amongSources(m: Migration, keyed: ImagesPlan): CatalogProblem[] {
  const source = m.s3Source!;
  if (source.bucket !== m.bucket || copiesInsideSource(m)) return [];
  return keyed.items
    .filter((i) => i.key.startsWith(source.prefix))
    .map((i) => ({ at: i.row ?? i.image.path, reason: `the key ${i.key} is under the source prefix s3://${source.bucket}/${source.prefix}: the copy would ${i.key === i.image.s3?.key ? 'rewrite that source object' : 'land among the sources (and could overwrite one)'}; give a --prefix outside the source prefix, or inside it (e.g. ${source.prefix}catalog/)` }));
}

/** The destination prefix lies inside an s3:// source's prefix in the same bucket: the copies' folder is left out of the source. */
function copiesInsideSource(m: Migration): boolean {
  const source = m.s3Source!;
  return source.bucket === m.bucket && m.prefix !== source.prefix && m.prefix.startsWith(source.prefix);
}

/** The images of an s3:// source: one listing of its prefix, read-only (the destination prefix left out when it lies inside it). */
async function listS3Source(ctx: CommandContext, m: Migration, aws: AwsContext): Promise<{ images: SourceImage[]; ignored: number }> {
  const { bucket, prefix } = m.s3Source!;
  const client = await aws.read.leanS3(bucket, { maxSockets: 8, signal: ctx.signal });
  try {
    const inside = copiesInsideSource(m);
    const listing = await client.listTree(prefix, 8, inside ? (folder) => folder.startsWith(m.prefix) : undefined).catch((err: unknown) => rethrowS3(err, client, bucket, 'ListObjectsV2', 'source'));
    const { images, ignored, sameName } = s3Images(bucket, prefix, listing, inside ? m.prefix : undefined);
    if (sameName.length) {
      throw problemsError(
        sameName.map((keys) => ({ at: `s3://${bucket}/${keys[0]!}`, reason: `${keys.length} source objects differ only in their Unicode form (${keys.map((k) => JSON.stringify(k)).join(', ')}): one path to the catalogue; rename or remove all but one` })),
        'source problem(s)',
      );
    }
    return { images, ignored };
  } finally {
    client.close();
  }
}

function problemsError(problems: CatalogProblem[], what: string): RetailctlError {
  return new RetailctlError('IMAGES_INPUT', `${problems.length} ${what}; nothing was uploaded`, {
    exitCode: ExitCode.Usage,
    details: [...problems.slice(0, SHOWN).map((p) => `${p.at}: ${p.reason}`), ...(problems.length > SHOWN ? [`… and ${problems.length - SHOWN} more (all of them in --json)`] : [])],
    hint: 'fix the catalogue or the key template, then rerun',
    data: { problems: problems.slice(0, 1000), problemCount: problems.length },
    // a CSV row is `catalog.csv:12`; a JSON item has no line
    locations: problems.slice(0, SHOWN).flatMap((p) => {
      const row = /^(.+):(\d+)$/.exec(p.at);
      return row ? [{ file: row[1]!, line: Number(row[2]), message: p.reason }] : [];
    }),
    locationCount: problems.length,
  });
}

/** sha256 of every image, for templates with {hash}; the journal saves re-reading unchanged files. */
async function contentHashes(images: SourceImage[], journal: Map<string, JournalEntry>): Promise<Map<string, string>> {
  const bySource = new Map<string, JournalEntry>();
  for (const e of journal.values()) bySource.set(e.source, e);
  const { default: pLimit } = await import('p-limit');
  const limit = pLimit(8);
  const out = new Map<string, string>();
  await Promise.all(
    images.map((image) =>
      limit(async () => {
        const known = bySource.get(image.path);
        if (known && known.size === image.size && known.mtimeMs === image.mtimeMs) out.set(image.path, known.sha256);
        else out.set(image.path, (await hashStream(fileOf(image), false)).sha256.toString('hex'));
      }),
    ),
  );
  return out;
}

/**
 * Under the run's lock (taken here): the objects under the prefix, the unfinished multipart uploads,
 * and (dry runs) the lock another run holds. Locks on nested prefixes are warned about, never listed as images.
 */
async function bucketSnapshot(ctx: CommandContext, m: Migration, lock: MigrationLock | undefined, listerReady: Promise<LeanS3>): Promise<readonly [Map<string, ExistingObject>, { key: string; uploadId: string }[], { body: Buffer } | undefined]> {
  const { bucket, prefix } = m;
  await lock?.acquire().catch(async (err: unknown) => rethrowS3(err, await listerReady, bucket, 'PutObject'));
  const lister = await listerReady;
  try {
    const held = lock ? undefined : lister.get(lockKey(prefix, m.shard)).catch(() => undefined);
    // the lock covers one prefix exactly: say so when a run holds one above it (a GET per parent prefix, at most 4)
    const above = Promise.all(parentPrefixes(prefix).map(async (p) => ((await lister.get(lockKey(p)).catch(() => undefined)) ? lockKey(p) : undefined)));
    const state = await bucketState(lister, bucket, prefix);
    state[0].delete(lockKey(prefix, m.shard));
    // the locks of shards (or of the unsharded run) beside this one's: shards write disjoint keys, but
    // an unsharded run and a sharded one, or shards of another N, may write the same key at once
    const beside = [...state[0].keys()].filter((k) => k.startsWith(lockKey(prefix)));
    let othersRunning = false;
    for (const k of beside) {
      state[0].delete(k);
      const of = /\.shard-\d+-of-(\d+)$/.exec(k)?.[1];
      if (m.shard && of === String(m.shard.n)) continue;
      othersRunning = true;
      ctx.out.warn(`s3://${bucket}/${k} is the lock of ${of ? `a shard of ${of}` : 'an unsharded run'} of images migrate on this prefix${m.shard ? ` (this is shard ${m.shard.k}/${m.shard.n})` : ''}: the two do not exclude each other and may write the same keys; let it finish (or expire) first`);
    }
    // …or below it (the listing has them already); they are never images
    const below = [...state[0].keys()].filter((k) => k.endsWith(`/${LOCK_NAME}`));
    for (const k of below) state[0].delete(k);
    for (const k of [...(await above), ...below]) {
      if (k) ctx.out.warn(`s3://${bucket}/${k} is the lock of another images migrate on a nested prefix: the lock covers one prefix exactly, so that run and this one do not exclude each other; make sure they do not write the same keys`);
    }
    // the unfinished multipart uploads may be another run's, in flight: left alone while its lock is there
    if (othersRunning && state[1].length) {
      ctx.out.warn(`${state[1].length} unfinished multipart upload${state[1].length === 1 ? '' : 's'} under the prefix left alone: another run's lock is beside this one's, and they may be its uploads in flight`);
      state[1] = [];
    }
    return [...state, await held] as const;
  } finally {
    lister.close();
  }
}

/** What the bucket holds under the prefix (one ListObjectsV2 pass, 1,000 keys a page) and its unfinished multipart uploads. */
async function bucketState(client: LeanS3, bucket: string, prefix: string): Promise<[Map<string, ExistingObject>, { key: string; uploadId: string }[]]> {
  const existing = await client.list(prefix).catch((err: unknown) => rethrowS3(err, client, bucket, 'ListObjectsV2'));
  const unfinished = await client.listMultipartUploads(prefix).catch((err: unknown) => rethrowS3(err, client, bucket, 'ListMultipartUploads'));
  return [existing, unfinished];
}

/** The prefixes above `prefix` whose lock would cover it if locks nested: `a/b/c/` → `a/b/`, `a/`, `` (the nearest 4). */
function parentPrefixes(prefix: string): string[] {
  const parts = prefix.split('/').filter(Boolean);
  const out: string[] = [];
  for (let n = parts.length - 1; n >= 0 && out.length < 4; n--) out.push(parts.slice(0, n).map((p) => `${p}/`).join(''));
  return out;
}

/** Where the images will be served from: --cdn-domain / images.cdnDomain, else the distribution's first alias or domain. */
async function servedFrom(ctx: CommandContext, request: MigrateRequest, m: Migration, aws: AwsContext): Promise<string | undefined> {
  const cdnDomain = request.cdnDomain ?? m.config.cdnDomain;
  const distribution = m.distributionId ?? m.config.distributionId;
  if (cdnDomain || !distribution) return cdnDomain;
  const cf = await aws.read.client('cloudfront');
  const { GetDistributionCommand } = await import('@aws-sdk/client-cloudfront');
  const d = await cf.send(new GetDistributionCommand({ Id: distribution }), { abortSignal: ctx.signal });
  return d.Distribution?.DistributionConfig?.Aliases?.Items?.[0] ?? d.Distribution?.DomainName;
}

/** A dry run's `check` items (same size, no proof) compared by content now, read-only: file hashes, and HEAD at most. */
export async function settleChecks(ctx: CommandContext, m: Migration, aws: AwsContext, keyed: Pick<ImagesPlan, 'items'>): Promise<Map<string, Settled> | undefined> {
  const checks = keyed.items.filter((i) => i.action === 'check');
  if (!checks.length) return undefined;
  // an s3:// source's checks are one HEAD each: as many at once as the copies would be
  const concurrency = m.s3Source ? m.concurrency : Math.min(m.concurrency, 16);
  const results = await executePlan(checks, { s3: () => aws.read.client('s3'), bucket: m.bucket, sse: m.sse, concurrency, signal: ctx.signal, gate: new Gate(concurrency), dryRun: true });
  const settled = new Map<string, Settled>();
  for (const r of results) {
    const action = r.status === 'skipped' ? 'skip' : r.status === 'planned' ? 'replace' : r.item.action;
    settled.set(r.item.key, { action, ...(r.sha256 ? { sha256: r.sha256 } : {}), ...(r.contentType ? { contentType: r.contentType } : {}) });
  }
  return settled;
}
