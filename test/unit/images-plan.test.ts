import { beforeAll, describe, expect, it } from 'vitest';
import { buildKey, loadKeyRules, normalisePrefix, parseTemplate } from '../../src/lib/images/keys.js';
import { defaultCacheControl, IMMUTABLE, planMigration, type PlanInput } from '../../src/lib/images/plan.js';
import { invalidationPaths, nginxMap } from '../../src/lib/images/report.js';
import type { SourceImage } from '../../src/lib/images/source.js';

beforeAll(loadKeyRules);

const T = parseTemplate('{category}/{sku}/{variant}.{ext}');
const key = (fields: Parameters<typeof buildKey>[2], template = T, prefix = 'catalog/') => buildKey(template, prefix, fields);

describe('keys', () => {
  it('nested categories, Unicode and spaces become safe lower-case segments', () => {
    expect(key({ sourcePath: 'a/Crème Visage.JPEG', sku: 'SKU 2002', category: 'Skincare > Crèmes & Lotions', variant: 'Größe XL' })).toEqual({ key: 'catalog/skincare/cremes-and-lotions/sku-2002/groesse-xl.jpg' });
    expect(key({ sourcePath: 'x.png', sku: 'AB_1', category: 'home/kitchen | mugs', position: '2' })).toEqual({ key: 'catalog/home/kitchen/mugs/ab_1/2.png' });
  });

  it('{variant} falls back to the position, then to the file name', () => {
    expect(key({ sourcePath: 'img/front view.webp', sku: 'S', category: 'C' })).toEqual({ key: 'catalog/c/s/front-view.webp' });
  });

  it('a catalogue value can never climb out of the prefix or leave an empty segment', () => {
    for (const sku of ['../../etc', '..', '/', '.']) {
      const r = key({ sourcePath: 'a.jpg', sku, category: 'c', variant: 'v' });
      if ('key' in r) expect(r.key.startsWith('catalog/c/') && !r.key.includes('..') && !r.key.includes('//')).toBe(true);
      else expect(r.error).toMatch(/empty/);
    }
    expect(key({ sourcePath: 'a.jpg', sku: '日本語', category: 'c' })).toEqual({ error: '{sku} "日本語" is empty once made URL-safe' });
    expect(key({ sourcePath: 'a.jpg', sku: 's', category: ' > ' })).toMatchObject({ error: expect.stringMatching(/category/) });
    expect(key({ sourcePath: 'noext', sku: 's', category: 'c' })).toMatchObject({ error: expect.stringMatching(/extension/) });
  });

  it('templates: unknown placeholders, unsafe literals and a missing {ext} are refused', () => {
    expect(() => parseTemplate('{category}/{colour}.{ext}')).toThrow(/unknown placeholder \{colour\}/);
    expect(() => parseTemplate('{category}/../{sku}.{ext}')).toThrow(/"\.\." segments are not allowed/); // refused before any image is read
    expect(() => parseTemplate('../{name}.{ext}')).toThrow(/"\.\." segments are not allowed/);
    expect(() => parseTemplate('{category}//{sku}.{ext}')).toThrow(/empty path segment/);
    expect(parseTemplate('{sku}/v1.2/{name}.{ext}').source).toBe('{sku}/v1.2/{name}.{ext}'); // literal dots inside a segment are fine
    // …and a key whose values make a .. segment is still refused when it is built
    expect(key({ sourcePath: 'a.jpg', sku: 's', category: 'c' }, parseTemplate('{category}/.{sku}.{ext}'))).toMatchObject({ error: expect.stringMatching(/unsafe part/) });
    expect(() => parseTemplate('{sku} {name}.{ext}')).toThrow(/only a-z/);
    expect(() => parseTemplate('{sku}/{name}')).toThrow(/\{ext\}/);
    expect(() => normalisePrefix('Catalog/')).toThrow(/lower case/);
    expect(normalisePrefix('/catalog/v2')).toBe('catalog/v2/');
  });

  it('{hash} and {dir}; the cache default follows {hash}', () => {
    const t = parseTemplate('{dir}/{name}-{hash}.{ext}');
    expect(buildKey(t, '', { sourcePath: 'Top Level.PNG', hash: 'abcdef0123456789' })).toEqual({ key: 'top-level-abcdef012345.png' });
    expect(buildKey(t, 'p/', { sourcePath: 'Sub Dir/x.png', hash: 'abcdef0123456789' })).toEqual({ key: 'p/sub-dir/x-abcdef012345.png' });
    expect(defaultCacheControl(t)).toBe(IMMUTABLE);
    expect(defaultCacheControl(T)).toBe('public, max-age=86400');
  });
});

