import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AwsClients, AwsContext } from '../aws/context.js';
import type { LeanS3, LeanS3Options } from './s3put.js';
import type { ImagesConfig } from '../config/schema.js';
import type { CommandContext, CommandResult } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { checkOutputDir } from '../io/paths.js';
import { shown } from '../util/sanitize.js';
import { formatDuration } from '../util/duration.js';
import { CircuitBreaker } from '../util/retry.js';
import { sleep } from '../util/sleep.js';
import { catalogColumns, readCatalog, type CatalogProblem, type CatalogRow } from './catalog.js';
import { executePlan, Gate, hashStream, type ItemResult, type ResultStore } from './execute.js';
import { JournalWriter, journalPath, loadJournal } from './journal.js';
import { DEFAULT_LOCK_EXPIRY_MS, LOCK_NAME, MAX_LOCK_EXPIRY_MS, describeHolder, lockKey, MigrationLock, parseLockBody } from './lock.js';
import { DEFAULT_TEMPLATE, loadKeyRules, normalisePrefix, parseTemplate, PATH_TEMPLATE, type Template } from './keys.js';
import { decideActions, defaultCacheControl, planKeys, tally, type ExistingObject, type ImagesPlan, type JournalEntry } from './plan.js';
import { invalidationPaths, manifestRows, redirectMap, shownName, writeManifest, writeRedirects, FREE_INVALIDATION_PATHS } from './report.js';
import { checkMigrationOutputs } from './outputs.js';
import { fileOf, isRemote, remoteImage, walkImages, type SourceImage } from './source.js';

export interface MigrateRequest {
  source?: string;
  bucket?: string;
  prefix?: string;
  catalog?: string;
  columns: string[];
  keyTemplate?: string;
  cacheControl?: string;
  sse?: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  concurrency?: number;
  force: boolean;
  manifest?: string;
  redirects?: string;
  redirectFrom: string;
  cdnDomain?: string;
  invalidate?: string;
  wait?: number;
  stateDir: string;
  /** `--break-lock`: break the bucket lock if it has expired (a live one is refused). */
  breakLock?: boolean;
  /** `--give-up-after` in ms (0 = never): stop when no S3 request has succeeded for this long. */
  giveUpAfter?: number;
  /** `--lock-expiry` in ms: how long the lock lives without a refresh. */
  lockExpiry?: number;
}

/** Problems shown on the terminal; the --json document carries up to 1,000. */
const SHOWN = 20;
const DEFAULT_CONCURRENCY = 64;
/** No S3 request has succeeded for this long while requests kept failing: the endpoint is lost (images.giveUpAfter). */
const DEFAULT_GIVE_UP_AFTER_MS = 30_000;

async function optionalConfig(ctx: CommandContext): Promise<{ images: ImagesConfig | undefined; resolve: (p: string) => string }> {
  const none = { images: undefined, resolve: (p: string) => path.resolve(ctx.cwd, p) };
  // no config file in the default place: do not even load the config machinery
  if (!ctx.options.configExplicit && !existsSync(path.resolve(ctx.cwd, ctx.options.config))) return none;
  try {
    const loaded = await ctx.config();
    return { images: loaded.config.images, resolve: loaded.resolve };
  } catch (err) {
    // images migrate works without a config file unless one was asked for
    if (err instanceof RetailctlError && err.code === 'CONFIG_NOT_FOUND' && !ctx.options.configExplicit) return none;
    throw err;
  }
}

/** A lean S3 client for one bucket, from the run's AWS context (read or write clients). */
async function leanS3(clients: AwsClients, bucket: string, concurrency: number, signal: AbortSignal, more: Pick<LeanS3Options, 'onThrottle' | 'breaker' | 'maxAttempts' | 'timeoutMs' | 'abandonSignal' | 'beforeWrite' | 'maxWriteMs'> = {}): Promise<LeanS3> {
  const { s3Target } = await import('../aws/s3-target.js');
  const { LeanS3 } = await import('./s3put.js');
  const t = await s3Target(clients);
  const trace = clients.settings.trace;
  return new LeanS3({ endpoint: { url: t.url, pathStyle: t.pathStyle, region: t.region }, bucket, credentials: t.credentials, userAgent: t.userAgent, maxSockets: concurrency, signal, ...(trace ? { trace } : {}), ...more });
}

/** Throw an error of the lean S3 path explained like any AWS error (hints for denied, throttled, missing bucket). */
async function rethrowS3(err: unknown, clients: AwsClients, bucket: string, operation: string): Promise<never> {
  const { S3RequestError } = await import('./s3put.js');
  if (!(err instanceof S3RequestError)) throw err;
  if (err.code === 'NoSuchBucket') throw new RetailctlError('IMAGES_NO_BUCKET', `--bucket: ${bucket} does not exist (S3 NoSuchBucket)`, { exitCode: ExitCode.Usage, hint: 'check the bucket name, the region and the account (the bucket is not created for you)' });
  const { translateAwsError } = await import('../aws/translate-error.js');
  const s = clients.settings;
  throw translateAwsError(Object.assign(new Error(err.message.replace(/ \(HTTP \d+\)$/, '')), { name: err.code, $metadata: { httpStatusCode: err.status } }), { profile: s.profile, endpoint: s.endpointUrl, maxAttempts: s.maxAttempts, service: 'S3', operation });
}

