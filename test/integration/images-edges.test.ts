/**
 * images migrate / verify at the edges, against moto through the shim: output paths that cannot be
 * written (found before the lock and before any S3 request), manifests that are not manifests, empty
 * and symlinked images, hostile file names in the manifest, the redirect map and the terminal, an S3
 * BadDigest, and the -vv trace of the upload path.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsErrors } from '../support/emulator.js';
import { jpeg, png } from '../support/images.js';
import { runInProcess } from '../support/streams.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, control } = useEmulator();
const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true });
afterAll(() => s3.destroy());

const LOCK = '.retailctl-lock';
let dir: string;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function run(args: string[]) {
  return runInProcess([...args, '--endpoint-url', endpoint], { env: { CI: 'true', AWS_REGION: 'us-east-1' }, cwd: dir });
}
function migrate(source: string, bucket: string, args: string[]) {
  return run(['images', 'migrate', source, '--bucket', bucket, '--state-dir', `state-${bucket}`, ...args]);
}

/** Every request the shim saw for S3. */
async function s3Requests(): Promise<string[]> {
  return (await control.requests()).filter((r) => r.service === 's3').map((r) => `${r.method} ${r.path}`);
}

async function keys(bucket: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => o.Key!).filter((k) => !k.endsWith(LOCK)).sort();
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => /^(\S+Z )?error: /.test(l));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-images-edges-'));
  await mkdir(path.join(dir, 'media'), { recursive: true });
  await writeFile(path.join(dir, 'media', 'a.jpg'), jpeg(900, 1));
  await writeFile(path.join(dir, 'media', 'b.png'), png(800, 2));
  await writeFile(path.join(dir, 'catalog.csv'), 'image,sku,category\na.jpg,SKU-1,Shoes\nb.png,SKU-2,Bags\n');
  await mkdir(path.join(dir, 'out-dir'));
  if (spawnSync('mkfifo', [path.join(dir, 'pipe.csv')]).status !== 0) throw new Error('mkfifo failed');
  for (const b of ['outputs', 'state', 'verify', 'empty', 'names', 'digest', 'trace', 'ansi']) await s3.send(new CreateBucketCommand({ Bucket: b }));
});