const img = (path: string, size = 100, mtimeMs = 1000): SourceImage => ({ path, root: '/src', size, mtimeMs });
const base = (over: Partial<PlanInput>): PlanInput => ({ images: [], template: T, prefix: 'catalog/', cacheControl: 'public, max-age=86400', cacheRules: [], existing: new Map(), journal: new Map(), force: false, ...over });

describe('plan', () => {
  it('two images that map to one key are a problem naming both rows; nothing else decides that', () => {
    const plan = planMigration(
      base({
        images: [img('a.jpg'), img('b.jpg'), img('c.jpg')],
        catalog: [
          { at: 'cat.csv:2', source: 'a.jpg', sku: 'S1', category: 'Shoes', variant: 'Red' },
          { at: 'cat.csv:3', source: 'b.jpg', sku: 's1', category: 'shoes', variant: 'red ' },
          { at: 'cat.csv:4', source: 'a.jpg', sku: 'S1', category: 'Shoes', variant: 'Red' },
          { at: 'cat.csv:5', source: 'gone.jpg', sku: 'S2', category: 'Shoes' },
        ],
      }),
    );
    expect(plan.problems).toEqual([{ at: 'cat.csv:2', reason: '2 different images map to the key catalog/shoes/s1/red.jpg: cat.csv:2 (a.jpg), cat.csv:3 (b.jpg)' }]);
    expect(plan.audit.missing.map((r) => r.at)).toEqual(['cat.csv:5']);
    expect(plan.audit.unreferenced).toEqual(['c.jpg']);
  });

  it('decides from the listing and the journal: new, replace (size differs), skip (journal proves it), check (same size, no proof), force', () => {
    const existing = new Map([
      ['same.jpg', { size: 100, etag: 'e1' }],
      ['bigger.jpg', { size: 90, etag: 'e2' }],
      ['nojournal.jpg', { size: 100, etag: 'e3' }],
      ['touched.jpg', { size: 100, etag: 'e4' }],
    ]);
    const entry = (k: string, etag: string, mtimeMs = 1000) => [k, { key: k, source: k, size: 100, mtimeMs, sha256: 'x', etag, contentType: 'image/jpeg' }] as const;
    const journal = new Map([entry('same.jpg', 'e1'), entry('touched.jpg', 'e4', 999)]);
    const images = ['new.jpg', 'same.jpg', 'bigger.jpg', 'nojournal.jpg', 'touched.jpg'].map((p) => img(p));
    const input = base({ images, template: parseTemplate('{name}.{ext}'), prefix: '', existing, journal });
    const actions = Object.fromEntries(planMigration(input).items.map((i) => [i.key, i.action]));
    expect(actions).toEqual({ 'new.jpg': 'upload', 'same.jpg': 'skip', 'bigger.jpg': 'replace', 'nojournal.jpg': 'check', 'touched.jpg': 'check' });
    expect(new Set(planMigration({ ...input, force: true }).items.filter((i) => i.existing).map((i) => i.action))).toEqual(new Set(['replace']));
  });

  it('cache rules by glob on the key below the prefix, first match wins', () => {
    const plan = planMigration(base({ images: [img('logo.svg'), img('a.jpg')], template: parseTemplate('{dir}/{name}.{ext}'), cacheRules: [{ glob: '**/*.svg', cacheControl: 'public, max-age=60' }, { glob: '*.svg', cacheControl: 'no' }] }));
    expect(plan.items.map((i) => [i.key, i.cacheControl])).toEqual([
      ['catalog/logo.svg', 'public, max-age=60'],
      ['catalog/a.jpg', 'public, max-age=86400'],
    ]);
  });
});

describe('invalidation paths', () => {
  it('exact paths up to the free allowance, then the deepest directories as ≤ 15 wildcards', () => {
    expect(invalidationPaths(['c/a.jpg', 'c/b.jpg'])).toEqual(['/c/a.jpg', '/c/b.jpg']);
    const many = Array.from({ length: 1500 }, (_, i) => `catalog/cat${i % 3}/sku${i}/main.jpg`);
    expect(invalidationPaths(many)).toEqual(['/catalog/cat0/*', '/catalog/cat1/*', '/catalog/cat2/*']);
    const spread = Array.from({ length: 1500 }, (_, i) => `catalog/cat${i % 40}/sku${i}.jpg`);
    expect(invalidationPaths(spread)).toEqual(['/catalog/*']);
  });

  it('nginx map entries are quoted and escaped', () => {
    expect([...nginxMap([['/a "b"$x.jpg', 'https://cdn/x.jpg']])].join('')).toContain('"/a \\"b\\"\\$x.jpg" "https://cdn/x.jpg";');
  });
});