/** What the bucket holds under the prefix (one ListObjectsV2 pass, 1,000 keys a page) and its unfinished multipart uploads. */
async function bucketState(client: LeanS3, bucket: string, prefix: string, clients: AwsClients): Promise<[Map<string, ExistingObject>, { key: string; uploadId: string }[]]> {
  const existing = await client.list(prefix).catch((err: unknown) => rethrowS3(err, clients, bucket, 'ListObjectsV2'));
  const unfinished = await client.listMultipartUploads(prefix).catch((err: unknown) => rethrowS3(err, clients, bucket, 'ListMultipartUploads'));
  return [existing, unfinished];
}

function problemsError(problems: CatalogProblem[], what: string): RetailctlError {
  return new RetailctlError('IMAGES_INPUT', `${problems.length} ${what}; nothing was uploaded`, {
    exitCode: ExitCode.Usage,
    details: [...problems.slice(0, SHOWN).map((p) => `${p.at}: ${p.reason}`), ...(problems.length > SHOWN ? [`… and ${problems.length - SHOWN} more (all of them in --json)`] : [])],
    hint: 'fix the catalogue or the key template, then rerun',
    data: { problems: problems.slice(0, 1000), problemCount: problems.length },
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

/** 1.2 KB, 35 MB, 1.4 GB. */
function mb(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** Human summary of a plan (dry run and before the upload); file names and catalogue values shown on one line each. */
export function describePlan(plan: ImagesPlan, target: string, symlinks?: { count: number; paths: string[] }): string[] {
  const c = plan.counts;
  const lines = [
    `${plan.items.length} images → ${target}: ${c.upload} new, ${c.replace} to replace, ${c.skip} unchanged, ${c.check} to compare by content (same size)${c.empty ? `, ${c.empty} empty (0 bytes: not uploaded)` : ''}`,
    `${mb(plan.bytes.toUpload)} to upload of ${mb(plan.bytes.total)}`,
  ];
  const sample = plan.items.slice(0, 5);
  if (sample.length) lines.push('sample keys:', ...sample.map((i) => `  ${shownName(i.image.url ?? i.image.path)} → ${shownName(i.key)}  [${i.action}]`));
  if (plan.audit.missing.length) lines.push(`catalogue rows whose image is not in the source: ${plan.audit.missing.length} (e.g. ${plan.audit.missing.slice(0, 3).map((r) => `${r.at} ${shownName(r.source)}`).join(', ')})`);
  if (plan.audit.unreferenced.length) lines.push(`source images no catalogue row references (not uploaded): ${plan.audit.unreferenced.length} (e.g. ${plan.audit.unreferenced.slice(0, 3).map(shownName).join(', ')})`);
  if (symlinks?.count) lines.push(`symlinks skipped: ${symlinks.count} (not followed, not uploaded; e.g. ${symlinks.paths.slice(0, 3).map(shownName).join(', ')}): copy the files they point to into the source to migrate them`);
  return lines;
}

/** A migration as flags, the config and defaults make it, checked before any AWS call. */
interface Migration {
  config: ImagesConfig;
  source: string;
  bucket: string;
  catalogFile: string | undefined;
  remote: boolean;
  prefix: string;
  template: Template;
  sse: 'AES256' | 'aws:kms';
  kmsKeyId: string | undefined;
  concurrency: number;
  cacheControl: string;
  distributionId: string | undefined;
  giveUpAfterMs: number;
  lockExpiryMs: number;
}

async function resolveMigration(ctx: CommandContext, request: MigrateRequest): Promise<Migration> {
  const { images: config = { sse: 'AES256' } as ImagesConfig, resolve } = await optionalConfig(ctx);
  const source = request.source ?? (config.source ? (isRemote(config.source) ? config.source : resolve(config.source)) : undefined);
  if (!source) throw new RetailctlError('USAGE', 'no source: give a directory or http(s):// origin (or set images.source in the config)', { exitCode: ExitCode.Usage, hint: 'retailctl images migrate ./media/catalog/product --bucket <name>' });
  const bucket = request.bucket ?? config.bucket;
  if (!bucket) throw new RetailctlError('USAGE', 'no bucket: pass --bucket <name> (or set images.bucket in the config)', { exitCode: ExitCode.Usage });
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new RetailctlError('USAGE', `--bucket: "${bucket}" is not an S3 bucket name`, { exitCode: ExitCode.Usage });
  const catalogFile = request.catalog ? path.resolve(ctx.cwd, request.catalog) : config.catalog ? resolve(config.catalog) : undefined;
  const remote = isRemote(source);
  if (remote && !catalogFile) throw new RetailctlError('USAGE', 'an http(s) source needs --catalog: the catalogue lists each image path on the origin', { exitCode: ExitCode.Usage });
  let prefix: string;
  let template: Template;
  try {
    prefix = normalisePrefix(request.prefix ?? config.prefix);
  } catch (err) {
    throw new RetailctlError('USAGE', `--prefix: ${(err as Error).message}`, { exitCode: ExitCode.Usage });
  }
  const templateText = request.keyTemplate ?? config.keyTemplate ?? (catalogFile ? DEFAULT_TEMPLATE : PATH_TEMPLATE);
  try {
    template = parseTemplate(templateText);
  } catch (err) {
    throw new RetailctlError('USAGE', `--key-template "${templateText}": ${(err as Error).message}`, { exitCode: ExitCode.Usage });
  }
  if (!catalogFile && (['category', 'sku', 'variant', 'position'] as const).some((p) => template.uses.has(p))) {
    throw new RetailctlError('USAGE', `--key-template "${templateText}" uses catalogue fields but there is no --catalog`, { exitCode: ExitCode.Usage, hint: 'without a catalogue use {dir} {name} {ext} {hash}' });
  }
  if (remote && template.uses.has('hash')) throw new RetailctlError('USAGE', '{hash} needs the content before planning: migrate from a local directory, or drop {hash} for an http(s) source', { exitCode: ExitCode.Usage });
  const sse = request.sse ?? config.sse ?? 'AES256';
  const kmsKeyId = request.kmsKeyId ?? config.kmsKeyId;
  if (kmsKeyId && sse !== 'aws:kms') throw new RetailctlError('USAGE', '--kms-key-id needs --sse aws:kms', { exitCode: ExitCode.Usage });
  const concurrency = request.concurrency ?? config.concurrency ?? DEFAULT_CONCURRENCY;
  const cacheControl = request.cacheControl ?? config.cacheControl ?? defaultCacheControl(template);
  checkCacheControl(cacheControl, request.cacheControl !== undefined ? '--cache-control' : 'images.cacheControl');
  (config.cacheRules ?? []).forEach((rule, i) => {
    if (rule.glob.trim() === '') throw new RetailctlError('USAGE', `images.cacheRules[${i}].glob: empty`, { exitCode: ExitCode.Usage, hint: 'a glob of keys below the prefix, e.g. "**/*.svg"' });
    checkCacheControl(rule.cacheControl, `images.cacheRules[${i}].cacheControl`);
  });
  // values that end up in headers, URLs and the redirect map: refused now, not as a failed upload each
  if (!/^[A-Za-z0-9._~%/-]*$/.test(request.redirectFrom)) throw new RetailctlError('USAGE', `--redirect-from ${shown(request.redirectFrom)}: not a URL path (letters, digits, / . _ ~ - and %-escapes only)`, { exitCode: ExitCode.Usage, hint: 'the path the application serves the source under today, e.g. --redirect-from /media' });
  const domain = request.cdnDomain ?? config.cdnDomain;
  if (domain !== undefined && !/^(https?:\/\/)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:\d{1,5})?\/?$/.test(domain)) {
    throw new RetailctlError('USAGE', `${request.cdnDomain !== undefined ? '--cdn-domain' : 'images.cdnDomain'} ${shown(domain)}: not a domain name`, { exitCode: ExitCode.Usage, hint: 'the domain the images are served from, e.g. images.shop.example.com' });
  }
  if (kmsKeyId !== undefined && !/^[A-Za-z0-9:/_.-]{1,2048}$/.test(kmsKeyId)) throw new RetailctlError('USAGE', `${request.kmsKeyId !== undefined ? '--kms-key-id' : 'images.kmsKeyId'} ${shown(kmsKeyId)}: not a KMS key id, ARN or alias`, { exitCode: ExitCode.Usage, hint: 'e.g. alias/product-images or a key ARN' });
  if (request.invalidate !== undefined && !/^[A-Z0-9]{1,128}$/.test(request.invalidate)) throw new RetailctlError('USAGE', `--invalidate ${shown(request.invalidate)}: not a CloudFront distribution id`, { exitCode: ExitCode.Usage, hint: 'the distribution id, e.g. E2DEMODIST (aws cloudfront list-distributions)' });
  const distributionId = request.invalidate;
  const giveUpAfterMs = request.giveUpAfter ?? config.giveUpAfter ?? DEFAULT_GIVE_UP_AFTER_MS;
  const lockExpiryMs = request.lockExpiry ?? config.lockExpiry ?? DEFAULT_LOCK_EXPIRY_MS;
  const lockExpiryFrom = request.lockExpiry !== undefined ? '--lock-expiry' : 'images.lockExpiry';
  if (lockExpiryMs < 1000) throw new RetailctlError('USAGE', `${lockExpiryFrom}: at least 1s (the lock is refreshed every quarter of it)`, { exitCode: ExitCode.Usage });
  if (lockExpiryMs > MAX_LOCK_EXPIRY_MS) throw new RetailctlError('USAGE', `${lockExpiryFrom}: at most 1h (a lock of a run that is gone should not stand for longer), got ${formatDuration(lockExpiryMs)}`, { exitCode: ExitCode.Usage });
  const stateDir = path.resolve(ctx.cwd, request.stateDir);
  // the journal and the local lock live there: a file in the way is a usage error, not a crash later
  await checkOutputDir(path.join(stateDir, 'images'), '--state-dir', request.stateDir, ctx.cwd);
  // and the manifest and redirects can be written: found now, not after the upload
  await checkMigrationOutputs({ cwd: ctx.cwd, ...(request.manifest !== undefined ? { manifest: request.manifest } : {}), ...(request.redirects !== undefined ? { redirects: request.redirects } : {}), ...(catalogFile ? { catalogFile } : {}) });
  return { config, source, bucket, catalogFile, remote, prefix, template, sse, kmsKeyId, concurrency, cacheControl, distributionId, giveUpAfterMs, lockExpiryMs };
}

/**
 * A Cache-Control header value: comma-separated directives (`public`, `max-age=86400`,
 * `no-cache="Set-Cookie"`), printable ASCII only. A newline in it would fail every upload.
 */
function checkCacheControl(value: string, label: string): void {
  const directive = /^[A-Za-z][A-Za-z0-9-]*(=([A-Za-z0-9._-]+|"[\x20\x21\x23-\x7e]*"))?$/;
  const parts = value.split(',').map((p) => p.trim());
  if (value.length > 1024 || parts.some((p) => !directive.test(p))) {
    throw new RetailctlError('USAGE', `${label} ${shown(value)}: not a Cache-Control value`, { exitCode: ExitCode.Usage, hint: 'directives separated by commas, e.g. "public, max-age=86400"' });
  }
}

/** The prefixes above `prefix` whose lock would cover it if locks nested: `a/b/c/` → `a/b/`, `a/`, `` (the nearest 4). */
function parentPrefixes(prefix: string): string[] {
  const parts = prefix.split('/').filter(Boolean);
  const out: string[] = [];
  for (let n = parts.length - 1; n >= 0 && out.length < 4; n--) out.push(parts.slice(0, n).map((p) => `${p}/`).join(''));
  return out;
}

/**
 * `retailctl images migrate`: resolve the request, take the lock (not in a dry run: it writes
 * nothing), migrate, and release the lock on every way out (done, exit 4, errors, Ctrl-C).
 */
export async function imagesMigrate(ctx: CommandContext, request: MigrateRequest): Promise<CommandResult> {
  const m = await resolveMigration(ctx, request);
  const aws = await ctx.aws();
  if (ctx.options.dryRun) return migrate(ctx, request, m, aws, undefined);
  // its own small client: not aborted by the first Ctrl-C (release must still be sent), only by `kill`
  const client = await leanS3(aws.write({ side: true }), m.bucket, 2, ctx.signals.kill, { maxAttempts: 3, timeoutMs: 10_000 });
  const lock = new MigrationLock({
    client,
    bucket: m.bucket,
    prefix: m.prefix,
    stateDir: path.resolve(ctx.cwd, request.stateDir),
    shownStateDir: request.stateDir,
    expiryMs: m.lockExpiryMs,
    breakLock: Boolean(request.breakLock),
    sse: m.sse,
    ...(m.kmsKeyId ? { kmsKeyId: m.kmsKeyId } : {}),
    command: ['retailctl', ...ctx.argv].join(' '),
    now: ctx.now,
    signals: ctx.signals,
    info: (line) => ctx.out.info(line),
    warn: (line) => ctx.out.warn(line),
  });
  let result: CommandResult;
  // a lock left in place (S3 did not take the delete) is in the report: it blocks other runs until it expires
  const lockState = () => {
    const left = lock.leftInPlace;
    return left ? { released: false, key: left.key, expiresAt: left.expiresAt } : { released: true, key: lock.key };
  };
  try {
    result = await migrate(ctx, request, m, aws, lock);
  } catch (err) {
    await lock.release();
    client.close();
    // the error document says what became of the lock too (a run that stopped after taking it)
    if (err instanceof RetailctlError && lock.taken) (err as { data: Record<string, unknown> | undefined }).data = { ...err.data, lock: lockState() };
    throw err;
  }
  await lock.release();
  client.close();
  if (result.data && typeof result.data === 'object') (result.data as Record<string, unknown>).lock = lockState();
  return result;
}

async function migrate(ctx: CommandContext, request: MigrateRequest, m: Migration, aws: AwsContext, lock: MigrationLock | undefined): Promise<CommandResult> {
  const { bucket, prefix } = m;
  const started = Date.now();

  // What the bucket holds is asked once the inputs are known good: a catalogue or key problem is exit 2
  // before any request (the lock is a write). It is asked under the lock, so the plan is made from a
  // state no other run is changing; a dry run takes no lock and only says whether one is held. The
  // client (credentials, signer) is made ready meanwhile, so the round trips start at once.
  const listerReady = leanS3(aws.read, bucket, 4, ctx.signal);
  listerReady.catch(() => {}); // awaited below; an input error found first must not leave it unhandled
  const remoteState = async () => {
    await lock?.acquire().catch((err: unknown) => rethrowS3(err, aws.read, bucket, 'PutObject'));
    const lister = await listerReady;
    try {
      const held = lock ? undefined : lister.get(lockKey(prefix)).catch(() => undefined);
      // the lock covers one prefix exactly: say so when a run holds one above it (a GET per parent prefix, at most 4)
      const above = Promise.all(parentPrefixes(prefix).map(async (p) => ((await lister.get(lockKey(p)).catch(() => undefined)) ? lockKey(p) : undefined)));
      const state = await bucketState(lister, bucket, prefix, aws.read);
      state[0].delete(lockKey(prefix));
      // …or below it (the listing has them already); they are never images
      const below = [...state[0].keys()].filter((k) => k.endsWith(`/${LOCK_NAME}`));
      for (const k of below) state[0].delete(k);
      for (const k of [...(await above), ...below]) {
        if (k) ctx.out.warn(`s3://${bucket}/${k} is the lock of another images migrate on a nested prefix: the lock covers one prefix exactly, so that run and this one do not exclude each other; make sure they do not write the same keys`);
      }
      return [...state, await held] as const;
    } finally {
      lister.close();
    }
  };
  try {
    return await migrateFrom(ctx, request, m, aws, lock, remoteState, started);
  } finally {
    void listerReady.then((l) => l.close(), () => {});
  }
}

async function migrateFrom(
  ctx: CommandContext,
  request: MigrateRequest,
  m: Migration,
  aws: AwsContext,
  lock: MigrationLock | undefined,
  remoteState: () => Promise<readonly [Map<string, ExistingObject>, { key: string; uploadId: string }[], { body: Buffer } | undefined]>,
  started: number,
): Promise<CommandResult> {
  const { config, source, bucket, catalogFile, remote, prefix, template, sse, kmsKeyId, concurrency, cacheControl, distributionId } = m;
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
  } else {
    ({ images, ignored, symlinks } = await walkImages(path.resolve(ctx.cwd, source), ctx.signal));
  }
  const mem = () => `heap ${Math.round(process.memoryUsage().heapUsed / 1048576)} MB, rss ${Math.round(process.memoryUsage.rss() / 1048576)} MB`;
  ctx.out.debug(`source: ${images.length} images in ${Date.now() - started} ms since start (${mem()})`);

  const stateFile = journalPath(path.resolve(ctx.cwd, request.stateDir), bucket);
  const journal = await loadJournal(stateFile);
  const hashes = template.uses.has('hash') ? await contentHashes(images, journal) : undefined;
  await keyRules;
  const plan = planKeys({
    images,
    ...(catalog ? { catalog, catalogProblems } : {}),
    template,
    prefix,
    cacheControl,
    cacheRules: config.cacheRules ?? [],
    ...(hashes ? { hashes } : {}),
  });
  if (plan.problems.length) throw problemsError(plan.problems, `input problem${plan.problems.length === 1 ? '' : 's'} (key collisions, unusable catalogue values)`);
  const [existing, allUnfinished, heldLock] = await remoteState();
  ctx.out.debug(`listing: ${existing.size} objects under s3://${bucket}/${prefix} (${Date.now() - started} ms since start, ${mem()})`);
  decideActions(plan, { existing, journal, force: request.force, ...(hashes ? { hashes } : {}) });
  // multipart uploads an interrupted run left for keys of this plan (the set is built only when there are any)
  let unfinished = allUnfinished;
  if (unfinished.length) {
    const keys = new Set(plan.items.map((i) => i.key));
    unfinished = unfinished.filter((u) => keys.has(u.key));
  }

  // where the images will be served from
  let cdnDomain = request.cdnDomain ?? config.cdnDomain;
  const distribution = distributionId ?? config.distributionId;
  if (!cdnDomain && distribution) {
    const cf = await aws.read.client('cloudfront');
    const { GetDistributionCommand } = await import('@aws-sdk/client-cloudfront');
    const d = await cf.send(new GetDistributionCommand({ Id: distribution }), { abortSignal: ctx.signal });
    cdnDomain = d.Distribution?.DistributionConfig?.Aliases?.Items?.[0] ?? d.Distribution?.DomainName;
  }
  const target = `s3://${bucket}/${prefix}`;
  const audit = {
    missingImages: plan.audit.missing.length,
    unreferencedImages: plan.audit.unreferenced.length,
    missing: plan.audit.missing.slice(0, 1000).map((r) => ({ row: r.at, image: r.source, sku: r.sku })),
    unreferenced: plan.audit.unreferenced.slice(0, 1000),
    ignoredFiles: ignored,
    symlinksSkipped: symlinks.count,
    symlinks: symlinks.paths,
  };
  if (ctx.options.dryRun) {
    // same size but no proof: compare contents now (read-only), so the plan says what would really be skipped
    const checks = plan.items.filter((i) => i.action === 'check');
    if (checks.length) {
      const settled = await executePlan(checks, { s3: () => aws.read.client('s3'), bucket, sse, concurrency: Math.min(concurrency, 16), signal: ctx.signal, gate: new Gate(16), dryRun: true });
      for (const r of settled) r.item.action = r.status === 'skipped' ? 'skip' : r.status === 'planned' ? 'replace' : r.item.action;
      Object.assign(plan, tally(plan.items));
    }
    const leftover = unfinished.length;
    const extra = leftover ? [`${leftover} unfinished multipart upload${leftover === 1 ? '' : 's'} from an interrupted run would be aborted`] : [];
    const held = heldLock ? parseLockBody(heldLock.body.toString('utf8')) : undefined;
    if (heldLock) extra.push(`s3://${bucket}/${lockKey(prefix)} is held${held ? ` by ${describeHolder(held)}` : ''}: a run now would be refused until it is released (or has expired and --break-lock is given)`);
    const planData = { source, bucket, prefix, keyTemplate: template.source, cacheControl, sse, counts: plan.counts, bytes: plan.bytes, sampleKeys: plan.items.slice(0, 20).map((i) => ({ source: i.image.path, key: i.key, action: i.action })), unfinishedUploads: leftover, lock: heldLock ? (held ?? { unreadable: true }) : null };
    return { exitCode: ExitCode.Ok, data: { dryRun: true, plan: planData, audit, cdnDomain: cdnDomain ?? null }, text: ['--dry-run: nothing was uploaded', ...describePlan(plan, target, symlinks), ...extra].join('\n') };
  }
  for (const line of describePlan(plan, target, symlinks)) ctx.out.info(line);
  const work = plan.items.length - plan.counts.skip - plan.counts.empty;
  if (work) await ctx.confirm(`Upload up to ${work} images (${mb(plan.bytes.toUpload)}) to ${target}?`);

  const write = aws.write();
  const gate = new Gate(concurrency);
  // one breaker for every upload of the run: any success resets it, only a lasting outage trips it
  const breaker = new CircuitBreaker(m.giveUpAfterMs);
  // uploads on the wire at the first Ctrl-C finish (and are journaled); only a second one abandons them
  // no upload (nor retry) is sent unless the lock is known valid by this process's clock: a run that was
  // paused past its lock's expiry waits for its refresh to say whether the lock is still its own
  const beforeWrite = lock ? () => lock.writable() : undefined;
  // and none outlives the lock's usable window by more than maxRequestMs: the lock expires only after that
  const maxWriteMs = lock?.maxRequestMs;
  const putter = await leanS3(write, bucket, concurrency, ctx.signal, { onThrottle: () => gate.throttle(), breaker, abandonSignal: ctx.signals.kill, ...(beforeWrite ? { beforeWrite } : {}), ...(maxWriteMs ? { maxWriteMs } : {}) });
  const halt = lock ? AbortSignal.any([breaker.signal, lock.lost]) : breaker.signal;
  for (const u of unfinished) {
    await putter.abortMultipartUpload(u.key, u.uploadId).catch((err: unknown) => rethrowS3(err, write, bucket, 'AbortMultipartUpload'));
    ctx.out.info(`aborted an unfinished multipart upload of ${u.key} (from an interrupted run)`);
  }
  const journalWriter = await JournalWriter.open(stateFile, path.relative(ctx.cwd, stateFile));
  const progress = await startProgress(ctx, plan);
  let results: ResultStore;
  try {
    ctx.out.debug(`uploading from ${Date.now() - started} ms since start (${mem()})`);
    results = await executePlan(plan.items, { putter, s3: () => write.client('s3'), bucket, sse, ...(kmsKeyId ? { kmsKeyId } : {}), concurrency, journal: journalWriter, signal: ctx.signal, halt, gate, onItem: progress.item, breaker, ...(beforeWrite ? { beforeWrite } : {}), ...(maxWriteMs ? { maxWriteMs } : {}) });
  } finally {
    breaker.close();
    progress.stop();
    putter.close();
    await journalWriter.close().catch(() => {});
    if (journalWriter.error) ctx.out.warn(`the journal ${path.relative(ctx.cwd, stateFile)} could not be written (${journalWriter.error.message}); the next run re-reads files to compare them`);
  }

  const counts = { uploaded: 0, skipped: 0, failed: 0, missing: 0, empty: 0, symlinks: symlinks.count };
  let bytesUploaded = 0;
  for (const r of results) {
    if (r.status === 'planned') continue; // only in dry runs
    counts[r.status]++;
    if (r.status === 'uploaded') bytesUploaded += r.size ?? 0;
  }
  const failed: ItemResult[] = [];
  const warnings: ItemResult[] = [];
  const empty: ItemResult[] = [];
  let failedCount = 0;
  let warningCount = 0;
  const replaced: string[] = [];
  for (const r of results) {
    if (r.status === 'failed' && failedCount++ < 1000) failed.push(r);
    if (r.status === 'empty' && empty.length < 1000) empty.push(r);
    if (r.warning && warningCount++ < 1000) warnings.push(r);
    if (r.status === 'uploaded' && r.replaced) replaced.push(r.item.key);
  }
  for (const r of failed.slice(0, SHOWN)) ctx.out.warn(`failed: ${shownName(r.item.image.path)} → ${r.item.key}: ${r.reason}`);
  for (const r of warnings.slice(0, SHOWN)) ctx.out.warn(`${shownName(r.item.image.path)}: ${r.warning}`);
  for (const r of empty.slice(0, SHOWN)) ctx.out.warn(`empty: ${shownName(r.item.image.url ?? r.item.image.path)} is 0 bytes: not uploaded${r.item.existing ? ` (the object at ${r.item.key} is left as it is)` : ''}`);
  if (counts.empty > SHOWN) ctx.out.warn(`… and ${counts.empty - SHOWN} more empty images (all of them in --json and the manifest)`);

  const written: string[] = [];
  if (request.manifest) {
    const file = path.resolve(ctx.cwd, request.manifest);
    await writeManifest(file, manifestRows(results, cdnDomain, bucket));
    written.push(request.manifest);
  }
  if (request.redirects) {
    if (!cdnDomain) ctx.out.warn('--redirects: no CDN domain (pass --cdn-domain or --invalidate <distribution>); the map is empty');
    written.push(...(await writeRedirects(path.resolve(ctx.cwd, request.redirects), () => redirectMap(results, cdnDomain, request.redirectFrom))).map((f) => path.relative(ctx.cwd, f)));
  }

  // a run that stopped early still invalidates what it replaced: a rerun skips those objects as unchanged
  const stopped = lock?.lostError ?? (breaker.tripped ? breaker.state : undefined);
  let invalidation: { id: string; paths: number; wildcards: boolean; status: string } | null = null;
  if (distributionId && replaced.length) {
    try {
      invalidation = await invalidate(ctx, aws, distributionId, replaced, stopped ? 0 : request.wait);
    } catch (err) {
      if (!stopped || ctx.signal.aborted) throw err;
      ctx.out.warn(`CloudFront invalidation of the ${replaced.length} replaced object${replaced.length === 1 ? '' : 's'} not sent (${(err as Error).message}): invalidate ${replaced.slice(0, 3).map((k) => `/${k}`).join(', ')}${replaced.length > 3 ? ', …' : ''} by hand (all of them in --json)`);
    }
  }

  const seconds = (Date.now() - started) / 1000;
  const data = {
    source,
    bucket,
    prefix,
    counts,
    bytesUploaded,
    failed: failed.slice(0, 1000).map((r) => ({ source: r.item.image.path, key: r.item.key, reason: r.reason })),
    warnings: warnings.slice(0, 1000).map((r) => ({ source: r.item.image.path, key: r.item.key, warning: r.warning })),
    empty: empty.map((r) => ({ source: r.item.image.url ?? r.item.image.path, key: r.item.key })),
    audit,
    manifest: request.manifest ?? null,
    redirects: request.redirects ? written.slice(request.manifest ? 1 : 0) : null,
    invalidation,
    cdnDomain: cdnDomain ?? null,
    retries: putter.retries,
    throttled: gate.throttled,
    state: path.relative(ctx.cwd, stateFile),
    elapsedMs: Date.now() - started,
  };
  const text = [
    `${counts.uploaded} uploaded (${mb(bytesUploaded)}), ${counts.skipped} unchanged, ${counts.failed} failed${counts.missing ? `, ${counts.missing} missing on the origin` : ''}${counts.empty ? `, ${counts.empty} empty (not uploaded)` : ''}${counts.symlinks ? `, symlinks skipped: ${counts.symlinks}` : ''} in ${formatDuration(Math.round(seconds * 1000))}${gate.throttled ? ` (S3 asked to slow down ${gate.throttled}×)` : ''}`,
    ...(invalidation ? [`CloudFront invalidation ${invalidation.id}: ${invalidation.paths} path${invalidation.paths === 1 ? '' : 's'}${invalidation.wildcards ? ' (wildcards)' : ''}, ${invalidation.status}`] : []),
    ...(written.length ? [`wrote ${written.join(', ')}`] : []),
    ...(counts.failed ? [`${counts.failed} failed: rerun the same command to retry only those`] : []),
  ].join('\n');
  if (stopped) {
    const notStarted = plan.items.length - counts.uploaded - counts.skipped - counts.failed - counts.missing - counts.empty;
    const done = `${counts.uploaded} uploaded, ${counts.skipped} unchanged, ${counts.failed} failed, ${notStarted} not started; the journal ${data.state} has every completed upload${written.length ? `, ${written.join(', ')} what was done` : ''}`;
    const report = { ...data, notStarted, ...(invalidation || !replaced.length || !distributionId ? {} : { notInvalidated: replaced.slice(0, 1000) }) };
    if (stopped instanceof RetailctlError) throw new RetailctlError(stopped.code, stopped.message, { hint: stopped.hint, details: [done], data: { ...stopped.data, ...report } });
    const failures = `${stopped.failures} failed attempt${stopped.failures === 1 ? '' : 's'}`;
    throw new RetailctlError('IMAGES_S3_UNREACHABLE', `S3 unreachable since ${new Date(stopped.since).toISOString()} (${failures}, last error ${stopped.lastError}); nothing more was sent; rerun the same command to resume`, {
      details: [done],
      hint: `no S3 request succeeded for ${formatDuration(m.giveUpAfterMs)} (--give-up-after): check the network path to S3 (endpoint, proxy, VPC endpoint, DNS)`,
      data: { ...report, unreachableSince: new Date(stopped.since).toISOString(), failedAttempts: stopped.failures, lastError: stopped.lastError },
    });
  }
  return { exitCode: counts.failed ? ExitCode.PartialFailure : ExitCode.Ok, data, text };
}

/** One CloudFront invalidation for the replaced keys (exact paths, or wildcards beyond the free allowance); waits up to `waitMs`. */
async function invalidate(ctx: CommandContext, aws: AwsContext, distributionId: string, replaced: string[], waitMs: number | undefined): Promise<{ id: string; paths: number; wildcards: boolean; status: string }> {
  const paths = invalidationPaths(replaced, FREE_INVALIDATION_PATHS);
  const cf = await aws.write().client('cloudfront');
  const { CreateInvalidationCommand, GetInvalidationCommand } = await import('@aws-sdk/client-cloudfront');
  const res = await cf.send(new CreateInvalidationCommand({ DistributionId: distributionId, InvalidationBatch: { CallerReference: `retailctl-images-${Date.now()}`, Paths: { Quantity: paths.length, Items: paths } } }), { abortSignal: ctx.signal });
  let status = res.Invalidation?.Status ?? 'InProgress';
  const id = res.Invalidation?.Id ?? '';
  if (waitMs && status !== 'Completed') {
    const deadline = Date.now() + waitMs;
    while (status !== 'Completed' && Date.now() < deadline) {
      await sleep(5000, ctx.signal);
      status = (await (await aws.read.client('cloudfront')).send(new GetInvalidationCommand({ DistributionId: distributionId, Id: id }), { abortSignal: ctx.signal })).Invalidation?.Status ?? status;
    }
  }
  return { id, paths: paths.length, wildcards: paths.some((p) => p.endsWith('*')), status };
}

/** A bar on a terminal; a plain line every 5 seconds otherwise. */
async function startProgress(ctx: CommandContext, plan: ImagesPlan): Promise<{ item: (r: ItemResult) => void; stop: () => void }> {
  const total = plan.items.length;
  const totalBytes = plan.bytes.total;
  const started = Date.now();
  let done = 0;
  let bytes = 0;
  let failed = 0;
  const line = () => {
    const s = (Date.now() - started) / 1000;
    const rate = s > 0 ? bytes / s : 0;
    const eta = rate > 0 && totalBytes > bytes ? formatDuration(Math.round(((totalBytes - bytes) / rate) * 1000)) : '-';
    const width = 20;
    const filled = total ? Math.round((done / total) * width) : width;
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} files, ${mb(bytes)}/${mb(totalBytes)}, ${mb(rate)}/s, ETA ${eta}${failed ? `, ${failed} failed` : ''}`;
  };
  const item = (r: ItemResult) => {
    done++;
    bytes += r.size ?? r.item.image.size ?? 0;
    if (r.status === 'failed') failed++;
  };
  if (ctx.out.interactive) {
    const p = await ctx.out.progress(line());
    const timer = setInterval(() => p.update(line()), 200);
    return { item, stop: () => (clearInterval(timer), p.stop()) };
  }
  const timer = setInterval(() => ctx.out.info(`images: ${line()}`), 5000);
  timer.unref();
  return { item, stop: () => clearInterval(timer) };
}
