/**
 * The images migration plan as data (src/lib/images/migration-plan.ts): what planMigration makes of
 * gathered inputs, with no I/O and without changing them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKeyRules, parseTemplate } from '../../src/lib/images/keys.js';
import { planMigration, type MigrationInputs } from '../../src/lib/images/migration-plan.js';
import { decideActions, planKeys, type ExistingObject, type JournalEntry } from '../../src/lib/images/plan.js';
import type { SourceImage } from '../../src/lib/images/source.js';

beforeAll(loadKeyRules);

const PATHS = parseTemplate('{dir}/{name}.{ext}');
const HASHED = parseTemplate('{dir}/{name}-{hash}.{ext}');
const img = (path: string, size = 100, mtimeMs = 1000): SourceImage => ({ path, root: '/src', size, mtimeMs });
const sha = (c: string) => c.repeat(64);

/** Keys and actions as gather makes them: planKeys, then decideActions against a listing and a journal. */
function inputs(options: { images: SourceImage[]; existing?: [string, ExistingObject][]; journal?: JournalEntry[]; hashes?: [string, string][]; template?: typeof PATHS; force?: boolean }): MigrationInputs {
  const template = options.template ?? PATHS;
  const hashes = options.hashes ? new Map(options.hashes) : undefined;
  const keyed = planKeys({ images: options.images, template, prefix: 'catalog/', cacheControl: 'public, max-age=86400', cacheRules: [{ glob: '**/*.svg', cacheControl: 'public, max-age=60' }], ...(hashes ? { hashes } : {}) });
  decideActions(keyed, { existing: new Map(options.existing ?? []), journal: new Map((options.journal ?? []).map((e) => [e.key, e])), force: options.force ?? false, ...(hashes ? { hashes } : {}) });
  return {
    migration: { source: '/src', bucket: 'shop-images', prefix: 'catalog/', template, cacheControl: 'public, max-age=86400', sse: 'AES256', kmsKeyId: undefined, concurrency: 64, distributionId: undefined },
    keyed,
    ...(hashes ? { hashes } : {}),
    unfinished: [],
  };
}

