/**
 * The step summary's Markdown, from each command's `--json` document (shapes as the commands print
 * them): every table parses (header, separator and rows have the same number of cells), values are
 * escaped, and a plan that was not applied says so.
 */
import { describe, expect, it } from 'vitest';
import { mdTable, mdText, stepSummary, TOP_ROWS } from '../../src/lib/github/summary.js';

/** The cells of one table line, `\|` inside a cell kept as part of it. */
function cells(line: string): string[] {
  expect(line.startsWith('|') && line.endsWith('|'), line).toBe(true);
  return line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());
}

/** Every table in `markdown`, checked to be well formed, as rows of cells (the header first). */
function tables(markdown: string): string[][][] {
  const found: string[][][] = [];
  let block: string[] = [];
  for (const line of [...markdown.split('\n'), '']) {
    if (line.startsWith('|')) {
      block.push(line);
      continue;
    }
    if (block.length) {
      const [header, separator, ...rows] = block.map(cells);
      expect(separator!.every((c) => /^:?-{3,}:?$/.test(c)), block[1]).toBe(true);
      expect(separator).toHaveLength(header!.length);
      for (const row of rows) expect(row, block.join('\n')).toHaveLength(header!.length);
      found.push([header!, ...rows]);
      block = [];
    }
  }
  return found;
}

const cdnPlan = {
  version: 1,
  action: 'failover',
  group: 'storefront',
  routing: 'weighted',
  trafficBefore: '100% cloudfront',
  trafficAfter: '100% fastly',
  records: [
    {
      name: 'www.shop.example.com',
      type: 'CNAME',
      before: [
        { side: 'primary', setIdentifier: 'cloudfront', target: 'd1.cloudfront.net', routing: 'weight 100' },
        { side: 'secondary', setIdentifier: 'fastly', target: 'www.global.prod.fastly.net', routing: 'weight 0' },
      ],
      after: [
        { side: 'primary', setIdentifier: 'cloudfront', target: 'd1.cloudfront.net', routing: 'weight 0' },
        { side: 'secondary', setIdentifier: 'fastly', target: 'www.global.prod.fastly.net', routing: 'weight 100' },
      ],
    },
  ],
  healthCheckUpdates: [],
  warnings: [],
  refusals: [],
  noop: false,
};

