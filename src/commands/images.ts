import { Option, type Command } from 'commander';
import { withPlanOptions } from './plan-options.js';
import type { Runtime } from './runtime.js';
import { parseDurationFlag, parseIntegerFlag } from '../lib/util/duration.js';

const repeat = (v: string, prev: string[]) => [...prev, v];

export function registerImages(program: Command, runtime: Runtime): void {
  const images = program
    .command('images')
    .description('product images: move them into S3 under catalogue-shaped keys, verified, resumable, CDN-ready')
    .addHelpText('after', '\nExamples:\n  $ retailctl images migrate ./media --bucket shop-product-images --catalog catalog.csv --dry-run\n  $ retailctl images verify --manifest images.csv');

  const migrate = withPlanOptions(images.command('migrate [source]'))
    .description('upload images from a directory or an http(s) origin to S3, or copy them server-side from s3://bucket/prefix/: keys from the catalogue, Content-Type from the bytes, SHA-256 checked by S3, unchanged objects skipped, safe to kill and rerun')
    .option('--bucket <name>', 'destination bucket (images.bucket)')
    .option('--prefix <prefix>', 'key prefix (images.prefix)')
    .option('--catalog <file>', 'CSV or JSON mapping each image to sku, category, variant, position (images.catalog)')
    .option('--column <field=name>', 'catalogue column for a field: source, sku, category, variant, position (repeatable; images.columns)', repeat, [] as string[])
    .option('--key-template <template>', 'key shape: {category} {sku} {variant} {position} {name} {ext} {hash} {dir} (default {category}/{sku}/{variant}.{ext}; without a catalogue {dir}/{name}.{ext})')
    .option('--cache-control <value>', 'Cache-Control (default: public, max-age=31536000, immutable with {hash}, else public, max-age=86400; rules by glob: images.cacheRules)')
    .addOption(new Option('--sse <algorithm>', 'server-side encryption (images.sse)').choices(['AES256', 'aws:kms']))
    .option('--kms-key-id <id>', 'KMS key for --sse aws:kms (images.kmsKeyId)')
    .option('--concurrency <n>', 'uploads in flight (default 64; halves when S3 answers SlowDown)')
    .option('--force', 're-upload objects that are already there and unchanged')
    .option('--manifest <file>', 'write one row per image (CSV or JSON by extension): source, key, url, size, sha256, contentType, status, reason')
    .option('--redirects <file>', 'write old path → new URL as an nginx map and as JSON (x.map + x.json)')
    .option('--redirect-from <path>', 'URL path the application serves a local source under today (for --redirects)', '/')
    .option('--cdn-domain <domain>', 'domain the images are served from (default: the distribution\'s alias or domain)')
    .option('--invalidate <distributionId>', 'after uploading, one CloudFront invalidation for replaced keys (wildcards beyond 1,000 paths)')
    .option('--wait <duration>', 'with --invalidate: wait this long for it to complete (0 = do not wait)', '0')
    .option('--state-dir <dir>', 'where the journal of uploaded objects and the local lock live', '.retailctl')
    .option('--break-lock', 'take over the bucket lock (<prefix>.retailctl-lock) of a run that is gone, once it has expired; a live lock is refused')
    .option('--give-up-after <duration>', 'stop (exit 1, resumable) when no S3 request has succeeded for this long (default 30s; 0 = never; images.giveUpAfter)')
    .option('--lock-expiry <duration>', 'how long the bucket lock lives without a refresh, 1s to 1h (default 2m; refreshed every quarter of it; images.lockExpiry)')
    .option('--engine <engine>', 'who copies an s3:// source: direct (this machine, CopyObject per object), batch (one S3 Batch Operations job: images.batch) or auto (batch from images.batch.minObjects objects, default 1,000,000)', 'auto')
    .option('--shard <K/N>', 'write only the images whose key hash falls in shard K of N (1 ≤ K ≤ N), for N runners at once; collisions and the catalogue audit are still checked over the whole plan; join the --manifest parts with images manifest merge')
    .addHelpText(
      'after',
      `
One run at a time per bucket and prefix: a second one exits 1 naming the lock's holder.
Exit codes: 0 done; 4 some images failed (a rerun retries only those); 1 locked, lost the lock, or S3 unreachable (rerun to resume); 2 bad input (nothing uploaded); 3 needs --yes; 130 interrupted.

Examples:
  $ retailctl images migrate ./media/catalog/product --bucket shop-product-images --catalog catalog.csv --dry-run
  $ retailctl images migrate ./media --bucket shop-product-images --catalog catalog.csv --manifest images.csv --redirects redirects.map --yes
  $ retailctl images migrate https://www.shop.example.com/media/ --catalog catalog.csv --bucket shop-product-images --invalidate E2DEMODIST --yes
  $ retailctl images migrate ./media --bucket shop-product-images --catalog catalog.csv --manifest images.csv --plan-out plan.json
  $ retailctl apply plan.json --yes
  $ retailctl images migrate s3://legacy-images/img/ --bucket shop-product-images --catalog catalog.csv --engine batch --manifest images.csv --yes`,
    )
    .action(
      (
        source: string | undefined,
        opts: { bucket?: string; prefix?: string; catalog?: string; column: string[]; keyTemplate?: string; cacheControl?: string; sse?: 'AES256' | 'aws:kms'; kmsKeyId?: string; concurrency?: string; force?: boolean; manifest?: string; redirects?: string; redirectFrom: string; cdnDomain?: string; invalidate?: string; wait: string; stateDir: string; breakLock?: boolean; giveUpAfter?: string; lockExpiry?: string; shard?: string; engine: string },
      ) =>
        runtime.execute(migrate, async (ctx) => {
          const concurrency = parseIntegerFlag('--concurrency', opts.concurrency, { min: 1, max: 512 });
          const wait = parseDurationFlag('--wait', opts.wait);
          const giveUpAfter = opts.giveUpAfter === undefined ? undefined : parseDurationFlag('--give-up-after', opts.giveUpAfter, 'never give up');
          const lockExpiry = opts.lockExpiry === undefined ? undefined : parseDurationFlag('--lock-expiry', opts.lockExpiry, null);
          const { imagesMigrate } = await import('../lib/images/pipeline.js');
          return imagesMigrate(ctx, {
            source,
            bucket: opts.bucket,
            prefix: opts.prefix,
            catalog: opts.catalog,
            columns: opts.column,
            keyTemplate: opts.keyTemplate,
            cacheControl: opts.cacheControl,
            sse: opts.sse,
            kmsKeyId: opts.kmsKeyId,
            concurrency,
            force: Boolean(opts.force),
            manifest: opts.manifest,
            redirects: opts.redirects,
            redirectFrom: opts.redirectFrom,
            cdnDomain: opts.cdnDomain,
            invalidate: opts.invalidate,
            wait,
            stateDir: opts.stateDir,
            breakLock: Boolean(opts.breakLock),
            giveUpAfter,
            lockExpiry,
            shard: opts.shard,
            engine: opts.engine,
          });
        }),
    );

  const manifest = images.command('manifest').description('manifests of images migrate: join the parts of a sharded migration');
  const merge = manifest
    .command('merge <parts...>')
    .description('join the --manifest parts of the N shards of one migration (images migrate --shard K/N) into the manifest one run would have written; exit 2 unless they are exactly the N shards of one plan')
    .requiredOption('--out <file>', 'the merged manifest (CSV or JSON by extension)')
    .addHelpText('after', '\nExamples:\n  $ retailctl images manifest merge manifest-1.csv manifest-2.csv manifest-3.csv --out images.csv')
    .action((parts: string[], opts: { out: string }) =>
      runtime.execute(merge, async (ctx) => {
        const { imagesManifestMerge } = await import('../lib/images/manifest-merge.js');
        return imagesManifestMerge(ctx, { parts, out: opts.out });
      }),
    );

  const verify = images
    .command('verify')
    .description('read-only: every uploaded/unchanged row of a manifest exists in S3 with the same size and sha256; exit 5 on any mismatch')
    .requiredOption('--manifest <file>', 'a manifest written by images migrate --manifest')
    .option('--bucket <name>', 'bucket (default: the manifest\'s bucket column)')
    .option('--concurrency <n>', 'HEAD requests in flight', '32')
    .addHelpText('after', '\nExamples:\n  $ retailctl images verify --manifest images.csv\n  $ retailctl images verify --manifest images.json --json')
    .action((opts: { manifest: string; bucket?: string; concurrency: string }) =>
      runtime.execute(verify, async (ctx) => {
        const concurrency = parseIntegerFlag('--concurrency', opts.concurrency, { min: 1, max: 256 })!;
        const { imagesVerify } = await import('../lib/images/verify.js');
        return imagesVerify(ctx, { manifest: opts.manifest, bucket: opts.bucket, concurrency });
      }),
    );
}