describe('images migrate: outputs that cannot be written are exit 2 naming the flag, before the lock and before any S3 request', () => {
  const cases: { name: string; args: () => string[]; message: string | RegExp }[] = [
    { name: '--manifest a directory', args: () => ['--manifest', 'out-dir'], message: /^error: --manifest out-dir: is a directory/ },
    { name: '--manifest a device', args: () => ['--manifest', '/dev/null'], message: /^error: --manifest \/dev\/null: is under \/dev or \/proc/ },
    { name: '--manifest a FIFO', args: () => ['--manifest', 'pipe.csv'], message: /^error: --manifest pipe\.csv: is not a regular file/ },
    { name: '--manifest under a directory that cannot be created (/proc/nope/x)', args: () => ['--manifest', '/proc/nope/x.csv'], message: /^error: --manifest \/proc\/nope\/x\.csv: is under \/dev or \/proc/ },
    { name: '--manifest in a directory that cannot be written (/proc/self)', args: () => ['--manifest', '/proc/self/x.csv'], message: /^error: --manifest \/proc\/self\/x\.csv: is under \/dev or \/proc/ },
    { name: '--manifest under a file', args: () => ['--manifest', 'catalog.csv/x.csv'], message: /^error: --manifest catalog\.csv\/x\.csv: .*catalog\.csv is not a directory/ },
    { name: '--manifest -', args: () => ['--manifest', '-'], message: /^error: --manifest -: cannot go to stdout/ },
    { name: '--redirects a device', args: () => ['--redirects', '/dev/null'], message: /^error: --redirects \/dev\/null: is under \/dev or \/proc/ },
    { name: '--redirects whose JSON twin is a directory', args: () => ['--redirects', 'out-dir.map'], message: /^error: --redirects out-dir\.json: is a directory/ },
    { name: '--manifest and --redirects the same file', args: () => ['--manifest', 'same.map', '--redirects', 'same.map'], message: /^error: --redirects same\.map writes same\.map and same\.json: one of them is the --manifest file/ },
    { name: '--manifest the catalogue', args: () => ['--catalog', 'catalog.csv', '--manifest', 'catalog.csv'], message: /^error: --manifest catalog\.csv: is the catalogue \(--catalog\)/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await mkdir(path.join(dir, 'out-dir.json'), { recursive: true });
      const catalogue = await readFile(path.join(dir, 'catalog.csv'));
      await control.clearRequests();
      const r = await migrate('media', 'outputs', [...c.args(), '--yes']);
      expect(r.code, r.stderr).toBe(2);
      expect(errorLines(r.stderr), r.stderr).toHaveLength(1);
      expect(errorLines(r.stderr)[0]!.replace(/^\S+Z /, '')).toMatch(c.message);
      expect(await s3Requests()).toEqual([]);
      expect(await keys('outputs')).toEqual([]);
      expect(existsSync(path.join(dir, 'state-outputs', 'images'))).toBe(false); // no local lock was taken
      expect((await readFile(path.join(dir, 'catalog.csv'))).equals(catalogue)).toBe(true);
      expect(existsSync(path.join(dir, 'same.map'))).toBe(false);
    });
  }

  it('--manifest and --redirects the same file through a symlink: exit 2 before any request', async () => {
    await symlink('r.map', path.join(dir, 'link.csv'));
    await control.clearRequests();
    const r = await migrate('media', 'outputs', ['--manifest', 'link.csv', '--redirects', 'r.map', '--yes']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('error: --redirects r.map writes r.map and r.json: one of them is the --manifest file');
    expect(await s3Requests()).toEqual([]);
  });

  it('the check creates nothing: a manifest in directories that do not exist yet is written there after the upload', async () => {
    const r = await migrate('media', 'outputs', ['--manifest', 'new/deeper/m.csv', '--redirects', 'new/r.map', '--cdn-domain', 'cdn.example.com', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(path.join(dir, 'new/deeper/m.csv'), 'utf8')).split('\n')[0]).toBe('source,key,url,size,sha256,contentType,status,reason,bucket');
    expect((await readdir(path.join(dir, 'new'))).sort()).toEqual(['deeper', 'r.json', 'r.map']);
    // a dry run with the same outputs checks them and leaves nothing behind
    const dry = await migrate('media', 'outputs', ['--manifest', 'other/m.csv', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'other'))).toBe(false);
  });

  it('--state-dir /proc/self: exit 2 naming the flag within seconds (no endless mkdir), nothing written to S3', async () => {
    await control.clearRequests();
    const started = Date.now();
    const r = await migrate('media', 'state', ['--state-dir', '/proc/self', '--yes']);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/error: --state-dir \/proc\/self: cannot create the directory for \/proc\/self\/images\/state\.lock \(ENOENT\)/);
    expect((await s3Requests()).filter((q) => !q.startsWith('GET '))).toEqual([]);
    expect(await keys('state')).toEqual([]);
  });
});