describe('step summary', () => {
  it('cdn failover: traffic before → after and each record set, applied with its change id', () => {
    const md = stepSummary({ command: 'cdn failover', exitCode: 0, document: { ok: true, plan: cdnPlan, applied: true, changeId: '/change/C1', status: 'INSYNC' } });
    expect(md).toMatch(/^### retailctl cdn failover\n\n\*\*Done\*\* \(exit 0\)\n/);
    const [traffic, sets] = tables(md);
    expect(traffic).toEqual([
      ['group', 'routing', 'traffic before', 'traffic after', 'change'],
      ['storefront', 'weighted', '100% cloudfront', '100% fastly', '/change/C1 (INSYNC)'],
    ]);
    expect(sets!.slice(1)).toEqual([
      ['www.shop.example.com CNAME', 'cloudfront', 'd1.cloudfront.net', 'weight 100', 'weight 0'],
      ['www.shop.example.com CNAME', 'fastly', 'www.global.prod.fastly.net', 'weight 0', 'weight 100'],
    ]);
  });

  it('a dry run, or a plan only, is "planned, not applied"', () => {
    expect(stepSummary({ command: 'cdn failover', exitCode: 0, document: { ok: true, plan: cdnPlan, applied: false, dryRun: true } })).toContain('**Planned, not applied** (--dry-run) (exit 0)');
    expect(stepSummary({ command: 'cdn failover', exitCode: 0, document: { ok: true, plan: cdnPlan, planFile: 'plan.json' } })).toContain('**Planned, not applied** (exit 0)');
    expect(stepSummary({ command: 'cdn failover', exitCode: 0, document: { ok: true, plan: { ...cdnPlan, noop: true }, applied: false, noop: true } })).toContain('**Nothing to do** (exit 0)');
    const refused = stepSummary({ command: 'cdn failover', exitCode: 3, document: { ok: false, plan: cdnPlan, applied: false } });
    expect(refused).toContain('**Planned, not applied** (exit 3)');
    expect(tables(refused)[0]![1]![4]).toBe('not sent');
  });

  it('prescale: the window and each target with its times', () => {
    const at = (utc: string, local: string) => ({ utc, local });
    const target = (key: string, label: string) => ({
      ref: { key, label },
      baseline: { min: 0, max: 500 },
      planned: { min: 300, max: 500 },
      up: { utc: '2027-03-02T13:40:00Z' },
      drain: { utc: '2027-03-02T17:00:00Z' },
      down: { utc: '2027-03-02T17:02:00Z' },
    });
    const document = {
      ok: true,
      plan: {
        campaign: 'spring-sale-email',
        mode: 'schedule',
        window: { timezone: 'America/New_York', readyBy: at('2027-03-02T13:40:00Z', '2027-03-02T08:40:00'), sendAt: at('2027-03-02T14:00:00Z', '2027-03-02T09:00:00'), endsAt: at('2027-03-02T17:00:00Z', '2027-03-02T12:00:00') },
        targets: [target('checkout', 'lambda checkout-api:live'), target('web', 'ecs storefront/web')],
        cost: { usd: 22.05 },
        refusals: [],
        warnings: ['ecs storefront/web: max raised to fit'],
      },
      applied: true,
      results: [{ key: 'checkout', status: 'ok' }, { key: 'web', status: 'failed' }],
    };
    const md = stepSummary({ command: 'prescale', exitCode: 4, document });
    const [window, targets] = tables(md);
    expect(window![1]).toEqual(['spring-sale-email', 'America/New\\_York', '2027-03-02 08:40:00 (2027-03-02T13:40:00Z)', '2027-03-02 09:00:00 (2027-03-02T14:00:00Z)', '2027-03-02 12:00:00 (2027-03-02T17:00:00Z)']);
    expect(targets!.slice(1)).toEqual([
      ['lambda checkout-api:live', '0/500', '300/500', '2027-03-02T13:40:00Z', '2027-03-02T17:00:00Z', '2027-03-02T17:02:00Z', 'ok'],
      ['ecs storefront/web', '0/500', '300/500', '2027-03-02T13:40:00Z', '2027-03-02T17:00:00Z', '2027-03-02T17:02:00Z', 'failed'],
    ]);
    expect(md).toContain('**Finished with problems** (exit 4)');
    expect(md).toContain('Estimated provisioned-concurrency cost: $22.05');
    expect(md).toContain('Warnings:\n- ecs storefront/web: max raised to fit');
  });

  it('images migrate: the counts, planned or uploaded, and the failures', () => {
    const planned = stepSummary({ command: 'images migrate', exitCode: 0, document: { ok: true, dryRun: true, plan: { bucket: 'imgs', prefix: 'catalog/', counts: { upload: 6, replace: 0, skip: 2, check: 0, empty: 0 } }, audit: { missingImages: 1, unreferencedImages: 0 } } });
    expect(planned).toContain('**Planned, not applied** (--dry-run)');
    expect(tables(planned)[0]).toEqual([['upload', 'replace', 'skip', 'check', 'empty'], ['6', '0', '2', '0', '0']]);
    const done = stepSummary({ command: 'images migrate', exitCode: 4, document: { ok: false, bucket: 'imgs', prefix: 'catalog/', counts: { uploaded: 5, skipped: 2, failed: 1, missing: 0, empty: 0 }, failed: [{ source: 'a.jpg', key: 'catalog/a.jpg', reason: 'AccessDenied' }] } });
    const [counts, failed] = tables(done);
    expect(counts).toEqual([['uploaded', 'skipped', 'failed', 'missing', 'empty'], ['5', '2', '1', '0', '0']]);
    expect(failed).toEqual([['failed source', 'key', 'reason'], ['a.jpg', 'catalog/a.jpg', 'AccessDenied']]);
  });

  it(`inventory reconcile: a class × channel table and the top ${TOP_ROWS} rows`, () => {
    const top = Array.from({ length: 12 }, (_, i) => ({ class: 'oversell', sku: `SKU-${i}`, location: 'dfw1', channel: 'web', expected: 3, actual: 5, delta: 2 }));
    const document = {
      ok: false,
      summary: { byClass: { oversell: 12, negative: 1, ok: 6 }, byChannel: { wms: { negative: 1 }, web: { oversell: 12, ok: 3 }, marketplace: { ok: 3 } } },
      failing: ['oversell'],
      top,
      badRows: 2,
      published: null,
    };
    const md = stepSummary({ command: 'inventory reconcile', exitCode: 5, document });
    const [drift, rows] = tables(md);
    expect(drift).toEqual([
      ['class', 'wms', 'web', 'marketplace', 'total'],
      ['oversell (fails the run)', '0', '12', '0', '12'],
      ['negative', '1', '0', '0', '1'],
      ['ok', '0', '3', '3', '6'],
    ]);
    expect(rows).toHaveLength(1 + TOP_ROWS);
    expect(rows![0]).toEqual(['class', 'sku', 'location', 'channel', 'expected', 'actual', 'delta']);
    expect(rows![1]).toEqual(['oversell', 'SKU-0', 'dfw1', 'web', '3', '5', '2']);
    expect(md).toContain('Bad rows left out: 2');
  });

  it('another command: its fields and the first rows of its lists', () => {
    const md = stepSummary({ command: 'doctor', exitCode: 0, document: { ok: true, region: 'us-east-1', checks: [{ id: 'node', ok: true, detail: 'v20' }, { id: 'k6', ok: false, detail: 'not found', hint: 'install k6' }] } });
    const [fields, checks] = tables(md);
    expect(fields).toEqual([['field', 'value'], ['region', 'us-east-1']]);
    expect(checks).toEqual([['id', 'ok', 'detail', 'hint'], ['node', 'true', 'v20', ''], ['k6', 'false', 'not found', 'install k6']]);
  });

  it('a failure: code, message, details and hint', () => {
    const md = stepSummary({ command: 'config validate', exitCode: 2, document: { ok: false, error: { code: 'CONFIG_INVALID', message: 'retailctl.yaml: 2 problems in the config', hint: 'fix the config' } }, details: ['retailctl.yaml:1:1: a', 'retailctl.yaml:2:1: b'] });
    expect(md).toBe('### retailctl config validate\n\n**Failed** (exit 2): CONFIG\\_INVALID: retailctl.yaml: 2 problems in the config\n\n- retailctl.yaml:1:1: a\n- retailctl.yaml:2:1: b\n\nHint: fix the config\n\n');
  });
});

describe('Markdown escaping', () => {
  it('a hostile value cannot add a cell, a line, a link, HTML or control characters', () => {
    const hostile = 'a|b\n| x | y |\r<img src=x onerror=alert(1)>[link](http://e.x) `code` **b** \x1b[31m\u202e';
    const text = mdText(hostile);
    expect(text).not.toMatch(/[\r\n\x1b\u202e<>]/);
    expect(text).not.toMatch(/(?<!\\)[|[\]`*]/);
    expect(text).toContain('&lt;img src=x onerror=alert(1)&gt;');
    const table = mdTable(['sku', 'n'], [[hostile, 1]]);
    expect(tables(table)).toEqual([[['sku', 'n'], [text, '1']]]);
  });

  it('a sku that is a whole table row stays in its cell of the inventory table', () => {
    const md = stepSummary({ command: 'inventory reconcile', exitCode: 5, document: { ok: false, summary: { byClass: { oversell: 1 }, byChannel: { 'we|b': { oversell: 1 } } }, failing: [], top: [{ class: 'oversell', sku: '| evil | row |\n|---|', location: 'l', channel: 'we|b', expected: 1, actual: 2, delta: 1 }] } });
    const [drift, rows] = tables(md);
    expect(drift![0]).toHaveLength(3);
    expect(rows).toHaveLength(2);
  });
});
