/**
 * `images migrate`'s request as flags, the config and defaults make it (the Migration), every value
 * checked before any AWS call: a bad one is exit 2 with nothing read remotely and nothing written.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ImagesConfig } from '../config/schema.js';
import type { CommandContext } from '../context.js';
import { ExitCode, RetailctlError } from '../errors.js';
import { checkOutputDir } from '../io/paths.js';
import { formatDuration } from '../util/duration.js';
import { shown } from '../util/sanitize.js';
import { DEFAULT_TEMPLATE, normalisePrefix, parseTemplate, PATH_TEMPLATE, type Template } from './keys.js';
import { DEFAULT_LOCK_EXPIRY_MS, MAX_LOCK_EXPIRY_MS, type Shard } from './lock.js';
import { checkMigrationOutputs } from './outputs.js';
import { defaultCacheControl } from './plan.js';
import { isRemote, s3Source } from './source.js';
import { BUCKET_NAME } from '../aws/names.js';
import { DEFAULT_BATCH_MIN_OBJECTS, type BatchSettings, type Engine } from './batch-plan.js';

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
  /** `--shard K/N`: this run writes only the keys whose hash falls in shard K of N. */
  shard?: string;
  /** `--engine auto|direct|batch`: who copies an s3:// source (default auto). */
  engine?: string;
}

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

/** A migration as flags, the config and defaults make it, checked before any AWS call. */
export interface Migration {
  config: ImagesConfig;
  source: string;
  bucket: string;
  catalogFile: string | undefined;
  remote: boolean;
  /** An s3://bucket/prefix source: copied server-side. */
  s3Source: { bucket: string; prefix: string } | undefined;
  prefix: string;
  template: Template;
  sse: 'AES256' | 'aws:kms';
  kmsKeyId: string | undefined;
  concurrency: number;
  cacheControl: string;
  distributionId: string | undefined;
  giveUpAfterMs: number;
  lockExpiryMs: number;
  shard: Shard | undefined;
  engine: Engine;
  batch: BatchSettings;
}

function parseEngine(text: string | undefined): Engine {
  if (text === undefined || text === 'auto' || text === 'direct' || text === 'batch') return text ?? 'auto';
  throw new RetailctlError('USAGE', `--engine ${shown(text)}: expected auto, direct or batch`, { exitCode: ExitCode.Usage, hint: 'batch hands an s3:// source\'s copies to one S3 Batch Operations job; auto does so from images.batch.minObjects objects' });
}

/** `--shard K/N`: 1 ≤ K ≤ N ≤ 1000. */
export function parseShard(text: string | undefined): Shard | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text.trim());
  const [k, n] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!m || n < 1 || n > 1000 || k < 1 || k > n) throw new RetailctlError('USAGE', `--shard ${shown(text)}: expected K/N with 1 ≤ K ≤ N ≤ 1000, e.g. --shard 2/3`, { exitCode: ExitCode.Usage, hint: 'in a GitHub Actions matrix: --shard ${{ matrix.shard }}/${{ strategy.job-total }}' });
  return { k, n };
}

export async function resolveMigration(ctx: CommandContext, request: MigrateRequest): Promise<Migration> {
  const { images: config = { sse: 'AES256' } as ImagesConfig, resolve } = await optionalConfig(ctx);
  const source = request.source ?? (config.source ? (isRemote(config.source) || /^s3:\/\//i.test(config.source) ? config.source : resolve(config.source)) : undefined);
  if (!source) throw new RetailctlError('USAGE', 'no source: give a directory, an http(s):// origin or an s3://bucket/prefix (or set images.source in the config)', { exitCode: ExitCode.Usage, hint: 'retailctl images migrate ./media/catalog/product --bucket <name>' });
  const bucket = request.bucket ?? config.bucket;
  if (!bucket) throw new RetailctlError('USAGE', 'no bucket: pass --bucket <name> (or set images.bucket in the config)', { exitCode: ExitCode.Usage });
  if (!BUCKET_NAME.test(bucket)) throw new RetailctlError('USAGE', `--bucket: "${bucket}" is not an S3 bucket name`, { exitCode: ExitCode.Usage });
  const catalogFile = request.catalog ? path.resolve(ctx.cwd, request.catalog) : config.catalog ? resolve(config.catalog) : undefined;
  const remote = isRemote(source);
  const fromS3 = s3Source(source);
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
  if (fromS3 && template.uses.has('hash')) throw new RetailctlError('USAGE', '{hash} needs the content before planning, and an s3:// source is copied without reading it: drop {hash}, or migrate from a local copy', { exitCode: ExitCode.Usage });
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
  const shard = parseShard(request.shard);
  const engine = parseEngine(request.engine);
  if (engine === 'batch' && !fromS3) throw new RetailctlError('USAGE', '--engine batch copies objects already in S3: give an s3://bucket/prefix source (a directory or an http(s) origin is uploaded from this machine)', { exitCode: ExitCode.Usage });
  if (engine === 'batch' && shard) throw new RetailctlError('USAGE', '--engine batch with --shard: one S3 Batch Operations job copies the whole migration; drop --shard', { exitCode: ExitCode.Usage });
  const b = config.batch ?? {};
  if (engine === 'batch' && !b.roleArn) throw new RetailctlError('USAGE', '--engine batch needs the IAM role S3 Batch Operations runs the job as: set images.batch.roleArn', { exitCode: ExitCode.Usage, hint: 'docs/iam.md lists the role\'s trust and permissions policies' });
  const batch: BatchSettings = { roleArn: b.roleArn, functionArn: b.functionArn, minObjects: b.minObjects ?? DEFAULT_BATCH_MIN_OBJECTS, priority: b.priority ?? 10, pollMs: b.pollInterval ?? 15_000 };
  return { config, source, bucket, catalogFile, remote, s3Source: fromS3, prefix, template, sse, kmsKeyId, concurrency, cacheControl, distributionId, giveUpAfterMs, lockExpiryMs, shard, engine, batch };
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