describe('images verify: a file that is not a manifest, or one with nothing to verify, is not "all 0 objects match"', () => {
  const verify = (manifest: string, extra: string[] = []) => run(['images', 'verify', '--manifest', manifest, ...extra]);

  it('a warehouse export (no manifest columns): exit 2 naming the missing columns, no S3 request', async () => {
    await writeFile(path.join(dir, 'wms.csv'), 'sku,location,qty_on_hand\nSER-001,DC1,4\n');
    await control.clearRequests();
    const r = await verify('wms.csv');
    expect(r.code, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('error: --manifest wms.csv: not a manifest written by images migrate --manifest: missing columns key, size, sha256, status, bucket (it has sku, location, qty_on_hand)');
    expect(r.stdout).not.toContain('match');
    expect(await s3Requests()).toEqual([]);
    // with --bucket only the others are missing; a JSON array of other objects the same
    await writeFile(path.join(dir, 'orders.json'), JSON.stringify([{ order: 1, sku: 'A' }]));
    const json = await verify('orders.json', ['--bucket', 'verify']);
    expect(json.code, json.stderr).toBe(2);
    expect(json.stderr).toContain('error: --manifest orders.json: not a manifest written by images migrate --manifest: missing columns key, size, sha256, status (it has order, sku)');
  });

  it('a header-only manifest, an empty JSON array, or rows none of which was uploaded: exit 5 "nothing was verified"', async () => {
    await writeFile(path.join(dir, 'header-only.csv'), 'source,key,url,size,sha256,contentType,status,reason,bucket\n');
    await writeFile(path.join(dir, 'none.json'), '[]\n');
    await writeFile(path.join(dir, 'failed.csv'), 'source,key,url,size,sha256,contentType,status,reason,bucket\na.jpg,a.jpg,,0,,,empty,empty file,verify\nb.jpg,b.jpg,,5,,,failed,AccessDenied,verify\n');
    const header = await verify('header-only.csv', ['--json']);
    expect(header.code, header.stderr).toBe(5);
    expect(header.stderr).toContain('error: --manifest header-only.csv has no rows (a header only): nothing was verified');
    expect(JSON.parse(header.stdout)).toMatchObject({ error: { code: 'IMAGES_NOTHING_VERIFIED' } });
    const none = await verify('none.json');
    expect(none.code).toBe(5);
    expect(none.stderr).toContain('error: --manifest none.json has no rows (a header only): nothing was verified');
    const failed = await verify('failed.csv');
    expect(failed.code).toBe(5);
    expect(failed.stderr).toContain('error: --manifest failed.csv has 2 rows, none uploaded or unchanged (1 empty, 1 failed): nothing was verified');
  });

  it('a missing manifest, an empty file, a directory, a row with a size that is not a number: exit 2 naming --manifest', async () => {
    const missing = await verify('nope.csv');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: --manifest nope.csv: no such file');
    await writeFile(path.join(dir, 'zero.csv'), '');
    const zero = await verify('zero.csv');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('error: --manifest zero.csv: the file is empty');
    const isDir = await verify('out-dir');
    expect(isDir.code).toBe(2);
    expect(isDir.stderr).toContain('error: --manifest out-dir: is a directory');
    await writeFile(path.join(dir, 'odd.csv'), `key,size,sha256,status,bucket\na.jpg,big,${'a'.repeat(64)},uploaded,verify\n`);
    const odd = await verify('odd.csv');
    expect(odd.code).toBe(2);
    expect(odd.stderr).toContain('error: odd.csv:2: size big is not a number of bytes');
  });
});

describe('images migrate: empty and symlinked images', () => {
  it('a 0-byte image is not uploaded (an object at its key is left alone), reported as empty in counts, --json, the manifest and on stderr, and kept out of the redirects; symlinks are skipped, counted and listed; exit 0', async () => {
    const root = path.join(dir, 'with-empties');
    await mkdir(path.join(root, 'sub'), { recursive: true });
    const good = jpeg(1200, 7);
    await writeFile(path.join(root, 'good.jpg'), good);
    await writeFile(path.join(root, 'empty.jpg'), '');
    await writeFile(path.join(root, 'sub', 'zero.png'), '');
    await writeFile(path.join(root, 'keep.jpg'), '');
    await symlink('good.jpg', path.join(root, 'link.jpg'));
    await symlink('/etc/hostname', path.join(root, 'outside.jpg'));
    await symlink('sub', path.join(root, 'linkdir'));
    const { PutObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const kept = png(500, 3);
    await s3.send(new PutObjectCommand({ Bucket: 'empty', Key: 'keep.jpg', Body: kept }));

    const dry = await migrate(root, 'empty', ['--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.plan.counts).toEqual({ upload: 1, replace: 0, skip: 0, check: 0, empty: 3 });
    expect(plan.audit).toMatchObject({ symlinksSkipped: 3, symlinks: ['link.jpg', 'linkdir', 'outside.jpg'] });

    const r = await migrate(root, 'empty', ['--manifest', 'empty.csv', '--redirects', 'empty-redirects.map', '--cdn-domain', 'cdn.example.com', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.counts).toEqual({ uploaded: 1, skipped: 0, failed: 0, missing: 0, empty: 3, symlinks: 3 });
    expect(doc.empty).toEqual([
      { source: 'empty.jpg', key: 'empty.jpg' },
      { source: 'keep.jpg', key: 'keep.jpg' },
      { source: 'sub/zero.png', key: 'sub/zero.png' },
    ]);
    expect(doc.audit.symlinks).toEqual(['link.jpg', 'linkdir', 'outside.jpg']);
    expect(r.stderr).toContain('warning: empty: empty.jpg is 0 bytes: not uploaded');
    expect(r.stderr).toContain('warning: empty: keep.jpg is 0 bytes: not uploaded (the object at keep.jpg is left as it is)');
    expect(r.stderr).toContain('symlinks skipped: 3 (not followed, not uploaded; e.g. link.jpg, linkdir, outside.jpg)');
    expect(await keys('empty')).toEqual(['good.jpg', 'keep.jpg']);
    const held = await s3.send(new GetObjectCommand({ Bucket: 'empty', Key: 'keep.jpg' }));
    expect(Buffer.from(await held.Body!.transformToByteArray()).equals(kept)).toBe(true);

    const manifest = (await readFile(path.join(dir, 'empty.csv'), 'utf8')).trim().split('\n');
    expect(manifest).toContain('empty.jpg,empty.jpg,,0,,,empty,empty file (0 bytes): not uploaded,empty');
    expect(manifest).toContain(`good.jpg,good.jpg,https://cdn.example.com/good.jpg,1200,${sha(good)},image/jpeg,uploaded,,empty`);
    expect(manifest).toHaveLength(5);
    expect(JSON.parse(await readFile(path.join(dir, 'empty-redirects.json'), 'utf8'))).toEqual({ '/good.jpg': 'https://cdn.example.com/good.jpg' });

    const text = await migrate(root, 'empty', ['--yes']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/0 uploaded \(0 B\), 1 unchanged, 0 failed, 3 empty \(not uploaded\), symlinks skipped: 3 in /);
  });
});

describe('hostile file names: the manifest, the redirect map and the terminal', () => {
  const names = ['=HYPERLINK("evil.example?x","click").jpg', '+cmd.jpg', '@SUM(1+1).jpg', '-2+3.jpg', 'a b;c{d}"e$f\\g\'.jpg', 'new\nline.jpg', 'tab\there.jpg'];

  it('formula-leading names get a leading quote in the CSV manifest; the nginx map has one quoted pair per line whatever the name; verify reads the quoted cells back', async () => {
    const root = path.join(dir, 'hostile');
    await mkdir(root, { recursive: true });
    for (const [i, n] of names.entries()) await writeFile(path.join(root, n), jpeg(600 + i, 20 + i));
    const r = await migrate(root, 'names', ['--prefix', '-edge', '--manifest', 'names.csv', '--redirects', 'names.map', '--redirect-from', '/media', '--cdn-domain', 'cdn.example.com', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).counts).toMatchObject({ uploaded: names.length, failed: 0 });

    const { parse } = await import('csv-parse/sync');
    const rows = parse(await readFile(path.join(dir, 'names.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    const sources = rows.map((row) => row.source).sort();
    expect(sources).toEqual(
      ["'+cmd.jpg", "'-2+3.jpg", '\'=HYPERLINK("evil.example?x","click").jpg', "'@SUM(1+1).jpg", 'a b;c{d}"e$f\\g\'.jpg', 'new\nline.jpg', 'tab\there.jpg'].sort(),
    );
    // every key starts with the prefix "-edge/": a formula-leading cell too
    expect(rows.every((row) => row.key!.startsWith("'-edge/"))).toBe(true);
    for (const row of rows) expect(row.url).toMatch(/^https:\/\/cdn\.example\.com\/-edge\/[a-z0-9._-]+$/);

    const map = (await readFile(path.join(dir, 'names.map'), 'utf8')).split('\n');
    expect(map.at(-1)).toBe('');
    expect(map[0]).toMatch(/^# generated by retailctl/);
    const pairs = map.slice(1, -1);
    expect(pairs).toHaveLength(names.length);
    for (const line of pairs) expect(line).toMatch(/^"\/media\/[A-Za-z0-9%._~!*'()-]+" "https:\/\/cdn\.example\.com\/-edge\/[a-z0-9._-]+";$/);
    const json = JSON.parse(await readFile(path.join(dir, 'names.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(json).map((k) => decodeURIComponent(k.replace(/^\/media\//, ''))).sort()).toEqual([...names].sort());

    const verified = await run(['images', 'verify', '--manifest', 'names.csv', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ checked: names.length, mismatches: 0 });
  });

  it('on the terminal a name with a newline stays on its line (no forged "error:" line) and control characters are shown escaped', async () => {
    const root = path.join(dir, 'hostile-terminal');
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'new\nline.jpg'), jpeg(700, 31));
    await writeFile(path.join(root, 'tab\there.jpg'), jpeg(710, 32));
    await writeFile(path.join(root, 'x\nerror: forged.jpg'), '');
    const dry = await migrate(root, 'names', ['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('  new\\nline.jpg → new-line.jpg  [upload]');
    expect(dry.stdout).toContain('  tab\\there.jpg → tab-here.jpg  [upload]');
    const r = await migrate(root, 'names', ['--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: empty: x\\nerror: forged.jpg is 0 bytes: not uploaded');
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.stdout + r.stderr + dry.stdout).not.toMatch(/^(line|error: forged)/m);
    expect(r.stdout + r.stderr + dry.stdout).not.toContain('\t');
  });

  it('a catalogue value holding ESC/OSC sequences reaches stderr escaped, not raw', async () => {
    const osc = '\x1b]8;;https://evil.example\x07click\x1b]8;;\x07';
    await writeFile(path.join(dir, 'ansi.csv'), `image,sku,category\na.jpg,SKU-1,Shoes\n"gone${osc}\x1b[2J.jpg",SKU-2,Bags\n`);
    const r = await migrate('media', 'ansi', ['--catalog', 'ansi.csv', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stderr).not.toContain('\x07');
    expect(r.stderr).toContain('catalogue rows whose image is not in the source: 1 (e.g. ansi.csv:3 gone\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\x1b[2J.jpg)');
  });
});

describe('S3 BadDigest on one image PUT', () => {
  it('that image fails with S3\'s reason in the manifest and --json, the others are uploaded, exit 4; the rerun uploads only it', async () => {
    await control.fault({ service: 's3', method: 'PUT', path: '^/digest/b\\.png$', times: 1, ...awsErrors.restXml('BadDigest', 'The SHA256 you specified did not match the calculated checksum.', 400) });
    try {
      const r = await migrate('media', 'digest', ['--manifest', 'digest.csv', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(4);
      const doc = JSON.parse(r.stdout);
      expect(doc.counts).toMatchObject({ uploaded: 1, failed: 1 });
      const reason = 'S3 refused the body: its checksum did not match (BadDigest: The SHA256 you specified did not match the calculated checksum. (HTTP 400)); the file changed while it was read, or the bytes were damaged on the way: rerun to upload it again';
      expect(doc.failed).toEqual([{ source: 'b.png', key: 'b.png', reason }]);
      expect(r.stderr).toContain(`warning: failed: b.png → b.png: ${reason}`);
      const { parse } = await import('csv-parse/sync');
      const rows = parse(await readFile(path.join(dir, 'digest.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
      expect(rows.find((row) => row.source === 'b.png')).toMatchObject({ status: 'failed', reason });
      expect(rows.find((row) => row.source === 'a.jpg')).toMatchObject({ status: 'uploaded' });
      expect(await keys('digest')).toEqual(['a.jpg']);
    } finally {
      await control.clearFaults();
    }
    await control.clearRequests();
    const again = await migrate('media', 'digest', ['--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ uploaded: 1, skipped: 1, failed: 0 });
    expect((await control.requests()).filter((q) => q.method === 'PUT' && !q.path.includes(LOCK)).map((q) => q.path)).toEqual(['/digest/b.png']);
    expect(await keys('digest')).toEqual(['a.jpg', 'b.png']);
  });
});

describe('-vv on the upload path', () => {
  it('logs one line per S3 request of the lean client, shaped like the SDK clients\' trace (operation, outcome, time, attempts, request id), never a signature or a credential; -v logs none', async () => {
    await control.fault({ service: 's3', method: 'PUT', path: '^/trace/a\\.jpg$', times: 1, status: 503, headers: { 'content-type': 'application/xml' }, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>' });
    await control.clearRequests();
    let r;
    try {
      r = await migrate('media', 'trace', ['--yes', '-vv']);
    } finally {
      await control.clearFaults();
    }
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').map((l) => l.replace(/^\S+Z /, '')).filter((l) => l.startsWith('aws: S3 '));
    for (const l of lines) expect(l).toMatch(/^aws: S3 [A-Za-z0-9]+ (ok|failed) in \d+ ms( after \d+ attempts)?( \(request id [^)\s]+\)|: \w+)?$/);
    const puts = lines.filter((l) => l.startsWith('aws: S3 PutObject ok'));
    // the two images and the lock: one line each, the throttled one after its retry
    expect(puts).toHaveLength(3);
    expect(puts.filter((l) => / after 2 attempts/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('aws: S3 ListObjectsV2 ok'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('aws: S3 DeleteObject ok'))).toHaveLength(1);
    // as many lines as requests answered (the throttled attempt is inside its request's line)
    const sent = (await control.requests()).filter((q) => q.service === 's3');
    expect(lines).toHaveLength(sent.length - 1);
    expect(r.stderr).not.toMatch(/Signature|AWS4-HMAC|Credential=|testing/);

    const quiet = await migrate('media', 'trace', ['--yes', '-v', '--force']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toContain('aws: S3 ');
  });
});
