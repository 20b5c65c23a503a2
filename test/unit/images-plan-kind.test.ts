/**
 * The images.migrate plan kind (src/lib/images/kind.ts) as data: the preconditions exactly, the
 * write calls with their conditions, the Markdown escaped, and a plan file missing what apply needs
 * refused with exit 2.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { migrateKind, migrationPreconditions, type MigrationPlanFile } from '../../src/lib/images/kind.js';
import { loadKeyRules, parseTemplate } from '../../src/lib/images/keys.js';
import { planMigration } from '../../src/lib/images/migration-plan.js';
import { decideActions, planKeys } from '../../src/lib/images/plan.js';

beforeAll(loadKeyRules);

const template = parseTemplate('{dir}/{name}.{ext}');
const run: MigrationPlanFile['run'] = { stateDir: '/w/.retailctl', shownStateDir: '.retailctl', stateFile: '/w/.retailctl/images/b.jsonl', manifest: '/w/images.csv', redirects: null, redirectFrom: '/', lockExpiryMs: 120_000, giveUpAfterMs: 30_000, waitMs: 0, audit: { missingImages: 0, unreferencedImages: 0, missing: [], unreferenced: [], ignoredFiles: 0, symlinks: [], symlinksSkipped: 0 } };

function plan(): MigrationPlanFile {
  const images = [
    { path: 'new.png', root: '/src', size: 10, mtimeMs: 1 },
    { path: 'old.png', root: '/src', size: 20, mtimeMs: 1 },
    { path: 'kept | <b>x</b>.png', root: '/src', size: 30, mtimeMs: 1 },
  ];
  const keyed = planKeys({ images, template, prefix: 'c/', cacheControl: 'public, max-age=86400', cacheRules: [] });
  const journal = new Map([[keyed.items[2]!.key, { key: keyed.items[2]!.key, source: images[2]!.path, size: 30, mtimeMs: 1, sha256: 'c'.repeat(64), etag: 'e-kept', contentType: 'image/png' }]]);
  decideActions(keyed, { existing: new Map([['c/old.png', { size: 5, etag: 'e-old' }], [keyed.items[2]!.key, { size: 30, etag: 'e-kept' }]]), journal, force: false });
  const p = planMigration({ migration: { source: '/src', bucket: 'b-images', prefix: 'c/', template, cacheControl: 'public, max-age=86400', sse: 'AES256', kmsKeyId: undefined, concurrency: 4, distributionId: undefined }, keyed, hashes: new Map([['new.png', 'a'.repeat(64)], ['old.png', 'b'.repeat(64)]]), unfinished: [] });
  return JSON.parse(JSON.stringify({ ...p, run })) as MigrationPlanFile;
}

describe('images.migrate plan kind', () => {
  it('preconditions: one per planned key (as listed, or null) and one per uploaded source file (size and sha256, no mtime)', () => {
    const p = plan();
    const kept = p.items[2]!.key;
    expect(migrationPreconditions(p)).toEqual([
      { id: 's3:b-images/c/new.png', what: 's3://b-images/c/new.png', value: null },
      { id: 's3:b-images/c/old.png', what: 's3://b-images/c/old.png', value: { size: 5, etag: 'e-old' } },
      { id: `s3:b-images/${kept}`, what: `s3://b-images/${kept}`, value: { size: 30, etag: 'e-kept' } },
      { id: 'source:new.png', what: 'source image new.png', value: { size: 10, sha256: 'a'.repeat(64) } },
      { id: 'source:old.png', what: 'source image old.png', value: { size: 20, sha256: 'b'.repeat(64) } },
    ]);
  });

  it('actions: every upload conditional on the object the plan saw; unchanged ones make no call', () => {
    const actions = migrateKind.actions(plan());
    expect(actions.map((a) => [a.call, a.target, (a.params as Record<string, unknown>).IfNoneMatch ?? (a.params as Record<string, unknown>).IfMatch])).toEqual([
      ['s3:PutObject', 's3://b-images/c/new.png', '*'],
      ['s3:PutObject', 's3://b-images/c/old.png', 'e-old'],
    ]);
    expect(migrateKind.question(plan())).toMatch(/^Upload up to 2 images \(.*\) to s3:\/\/b-images\/c\/\?$/);
    expect(migrateKind.noop(plan())).toBe(false);
  });

  it('Markdown: counts and the uploads table, every value escaped', () => {
    const p = plan();
    p.actions.uploads[0]!.source = 'evil | <img src=x onerror=alert(1)>';
    const md = migrateKind.markdown(p);
    expect(md).toContain('1 new, 1 to replace, 1 unchanged');
    expect(md).toContain('| key | source | action | Content-Type | Cache-Control |');
    expect(md).not.toContain('<img');
    expect(md).not.toMatch(/evil \| </);
  });

  it('a plan object without what apply needs is exit 2 naming the field', () => {
    const { run: _run, ...without } = plan();
    expect(() => migrateKind.parse('plan.json', without as never)).toThrow(/plan\.json: is not a valid plan file: plan\.run: missing/);
    const relative = { ...plan(), run: { ...run, stateFile: 'relative.jsonl' } };
    expect(() => migrateKind.parse('plan.json', relative as never)).toThrow(/plan\.run\.stateFile: expected an absolute path/);
  });
});

describe('images.migrate plan kind: forged items', () => {
  it('refuses an item from an http(s) origin, or a key outside the prefix (exit 2)', () => {
    const remote = plan();
    (remote.items[0]!.image as { url?: string }).url = 'https://origin.example.com/new.png';
    expect(() => migrateKind.parse('plan.json', remote as never)).toThrow(/plan\.items\.0\.image\.url: an http\(s\) source cannot be applied from a plan file/);
    const outside = plan();
    outside.items[0]!.key = 'elsewhere/new.png';
    expect(() => migrateKind.parse('plan.json', outside as never)).toThrow(/plan\.items: a key outside the prefix/);
    expect(migrateKind.parse('plan.json', plan() as never).items).toHaveLength(3);
  });
});
