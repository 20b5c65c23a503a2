/**
 * images migrate / verify against moto through the shim: the objects, headers and metadata left in
 * the bucket, the files written, what a rerun sends (the shim's request log), and faults moto cannot
 * produce (503 SlowDown, dropped connections) injected by the shim.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CloudFrontClient, CreateDistributionCommand, GetInvalidationCommand, ListInvalidationsCommand } from '@aws-sdk/client-cloudfront';
import { CreateBucketCommand, GetObjectAclCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gif, jpeg, png, svg, webp } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const s3 = new S3Client({ ...common, forcePathStyle: true });
const cloudfront = new CloudFrontClient(common);
afterAll(() => [s3, cloudfront].forEach((c) => c.destroy()));

let dir: string;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const files: Record<string, Buffer> = {
  'skincare/serum-01.jpg': jpeg(5000, 1),
  'skincare/serum-01 back.png': png(3000, 2),
  'skincare/Crème Visage.webp': webp(4000, 3),
  'home/mug blue.gif': png(2000, 4), // PNG bytes behind a .gif name
  'home/mug-red.JPEG': jpeg(1500, 5),
  'logo.svg': svg(),
  'old/unused.gif': gif(800, 6),
};
const CATALOG = `image,sku,category,variant,position
skincare/serum-01.jpg,SKU-1001,Skincare > Serums,Front,1
skincare/serum-01 back.png,SKU-1001,Skincare > Serums,Back,2
skincare/Crème Visage.webp,SKU 2002,Skincare > Crèmes & Lotions,,1
home/mug blue.gif,SKU-3003,Home > Kitchen > Mugs,Blue,1
home/mug-red.JPEG,SKU-3003,Home > Kitchen > Mugs,Red,2
logo.svg,BRAND-1,Brand,,1
skincare/toner.jpg,SKU-4004,Skincare > Toners,,1
`;
const KEYS: Record<string, string> = {
  'skincare/serum-01.jpg': 'catalog/skincare/serums/sku-1001/front.jpg',
  'skincare/serum-01 back.png': 'catalog/skincare/serums/sku-1001/back.png',
  'skincare/Crème Visage.webp': 'catalog/skincare/cremes-and-lotions/sku-2002/1.webp',
  'home/mug blue.gif': 'catalog/home/kitchen/mugs/sku-3003/blue.gif',
  'home/mug-red.JPEG': 'catalog/home/kitchen/mugs/sku-3003/red.jpg',
  'logo.svg': 'catalog/brand/brand-1/1.svg',
};

async function writeTree(root: string, tree: Record<string, Buffer>): Promise<void> {
  for (const [rel, body] of Object.entries(tree)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), body);
  }
}

function migrate(args: string[], bucket = 'images') {
  return runInProcess(['images', 'migrate', 'media', '--bucket', bucket, '--prefix', 'catalog', '--endpoint-url', endpoint, ...args], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}

const LOCK = '.retailctl-lock';

/** Image writes (PUT/POST) the shim saw; the run's lock object is written too, and counted apart. */
async function puts(): Promise<number> {
  return (await control.requests()).filter((r) => r.service === 's3' && (r.method === 'PUT' || r.method === 'POST') && !r.path.includes(LOCK)).length;
}

/** Writes of the lock object (method and path), in order. */
async function lockWrites(): Promise<string[]> {
  return (await control.requests()).filter((r) => r.service === 's3' && r.method !== 'GET' && r.method !== 'HEAD' && r.path.includes(LOCK)).map((r) => `${r.method} ${r.path}`);
}

async function body(bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-'));
  await writeTree(path.join(dir, 'media'), files);
  await writeFile(path.join(dir, 'catalog.csv'), CATALOG);
  await writeFile(path.join(dir, 'retailctl.yaml'), 'images:\n  cdnDomain: images.shop.example.com\n  cacheRules:\n    - { glob: "**/*.svg", cacheControl: "public, max-age=600" }\n');
  for (const b of ['images', 'faults', 'big', 'verify']) await s3.send(new CreateBucketCommand({ Bucket: b }));
});

