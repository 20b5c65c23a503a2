/**
 * Reviewed image migrations: `images migrate --plan-out`, then `retailctl apply`, through the built
 * binary against the emulator. The plan file writes nothing; apply ends where the direct command
 * does; anything that moved in between (an object, a source file), an edited or expired plan, a
 * second apply and a rerun after Ctrl-C are refused with nothing uploaded; a write that races the
 * plan is refused by S3's conditional write.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../support/images.js';
import { spawnCli } from '../support/spawn-cli.js';
import { otherHost } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control, env } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'retailctl-plan-images-'));
});

const LOCK = '.retailctl-lock';

/** A working directory with `media/` of `n` PNGs and a fresh bucket of the same name. */
async function workspace(name: string, n = 6): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(path.join(dir, 'media', 'p'), { recursive: true });
  for (let i = 0; i < n; i++) await writeFile(path.join(dir, 'media', 'p', `i${String(i).padStart(2, '0')}.png`), png(900 + i * 10, i + 1));
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return dir;
}

const run = (dir: string, args: string[], extra: { signalAfterMs?: number; signalWhen?: () => Promise<boolean>; env?: Record<string, string> } = {}) => spawnCli(args, { ...extra, cwd: dir, env: { AWS_REGION: 'us-east-1', ...env, ...extra.env } });