describe('planMigration', () => {
  const journal: JournalEntry = { key: 'catalog/same.jpg', source: 'same.jpg', size: 300, mtimeMs: 1000, sha256: sha('c'), etag: 'e-same', contentType: 'image/jpeg' };
  const world = () =>
    inputs({
      images: [img('new.jpg', 100), img('bigger.png', 200), img('same.jpg', 300), img('sized.gif', 400), img('empty.jpg', 0), img('icons/logo.svg', 50)],
      existing: [
        ['catalog/bigger.png', { size: 150, etag: 'e-bigger' }],
        ['catalog/same.jpg', { size: 300, etag: 'e-same' }],
        ['catalog/sized.gif', { size: 400, etag: 'e-sized' }],
        ['catalog/stray.jpg', { size: 1, etag: 'e-stray' }],
      ],
      journal: [journal],
    });

  it('is plain data with kind images.migrate and version 1: a JSON round trip gives it back unchanged', () => {
    const plan = planMigration({ ...world(), unfinished: [{ key: 'catalog/new.jpg', uploadId: 'u-1' }], heldLock: { body: Buffer.from('not json') }, cdnDomain: 'cdn.example.com' });
    expect(plan).toMatchObject({ kind: 'images.migrate', version: 1, source: '/src', bucket: 'shop-images', prefix: 'catalog/', keyTemplate: '{dir}/{name}.{ext}', sse: 'AES256', kmsKeyId: null, cdnDomain: 'cdn.example.com', unfinishedUploads: 1, lock: { unreadable: true } });
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it('carries, for every planned key, the object listed at plan time or "absent" (keys outside the plan are not in it)', () => {
    const plan = planMigration(world());
    expect(plan.preconditions.objects).toEqual([
      { key: 'catalog/new.jpg', listed: 'absent' },
      { key: 'catalog/bigger.png', listed: { size: 150, etag: 'e-bigger' } },
      { key: 'catalog/same.jpg', listed: { size: 300, etag: 'e-same' } },
      { key: 'catalog/sized.gif', listed: { size: 400, etag: 'e-sized' } },
      { key: 'catalog/empty.jpg', listed: 'absent' },
      { key: 'catalog/icons/logo.svg', listed: 'absent' },
    ]);
  });

  it('carries each source file\'s size, mtime and the sha256 planning already has: the journal\'s for a proven unchanged file, else null (no file is read for it)', () => {
    const plan = planMigration(world());
    expect(plan.preconditions.sources).toEqual([
      { path: 'new.jpg', size: 100, mtimeMs: 1000, sha256: null },
      { path: 'bigger.png', size: 200, mtimeMs: 1000, sha256: null },
      { path: 'same.jpg', size: 300, mtimeMs: 1000, sha256: sha('c') },
      { path: 'sized.gif', size: 400, mtimeMs: 1000, sha256: null },
      { path: 'empty.jpg', size: 0, mtimeMs: 1000, sha256: null },
      { path: 'icons/logo.svg', size: 50, mtimeMs: 1000, sha256: null },
    ]);
    // a journal entry that no longer proves the file (it changed since) is not taken as its hash
    const changed = planMigration(inputs({ images: [img('same.jpg', 300, 2000)], existing: [['catalog/same.jpg', { size: 300, etag: 'e-same' }]], journal: [journal] }));
    expect(changed.items[0]!.action).toBe('check');
    expect(changed.preconditions.sources).toEqual([{ path: 'same.jpg', size: 300, mtimeMs: 2000, sha256: null }]);
  });

  it('a {hash} template\'s hashes are every source\'s sha256', () => {
    const plan = planMigration(inputs({ images: [img('a.jpg'), img('b.png')], template: HASHED, hashes: [['a.jpg', sha('a')], ['b.png', sha('b')]] }));
    expect(plan.preconditions.sources.map((s) => s.sha256)).toEqual([sha('a'), sha('b')]);
    expect(plan.actions.uploads.map((u) => u.key)).toEqual(['catalog/a-aaaaaaaaaaaa.jpg', 'catalog/b-bbbbbbbbbbbb.png']);
  });

  it('lists the uploads (key → source, Content-Type, Cache-Control), leaving out the unchanged and the empty', () => {
    const plan = planMigration(world());
    expect(plan.counts).toEqual({ upload: 2, replace: 1, skip: 1, check: 1, empty: 1 });
    expect(plan.actions.uploads).toEqual([
      { key: 'catalog/new.jpg', source: 'new.jpg', contentType: null, cacheControl: 'public, max-age=86400', action: 'upload' },
      { key: 'catalog/bigger.png', source: 'bigger.png', contentType: null, cacheControl: 'public, max-age=86400', action: 'replace' },
      { key: 'catalog/sized.gif', source: 'sized.gif', contentType: null, cacheControl: 'public, max-age=86400', action: 'check' },
      { key: 'catalog/icons/logo.svg', source: 'icons/logo.svg', contentType: null, cacheControl: 'public, max-age=60', action: 'upload' },
    ]);
    expect(plan.actions.abortMultipartUploads).toEqual([]);
    expect(plan.actions.invalidation).toBeNull(); // no --invalidate
  });

  it('a dry run\'s content comparison decides the `check` items: an equal one is unchanged (with what was found), a different one replaced with its type and hash', () => {
    const input = inputs({ images: [img('a.gif', 400), img('b.gif', 400)], existing: [['catalog/a.gif', { size: 400, etag: 'e-a' }], ['catalog/b.gif', { size: 400, etag: 'e-b' }]] });
    const before = structuredClone(input.keyed.items);
    const plan = planMigration({ ...input, settled: new Map([['catalog/a.gif', { action: 'skip', sha256: sha('a'), contentType: 'image/gif' }], ['catalog/b.gif', { action: 'replace', sha256: sha('b'), contentType: 'image/png' }]]) });
    expect(plan.counts).toMatchObject({ skip: 1, replace: 1, check: 0 });
    expect(plan.bytes).toEqual({ total: 800, toUpload: 400 });
    expect(plan.items[0]).toMatchObject({ action: 'skip', known: { key: 'catalog/a.gif', source: 'a.gif', size: 400, mtimeMs: 1000, sha256: sha('a'), etag: 'e-a', contentType: 'image/gif' } });
    expect(plan.actions.uploads).toEqual([{ key: 'catalog/b.gif', source: 'b.gif', contentType: 'image/png', cacheControl: 'public, max-age=86400', action: 'replace' }]);
    expect(plan.preconditions.sources.map((s) => s.sha256)).toEqual([sha('a'), sha('b')]);
    // pure: the gathered items are as they were
    expect(input.keyed.items).toEqual(before);
  });

  it('the unfinished multipart uploads to abort, and the invalidation of every key planned to be replaced', () => {
    const input = world();
    const plan = planMigration({ ...input, migration: { ...input.migration, distributionId: 'E2DEMODIST' }, unfinished: [{ key: 'catalog/new.jpg', uploadId: 'u-1' }] });
    expect(plan.actions.abortMultipartUploads).toEqual([{ key: 'catalog/new.jpg', uploadId: 'u-1' }]);
    // replaced for sure, or if its content differs; never a new key
    expect(plan.actions.invalidation).toEqual({ distributionId: 'E2DEMODIST', paths: ['/catalog/bigger.png', '/catalog/sized.gif'] });
    const nothingReplaced = planMigration({ ...inputs({ images: [img('new.jpg')] }), migration: { ...input.migration, distributionId: 'E2DEMODIST' } });
    expect(nothingReplaced.actions.invalidation).toBeNull();
  });
});