describe('images migrate', () => {
  it('uploads under catalogue keys with Content-Type from the bytes, Cache-Control, SSE, a stored sha256, and no ACL; writes the manifest and redirects', async () => {
    await control.clearRequests();
    const r = await migrate(['--catalog', 'catalog.csv', '--manifest', 'out/images.csv', '--redirects', 'out/redirects.map', '--redirect-from', '/media', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.counts).toEqual({ uploaded: 6, skipped: 0, failed: 0, missing: 0, empty: 0, symlinks: 0 });
    expect(doc.audit).toMatchObject({ missingImages: 1, unreferencedImages: 1, missing: [{ row: 'catalog.csv:8', image: 'skincare/toner.jpg', sku: 'SKU-4004' }], unreferenced: ['old/unused.gif'] });
    expect(doc.warnings).toEqual([{ source: 'home/mug blue.gif', key: KEYS['home/mug blue.gif'], warning: 'content is image/png but the name says image/gif' }]);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'images' }));
    expect(listed.Contents!.map((o) => o.Key).sort()).toEqual(Object.values(KEYS).sort());
    const expectedType: Record<string, string> = { 'skincare/serum-01.jpg': 'image/jpeg', 'skincare/serum-01 back.png': 'image/png', 'skincare/Crème Visage.webp': 'image/webp', 'home/mug blue.gif': 'image/png', 'home/mug-red.JPEG': 'image/jpeg', 'logo.svg': 'image/svg+xml' };
    for (const [rel, key] of Object.entries(KEYS)) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'images', Key: key }));
      expect(head.ContentType, key).toBe(expectedType[rel]);
      expect(head.CacheControl, key).toBe(rel.endsWith('.svg') ? 'public, max-age=600' : 'public, max-age=86400');
      expect(head.ServerSideEncryption).toBe('AES256');
      expect(head.Metadata?.sha256).toBe(sha(files[rel]!));
      expect((await body('images', key)).equals(files[rel]!)).toBe(true);
      const acl = await s3.send(new GetObjectAclCommand({ Bucket: 'images', Key: key }));
      expect(acl.Grants!.map((g) => g.Grantee?.URI).filter(Boolean)).toEqual([]); // no AllUsers / AuthenticatedUsers grant
    }

    const manifest = (await readFile(path.join(dir, 'out/images.csv'), 'utf8')).trim().split('\n');
    expect(manifest[0]).toBe('source,key,url,size,sha256,contentType,status,reason,bucket');
    expect(manifest).toContain(`skincare/serum-01.jpg,${KEYS['skincare/serum-01.jpg']},https://images.shop.example.com/${KEYS['skincare/serum-01.jpg']},5000,${sha(files['skincare/serum-01.jpg']!)},image/jpeg,uploaded,,images`);
    expect(manifest).toHaveLength(7);
    const redirects = JSON.parse(await readFile(path.join(dir, 'out/redirects.json'), 'utf8'));
    expect(redirects['/media/skincare/Cr%C3%A8me%20Visage.webp']).toBe(`https://images.shop.example.com/${KEYS['skincare/Crème Visage.webp']}`);
    expect(Object.keys(redirects)).toHaveLength(6);
    expect(await readFile(path.join(dir, 'out/redirects.map'), 'utf8')).toContain(`"/media/home/mug%20blue.gif" "https://images.shop.example.com/${KEYS['home/mug blue.gif']}";`);
    expect(r.stderr).toContain('warning: home/mug blue.gif: content is image/png but the name says image/gif');
  });

  it('a rerun uploads nothing (its only writes are its lock): skipped from the journal, and also without it (MD5 against the listed ETag)', async () => {
    await control.clearRequests();
    const again = await migrate(['--catalog', 'catalog.csv', '--yes', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).counts).toEqual({ uploaded: 0, skipped: 6, failed: 0, missing: 0, empty: 0, symlinks: 0 });
    expect(await puts()).toBe(0);
    // the only writes: the run's lock, taken and removed
    expect(await lockWrites()).toEqual([`PUT /images/catalog/${LOCK}`, `DELETE /images/catalog/${LOCK}`]);
    // a fresh CI checkout has no journal: the listing's ETags decide
    const fresh = await migrate(['--catalog', 'catalog.csv', '--yes', '--json', '--state-dir', 'fresh-state']);
    expect(JSON.parse(fresh.stdout).counts).toEqual({ uploaded: 0, skipped: 6, failed: 0, missing: 0, empty: 0, symlinks: 0 });
    expect(await puts()).toBe(0);
    const listOps = (await control.requests()).filter((q) => q.service === 's3' && q.method === 'GET' && q.path.includes('list-type=2'));
    expect(listOps).toHaveLength(2); // one listing per run, no HEAD per object
  });

  it('replaced images (same size or not) are re-uploaded and invalidated in one CloudFront request; new ones are not invalidated', async () => {
    const dist = await cloudfront.send(
      new CreateDistributionCommand({
        DistributionConfig: {
          CallerReference: 'images-test',
          Comment: '',
          Enabled: true,
          Origins: { Quantity: 1, Items: [{ Id: 'images', DomainName: 'images.s3.us-east-1.amazonaws.com', S3OriginConfig: { OriginAccessIdentity: '' } }] },
          DefaultCacheBehavior: { TargetOriginId: 'images', ViewerProtocolPolicy: 'redirect-to-https', CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6' },
        },
      }),
    );
    const id = dist.Distribution!.Id!;
    const sameSize = jpeg(5000, 99);
    const bigger = png(3500, 98);
    await writeFile(path.join(dir, 'media/skincare/serum-01.jpg'), sameSize);
    await writeFile(path.join(dir, 'media/skincare/serum-01 back.png'), bigger);
    await writeFile(path.join(dir, 'catalog-new.csv'), `${CATALOG}old/unused.gif,SKU-5005,Archive,,1\n`);
    // a dry run without the journal compares contents (read-only) to say exactly what would happen
    await control.clearRequests();
    const dry = await migrate(['--catalog', 'catalog-new.csv', '--dry-run', '--json', '--state-dir', 'no-journal']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).plan.counts).toEqual({ upload: 1, replace: 2, skip: 4, check: 0, empty: 0 });
    expect((await control.requests()).filter((q) => q.method !== 'GET' && q.method !== 'HEAD')).toEqual([]);
    await control.clearRequests();
    const r = await migrate(['--catalog', 'catalog-new.csv', '--invalidate', id, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.counts).toMatchObject({ uploaded: 3, skipped: 4 });
    expect(await puts()).toBe(3);
    expect(doc.invalidation).toMatchObject({ paths: 2, wildcards: false });
    const list = await cloudfront.send(new ListInvalidationsCommand({ DistributionId: id }));
    expect(list.InvalidationList!.Items).toHaveLength(1);
    const inv = await cloudfront.send(new GetInvalidationCommand({ DistributionId: id, Id: list.InvalidationList!.Items![0]!.Id! }));
    expect(inv.Invalidation!.InvalidationBatch!.Paths!.Items!.sort()).toEqual([`/${KEYS['skincare/serum-01 back.png']}`, `/${KEYS['skincare/serum-01.jpg']}`]);
    expect((await body('images', KEYS['skincare/serum-01.jpg']!)).equals(sameSize)).toBe(true);
    expect((await body('images', KEYS['skincare/serum-01 back.png']!)).equals(bigger)).toBe(true);
  });

  it('two images mapped to one key: exit 2 naming both rows, before any upload', async () => {
    await writeFile(path.join(dir, 'collide.csv'), 'image,sku,category,variant\nskincare/serum-01.jpg,SKU-1,Shoes,Red\nhome/mug-red.JPEG,sku-1,shoes,red\n');
    await control.clearRequests();
    const r = await migrate(['--catalog', 'collide.csv', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: 1 input problem (key collisions, unusable catalogue values); nothing was uploaded');
    expect(r.stderr).toContain('collide.csv:2: 2 different images map to the key catalog/shoes/sku-1/red.jpg: collide.csv:2 (skincare/serum-01.jpg), collide.csv:3 (home/mug-red.JPEG)');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await puts()).toBe(0);
  });

  it('a bucket that does not exist is exit 2 naming it', async () => {
    const r = await migrate(['--yes'], 'no-such-bucket');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --bucket: no-such-bucket does not exist (S3 NoSuchBucket)');
    expect(r.stderr).not.toContain('unexpected');
  });

  it('a missing catalogue column names the columns that are there', async () => {
    await writeFile(path.join(dir, 'bad.csv'), 'path,sku,category\na.jpg,1,c\n');
    const r = await migrate(['--catalog', 'bad.csv', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad.csv: missing column "image" (source); it has "path", "sku", "category"');
    const mapped = await migrate(['--catalog', 'bad.csv', '--column', 'source=path', '--dry-run']);
    expect(mapped.code, mapped.stderr).toBe(0);
  });

  it('a JSON catalogue with other column names; a row without a sku is an input error with its position', async () => {
    await writeFile(path.join(dir, 'catalog.json'), JSON.stringify([{ file: 'logo.svg', product: 'BRAND-9', path: 'Brand / Logos', colour: 'Mono' }]));
    const ok = await migrate(['--catalog', 'catalog.json', '--column', 'source=file', '--column', 'sku=product', '--column', 'category=path', '--column', 'variant=colour', '--dry-run', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).plan.sampleKeys).toEqual([{ source: 'logo.svg', key: 'catalog/brand/logos/brand-9/mono.svg', action: 'upload' }]);
    await writeFile(path.join(dir, 'catalog-bad.json'), JSON.stringify([{ image: 'logo.svg', sku: '', category: 'Brand' }]));
    const bad = await migrate(['--catalog', 'catalog-bad.json', '--dry-run']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('catalog-bad.json item 1: empty sku');
  });

  it('--dry-run prints the plan and makes no write call', async () => {
    await control.clearRequests();
    const r = await runInProcess(['images', 'migrate', 'media', '--bucket', 'big', '--catalog', 'catalog.csv', '--endpoint-url', endpoint, '--dry-run', '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.plan.counts).toEqual({ upload: 6, replace: 0, skip: 0, check: 0, empty: 0 });
    expect(doc.plan.sampleKeys[0]).toEqual({ source: 'skincare/serum-01.jpg', key: 'skincare/serums/sku-1001/front.jpg', action: 'upload' });
    const writes = (await control.requests()).filter((q) => q.method !== 'GET' && q.method !== 'HEAD');
    expect(writes).toEqual([]);
  });

  it('503 SlowDown on every third PUT and a dropped connection on every fifth: the run completes and nothing is lost', async () => {
    const many: Record<string, Buffer> = {};
    for (let i = 0; i < 40; i++) many[`bulk/p${i}.jpg`] = jpeg(1000 + i, 100 + i);
    const root = path.join(dir, 'faulty');
    await writeTree(root, many);
    await control.fault({ service: 's3', method: 'PUT', times: 0, every: 3, status: 503, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>' });
    await control.fault({ service: 's3', method: 'PUT', times: 0, every: 5, reset: true });
    try {
      const r = await runInProcess(['images', 'migrate', root, '--bucket', 'faults', '--endpoint-url', endpoint, '--concurrency', '8', '--yes', '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.counts).toEqual({ uploaded: 40, skipped: 0, failed: 0, missing: 0, empty: 0, symlinks: 0 });
      expect(doc.retries).toBeGreaterThan(10);
      expect(doc.throttled).toBeGreaterThan(0);
    } finally {
      await control.clearFaults();
    }
    for (const [rel, b] of Object.entries(many)) expect((await body('faults', rel)).equals(b), rel).toBe(true);
  });

  it('above 16 MiB: multipart with the sha256 stored; a rerun without the journal compares the stored sha256 and skips', async () => {
    const root = path.join(dir, 'large');
    const big = jpeg(17 * 1024 * 1024 + 123, 7);
    await writeTree(root, { 'hero.jpg': big, 'small.png': png(900, 8) });
    const r = await runInProcess(['images', 'migrate', root, '--bucket', 'big', '--endpoint-url', endpoint, '--yes', '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'big', Key: 'hero.jpg' }));
    expect(head.ETag).toMatch(/-2"$/);
    expect(head.Metadata?.sha256).toBe(sha(big));
    expect(head.ContentType).toBe('image/jpeg');
    expect(head.ServerSideEncryption).toBe('AES256');
    expect((await body('big', 'hero.jpg')).equals(big)).toBe(true);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'big' }))).Uploads ?? []).toEqual([]);
    await control.clearRequests();
    const again = await runInProcess(['images', 'migrate', root, '--bucket', 'big', '--endpoint-url', endpoint, '--yes', '--json', '--state-dir', 'other-state'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(JSON.parse(again.stdout).counts).toMatchObject({ uploaded: 0, skipped: 2 });
    expect(await puts()).toBe(0);
  });
});

describe('images verify', () => {
  it('exit 0 when every manifest row matches; exit 5 naming the object that changed or vanished', async () => {
    const root = path.join(dir, 'verify-src');
    await writeTree(root, { 'a.jpg': jpeg(700, 1), 'b.png': png(700, 2), 'c.webp': webp(700, 3) });
    const m = await runInProcess(['images', 'migrate', root, '--bucket', 'verify', '--endpoint-url', endpoint, '--manifest', 'verify.json', '--yes'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(m.code, m.stderr).toBe(0);
    const verify = () => runInProcess(['images', 'verify', '--manifest', 'verify.json', '--endpoint-url', endpoint, '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    const ok = await verify();
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ checked: 3, mismatches: 0 });
    await s3.send(new PutObjectCommand({ Bucket: 'verify', Key: 'b.png', Body: png(700, 9), Metadata: { sha256: 'f'.repeat(64) } }));
    await rm(path.join(dir, '.retailctl'), { recursive: true, force: true });
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new DeleteObjectCommand({ Bucket: 'verify', Key: 'c.webp' }));
    const bad = await verify();
    expect(bad.code).toBe(5);
    expect(JSON.parse(bad.stdout).problems).toEqual([
      { key: 'b.png', row: 'verify.json item 2', problem: 'sha256 differs' },
      { key: 'c.webp', row: 'verify.json item 3', problem: 'missing in S3' },
    ]);
  });
});

describe('images migrate from an http(s) origin', () => {
  it('downloads what the catalogue lists with GET only, uploads it, and reports images the origin does not have', async () => {
    const http = await import('node:http');
    const methods: string[] = [];
    const served: Record<string, Buffer> = { '/media/catalog/product/a/b/ab-1.jpg': jpeg(3000, 41), '/media/catalog/product/c/d/cd-2.png': png(2500, 42) };
    const statuses: number[] = [];
    const origin = http.createServer((req, res) => {
      methods.push(req.method ?? '');
      const body = served[decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)];
      if (!body) return statuses.push(404), res.writeHead(404).end();
      const etag = `"${createHash('md5').update(body).digest('hex')}"`;
      if (req.headers['if-none-match'] === etag) return statuses.push(304), res.writeHead(304, { etag }).end();
      statuses.push(200);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, etag }).end(body);
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(origin.address() as { port: number }).port}/`;
    try {
      await writeFile(path.join(dir, 'remote.csv'), 'image,sku,category\n/media/catalog/product/a/b/ab-1.jpg,AB-1,Bags\nmedia/catalog/product/c/d/cd-2.png,CD-2,Shoes > Running\n/media/catalog/product/x/gone.jpg,X-9,Bags\n');
      await s3.send(new CreateBucketCommand({ Bucket: 'remote' }));
      const clash = await runInProcess(['images', 'migrate', base, '--catalog', 'remote.csv', '--bucket', 'remote', '--redirects', 'remote.map', '--manifest', 'remote.json', '--endpoint-url', endpoint, '--yes'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
      expect(clash.code).toBe(2);
      expect(clash.stderr).toContain('error: --redirects remote.map writes remote.map and remote.json: one of them is the --manifest file');
      expect(methods).toEqual([]);
      const r = await runInProcess(['images', 'migrate', base, '--catalog', 'remote.csv', '--bucket', 'remote', '--cdn-domain', 'cdn.example.com', '--redirects', 'remote.map', '--manifest', 'remote-manifest.json', '--endpoint-url', endpoint, '--yes', '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).counts).toEqual({ uploaded: 2, skipped: 0, failed: 0, missing: 1, empty: 0, symlinks: 0 });
      expect(new Set(methods)).toEqual(new Set(['GET']));
      expect((await body('remote', 'bags/ab-1/ab-1.jpg')).equals(served['/media/catalog/product/a/b/ab-1.jpg']!)).toBe(true);
      expect((await s3.send(new HeadObjectCommand({ Bucket: 'remote', Key: 'shoes/running/cd-2/cd-2.png' }))).ContentType).toBe('image/png');
      const manifest = JSON.parse(await readFile(path.join(dir, 'remote-manifest.json'), 'utf8')) as { source: string; status: string; reason: string | null }[];
      expect(manifest).toHaveLength(3);
      expect(manifest.find((m) => m.status === 'missing')).toMatchObject({ source: `${base}media/catalog/product/x/gone.jpg`, reason: 'not found on the origin (404)' });
      expect(Object.keys(JSON.parse(await readFile(path.join(dir, 'remote.json'), 'utf8')))).toEqual(['/media/catalog/product/a/b/ab-1.jpg', '/media/catalog/product/c/d/cd-2.png']);
      expect(await readFile(path.join(dir, 'remote.map'), 'utf8')).toContain('"/media/catalog/product/a/b/ab-1.jpg" "https://cdn.example.com/bags/ab-1/ab-1.jpg";');

      // a rerun asks the origin with If-None-Match (the journal kept its ETags): 304s, nothing downloaded or uploaded
      statuses.length = 0;
      await control.clearRequests();
      const again = await runInProcess(['images', 'migrate', base, '--catalog', 'remote.csv', '--bucket', 'remote', '--endpoint-url', endpoint, '--yes', '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
      expect(JSON.parse(again.stdout).counts).toEqual({ uploaded: 0, skipped: 2, failed: 0, missing: 1, empty: 0, symlinks: 0 });
      expect(statuses.sort()).toEqual([304, 304, 404]);
      expect(await puts()).toBe(0);
      // an image changed on the origin is downloaded and replaced
      served['/media/catalog/product/a/b/ab-1.jpg'] = jpeg(3100, 43);
      statuses.length = 0;
      const changed = await runInProcess(['images', 'migrate', base, '--catalog', 'remote.csv', '--bucket', 'remote', '--endpoint-url', endpoint, '--yes', '--json'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
      expect(JSON.parse(changed.stdout).counts).toEqual({ uploaded: 1, skipped: 1, failed: 0, missing: 1, empty: 0, symlinks: 0 });
      expect(statuses.sort()).toEqual([200, 304, 404]);
      expect((await body('remote', 'bags/ab-1/ab-1.jpg')).equals(served['/media/catalog/product/a/b/ab-1.jpg']!)).toBe(true);
      expect(new Set(methods)).toEqual(new Set(['GET']));
    } finally {
      origin.close();
    }
  });
});

describe('images migrate with KMS', () => {
  it('--sse aws:kms --kms-key-id puts every object under that key', async () => {
    const root = path.join(dir, 'kms');
    await writeTree(root, { 'k.jpg': jpeg(600, 61) });
    await s3.send(new CreateBucketCommand({ Bucket: 'kms' }));
    const r = await runInProcess(['images', 'migrate', root, '--bucket', 'kms', '--sse', 'aws:kms', '--kms-key-id', 'alias/product-images', '--endpoint-url', endpoint, '--yes'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'kms', Key: 'k.jpg' }));
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toContain('product-images');
    const bad = await runInProcess(['images', 'migrate', root, '--bucket', 'kms', '--kms-key-id', 'alias/x', '--endpoint-url', endpoint, '--yes'], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--kms-key-id needs --sse aws:kms');
  });
});