async function keys(bucket: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

/** S3 writes to `bucket` in the shim's log (PUT, POST, DELETE). */
async function writes(bucket: string): Promise<string[]> {
  return (await control.requests()).filter((r) => r.service === 's3' && r.method !== 'GET' && r.method !== 'HEAD' && r.path.startsWith(`/${bucket}`)).map((r) => `${r.method} ${r.path}`);
}

async function head(bucket: string, key: string) {
  const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { size: h.ContentLength, contentType: h.ContentType, cacheControl: h.CacheControl, sse: h.ServerSideEncryption, sha256: h.Metadata?.sha256 };
}

async function body(bucket: string, key: string): Promise<string> {
  return (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString('base64'));
}

describe('images migrate: --plan-out, then apply', () => {
  it('the plan file writes nothing; apply reaches the direct command\'s end state (objects, headers, SSE, manifest); a second apply is refused', async () => {
    const dir = await workspace('pimg-apply');
    const twin = await workspace('pimg-direct');
    // one key already holds other bytes: replaced, under If-Match
    // and one already holds the same bytes (same size, no journal): compared by content, as in a dry run, and left alone
    const same = await readFile(path.join(dir, 'media', 'p', 'i05.png'));
    for (const b of ['pimg-apply', 'pimg-direct']) {
      await s3.send(new PutObjectCommand({ Bucket: b, Key: 'p/i00.png', Body: 'old bytes' }));
      await s3.send(new PutObjectCommand({ Bucket: b, Key: 'p/i05.png', Body: same }));
    }
    await control.clearRequests();
    const planned = await run(dir, ['images', 'migrate', 'media', '--bucket', 'pimg-apply', '--manifest', 'images.csv', '--plan-out', 'plan.json', '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(JSON.parse(planned.stdout)).toMatchObject({ ok: true, kind: 'images.migrate', applied: false });
    expect(await writes('pimg-apply')).toEqual([]);
    expect(await keys('pimg-apply')).toEqual(['p/i00.png', 'p/i05.png']); // no lock taken
    await expect(readFile(path.join(dir, 'images.csv'))).rejects.toThrow();

    const file = JSON.parse(await readFile(path.join(dir, 'plan.json'), 'utf8')) as { preconditions: { id: string; value: unknown }[]; actions: { call: string; params: Record<string, unknown> }[]; plan: { items: unknown[]; run: Record<string, unknown> } };
    const names = Array.from({ length: 6 }, (_, i) => `p/i${String(i).padStart(2, '0')}.png`);
    expect(file.preconditions.map((p) => p.id).sort()).toEqual([...names.map((k) => `s3:pimg-apply/${k}`), ...names.slice(0, 5).map((k) => `source:${k}`)].sort());
    expect(file.preconditions.find((p) => p.id === 's3:pimg-apply/p/i00.png')!.value).toEqual({ size: 9, etag: expect.any(String) });
    expect(file.preconditions.find((p) => p.id === 's3:pimg-apply/p/i01.png')!.value).toBeNull();
    expect(file.preconditions.find((p) => p.id === 'source:p/i01.png')!.value).toEqual({ size: (await readFile(path.join(dir, 'media', 'p', 'i01.png'))).length, sha256: createHash('sha256').update(await readFile(path.join(dir, 'media', 'p', 'i01.png'))).digest('hex') });
    expect(file.plan.items).toHaveLength(6);
    expect(file.plan.run).toMatchObject({ manifest: path.join(dir, 'images.csv'), lockExpiryMs: 120_000 });
    expect(file.actions.find((a) => a.params.Key === 'p/i00.png')!.params).toMatchObject({ IfMatch: expect.any(String) });
    expect(file.actions.find((a) => a.params.Key === 'p/i01.png')!.params).toMatchObject({ IfNoneMatch: '*' });

    const shown = await run(dir, ['plan', 'show', 'plan.json', '--markdown']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('| key | source | action | Content-Type | Cache-Control |');
    expect(shown.stdout).toMatch(/4 new, 1 to replace, 1 unchanged/);

    const applied = await run(dir, ['apply', 'plan.json', '--yes', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ ok: true, kind: 'images.migrate', counts: { uploaded: 5, skipped: 1, failed: 0 }, manifest: 'images.csv', lock: { released: true } });
    const direct = await run(twin, ['images', 'migrate', 'media', '--bucket', 'pimg-direct', '--manifest', 'images.csv', '--yes', '--json']);
    expect(direct.code, direct.stderr).toBe(0);
    expect(await keys('pimg-apply')).toEqual(names);
    for (const k of names) expect(await head('pimg-apply', k)).toEqual(await head('pimg-direct', k));
    expect((await head('pimg-apply', 'p/i00.png')).contentType).toBe('image/png');
    expect((await head('pimg-apply', 'p/i00.png')).sse).toBe('AES256');
    const manifest = async (d: string, b: string) => (await readFile(path.join(d, 'images.csv'), 'utf8')).replaceAll(b, 'BUCKET');
    expect(await manifest(dir, 'pimg-apply')).toBe(await manifest(twin, 'pimg-direct'));

    // the same plan again: refused on this host by its record; on another, every key it planned absent exists now
    await control.clearRequests();
    const spent = await run(dir, ['apply', 'plan.json', '--yes']);
    expect([spent.code, spent.stderr]).toEqual([1, expect.stringContaining('already applied at')]);
    const twice = await run(dir, ['apply', 'plan.json', '--yes'], { env: otherHost() });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('things this plan was computed from changed since it was made: not applied, nothing was changed');
    expect(twice.stderr).toContain('s3://pimg-apply/p/i01.png: absent when planned, now');
    expect(await writes('pimg-apply')).toEqual([]);
  });

  it('refuses a plan whose object was overwritten, whose source image changed, that was edited or has expired, with nothing written', async () => {
    const dir = await workspace('pimg-stale', 3);
    const plan = async (name: string, extra: string[] = []) => {
      const r = await run(dir, ['images', 'migrate', 'media', '--bucket', 'pimg-stale', '--plan-out', name, ...extra]);
      expect(r.code, r.stderr).toBe(0);
    };
    await plan('object.json');
    await plan('expired.json', ['--plan-ttl', '1ms']);
    const edited = JSON.parse(await readFile(path.join(dir, 'object.json'), 'utf8')) as { plan: { items: { key: string }[] } };
    edited.plan.items[0]!.key = 'p/elsewhere.png';
    await writeFile(path.join(dir, 'edited.json'), JSON.stringify(edited));
    await s3.send(new PutObjectCommand({ Bucket: 'pimg-stale', Key: 'p/i01.png', Body: 'written by someone else' }));
    await control.clearRequests();

    const overwritten = await run(dir, ['apply', 'object.json', '--yes']);
    expect(overwritten.code).toBe(1);
    expect(overwritten.stderr).toContain('s3://pimg-stale/p/i01.png: absent when planned, now');
    const tampered = await run(dir, ['apply', 'edited.json', '--yes']);
    expect(tampered.code).toBe(2);
    expect(tampered.stderr).toContain('digest does not match its content');
    const expired = await run(dir, ['apply', 'expired.json', '--yes']);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(/expired at \S+ .*re-plan, nothing was changed/);
    expect(await writes('pimg-stale')).toEqual([]);

    // a source image modified after the plan (same size: only its sha256 tells)
    await plan('source.json');
    const file = path.join(dir, 'media', 'p', 'i02.png');
    const bytes = await readFile(file);
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff;
    await writeFile(file, bytes);
    await control.clearRequests();
    const changed = await run(dir, ['apply', 'source.json', '--yes']);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain('source image p/i02.png: changed: sha256:');
    expect(await writes('pimg-stale')).toEqual([]);
    expect(await body('pimg-stale', 'p/i01.png')).toBe(Buffer.from('written by someone else').toString('base64'));

    // an http(s) origin cannot be planned for review: exit 2, one line, no plan file
    await writeFile(path.join(dir, 'remote.csv'), 'image,sku,category\np/i00.png,sku-1,shoes\n');
    const remote = await run(dir, ['images', 'migrate', 'http://127.0.0.1:9/media/', '--catalog', 'remote.csv', '--bucket', 'pimg-stale', '--plan-out', 'remote.json']);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toContain('--plan-out: an http(s) source cannot be planned for review');
    await expect(readFile(path.join(dir, 'remote.json'))).rejects.toThrow();
  });

  it('an object written after the preconditions were checked: the conditional PUT is refused, that image fails as changed since the plan', async () => {
    const dir = await workspace('pimg-race', 2);
    const planned = await run(dir, ['images', 'migrate', 'media', '--bucket', 'pimg-race', '--plan-out', 'plan.json']);
    expect(planned.code, planned.stderr).toBe(0);
    // apply's PUT of p/i00.png is held in transit; meanwhile another writer creates the key
    await control.fault({ service: 's3', method: 'PUT', path: '^/pimg-race/p/i00\\.png', times: 1, delayMs: 1000, forward: true });
    try {
      await control.clearRequests();
      const applying = run(dir, ['apply', 'plan.json', '--yes', '--json']);
      // the shim logs a request when it arrives: apply's PUT is on the wire, held, after its preconditions held
      const deadline = Date.now() + 10_000;
      while (!(await control.requests()).some((r) => r.method === 'PUT' && r.path.startsWith('/pimg-race/p/i00.png'))) {
        expect(Date.now(), 'apply never sent its PUT of p/i00.png').toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 25));
      }
      await s3.send(new PutObjectCommand({ Bucket: 'pimg-race', Key: 'p/i00.png', Body: 'the other writer' }));
      const applied = await applying;
      expect(applied.code, applied.stderr).toBe(4);
      const doc = JSON.parse(applied.stdout) as { counts: Record<string, number>; failed: { key: string; reason: string }[] };
      expect(doc.counts).toMatchObject({ uploaded: 1, failed: 1 });
      expect(doc.failed).toEqual([{ source: 'p/i00.png', key: 'p/i00.png', reason: expect.stringContaining('changed since the plan was made') }]);
    } finally {
      await control.clearFaults();
    }
    expect(await body('pimg-race', 'p/i00.png')).toBe(Buffer.from('the other writer').toString('base64'));
  });

  it('Ctrl-C during apply: exit 130, the lock released; the plan is then refused with nothing uploaded again', async () => {
    const dir = await workspace('pimg-int', 30);
    const planned = await run(dir, ['images', 'migrate', 'media', '--bucket', 'pimg-int', '--concurrency', '2', '--plan-out', 'plan.json']);
    expect(planned.code, planned.stderr).toBe(0);
    await control.fault({ service: 's3', method: 'PUT', path: '^/pimg-int/p/', times: 0, delayMs: 100, forward: true });
    let first;
    try {
      // the signal once some images are on their way (each PUT is held 100 ms), not at a time a busy runner may not have reached
      first = await run(dir, ['apply', 'plan.json', '--yes'], { signalWhen: async () => (await control.requests()).filter((r) => r.method === 'PUT' && r.path.startsWith('/pimg-int/p/')).length >= 4 });
    } finally {
      await control.clearFaults();
    }
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).not.toMatch(/\n\s+at /);
    await new Promise((r) => setTimeout(r, 400)); // requests already sent still land through the shim
    const partial = await keys('pimg-int');
    expect(partial).not.toContain(LOCK);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(30);
    await control.clearRequests();
    const spent = await run(dir, ['apply', 'plan.json', '--yes']);
    expect([spent.code, spent.stderr]).toEqual([1, expect.stringContaining('already applied at')]);
    const rerun = await run(dir, ['apply', 'plan.json', '--yes'], { env: otherHost() });
    expect(rerun.code).toBe(1);
    expect(rerun.stderr).toContain('changed since it was made: not applied, nothing was changed');
    expect(await writes('pimg-int')).toEqual([]);
    expect(await keys('pimg-int')).toEqual(partial);
  });
});
