/**
 * The built binary inside a GitHub Actions job (GITHUB_ACTIONS=true, GITHUB_STEP_SUMMARY a file),
 * against the emulator with the example storefront seeded: each command appends its Markdown to the
 * step summary, errors are annotations at file and line, -v output is one log group, and --json
 * stdout stays one document. Outside a job (the same environment without GITHUB_ACTIONS=true)
 * nothing of it appears.
 */
import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { ROOT } from '../support/moto.js';
import { seedStorefront } from '../support/seed.js';
import { spawnCli } from '../support/spawn-cli.js';
import { useEmulator } from '../support/use-emulator.js';

const { endpoint, env } = useEmulator();
let dir: string;
let config: string;

beforeAll(async () => {
  const seeded = await seedStorefront(endpoint);
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-gh-e2e-'));
  // the example config with the ids the emulator just made, and its paths made absolute
  const doc = parseDocument(await readFile(path.join(ROOT, 'examples', 'retailctl.yaml'), 'utf8'));
  doc.setIn(['cdn', 'storefront', 'zoneId'], seeded.zoneId);
  doc.setIn(['cdn', 'storefront', 'primary', 'distributionId'], seeded.distributionId);
  doc.setIn(['cdn', 'auditLog'], path.join(dir, 'cdn-audit.jsonl'));
  doc.setIn(['images', 'catalog'], path.join(ROOT, 'examples', 'images', 'catalog.csv'));
  doc.setIn(['images', 'source'], path.join(ROOT, 'examples', 'images', 'media'));
  for (const source of ['wms', 'oms', 'web', 'marketplace']) doc.setIn(['inventory', 'sources', source, 'path'], path.join(ROOT, 'examples', String(doc.getIn(['inventory', 'sources', source, 'path']))));
  config = path.join(dir, 'retailctl.yaml');
  await writeFile(config, doc.toString());
});

/** A summary file of its own for one run, and the environment of a job step. */
async function job(): Promise<{ summary: string; env: Record<string, string> }> {
  const summary = path.join(await mkdtemp(path.join(os.tmpdir(), 'retailctl-gh-summary-')), 'step-summary.md');
  await writeFile(summary, '');
  return { summary, env: { ...env, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: ROOT } };
}

/** The Markdown tables of `md`, each checked to be well formed (same cell count on every line). */
function tables(md: string): string[][][] {
  const found: string[][][] = [];
  for (const block of md.split(/\n(?!\|)/).map((b) => b.split('\n').filter((l) => l.startsWith('|'))).filter((b) => b.length)) {
    const rows = block.map((l) => l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
    expect(rows.length, block.join('\n')).toBeGreaterThanOrEqual(2);
    expect(rows[1]!.every((c) => /^-{3,}$/.test(c)), block[1]).toBe(true);
    for (const row of rows) expect(row, block.join('\n')).toHaveLength(rows[0]!.length);
    found.push([rows[0]!, ...rows.slice(2)]);
  }
  return found;
}

const workflowLines = (text: string) => text.split('\n').filter((l) => l.trimStart().startsWith('::'));

describe('in a GitHub Actions job', () => {
  it('prescale --dry-run --json: stdout is one document, the summary shows the plan "planned, not applied" with every target', async () => {
    const { summary, env } = await job();
    const r = await spawnCli(['prescale', '--campaign', 'spring-sale-email', '--schedule', '--dry-run', '--json', '--config', config], { env });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { dryRun: boolean; plan: { targets: unknown[] } };
    expect(doc.dryRun).toBe(true);
    const md = await readFile(summary, 'utf8');
    expect(md).toMatch(/^### retailctl prescale\n\n\*\*Planned, not applied\*\* \(--dry-run\) \(exit 0\)\n/);
    const [window, targets] = tables(md);
    expect(window![1]![0]).toBe('spring-sale-email');
    expect(targets![0]).toEqual(['target', 'baseline min/max', 'planned min/max', 'up at (UTC)', 'down at (UTC)', 'baseline back at (UTC)', 'result']);
    expect(targets!.slice(1).map((t) => t[0])).toEqual(['lambda checkout-api:live', 'lambda pricing-api:live', 'ecs storefront/web', 'dynamodb Carts (read)', 'dynamodb Carts (write)']);
    expect(targets!.slice(1).map((t) => t[3])).toEqual(Array(5).fill('2027-03-02T13:40:00Z'));
    expect(targets!.slice(1).every((t) => t[6] === 'planned')).toBe(true);
  });

  it('cdn failover --yes -vv: traffic before → after and the change in the summary; the -v lines are one log group', async () => {
    const { summary, env } = await job();
    const r = await spawnCli(['cdn', 'failover', 'storefront', '--yes', '-vv', '--config', config], { env });
    expect(r.code, r.stderr).toBe(0);
    const [traffic, sets] = tables(await readFile(summary, 'utf8'));
    expect(traffic![1]!.slice(0, 4)).toEqual(['storefront', 'weighted', '100% cloudfront', '100% fastly']);
    expect(traffic![1]![4]).toMatch(/^\/change\/\S+ \(INSYNC\)$/);
    expect(sets!.slice(1).map((s) => [s[1], s[3], s[4]])).toEqual([
      ['cloudfront', 'weight 100', 'weight 0'],
      ['fastly', 'weight 0', 'weight 100'],
    ]);
    const stderr = r.stderr.split('\n');
    const open = stderr.indexOf('::group::retailctl debug output (-v)');
    const close = stderr.indexOf('::endgroup::');
    expect(open).toBeGreaterThanOrEqual(0);
    expect(close).toBeGreaterThan(open);
    expect(workflowLines(r.stderr)).toEqual(['::group::retailctl debug output (-v)', '::endgroup::']);
    // every AWS call line (-vv) is inside the group
    const calls = stderr.flatMap((l, i) => (/^\S+Z aws: Route53 \w+ ok/.test(l) ? [i] : []));
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(calls.every((i) => i > open && i < close)).toBe(true);
  });

  it('images migrate --yes: the upload counts table', async () => {
    const { summary, env } = await job();
    const r = await spawnCli(['images', 'migrate', '--yes', '--state-dir', path.join(dir, 'state'), '--config', config], { env, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const md = await readFile(summary, 'utf8');
    expect(md).toContain('### retailctl images migrate\n\n**Done** (exit 0)');
    expect(md).toContain('Bucket: s3://shop-product-images/catalog/');
    const [counts, audit] = tables(md);
    expect(counts).toEqual([['uploaded', 'skipped', 'failed', 'missing', 'empty', 'symlinks'], ['6', '0', '0', '0', '0', '0']]);
    expect(audit![1]).toEqual(['1', '1']);
  });

  it('inventory reconcile: the drift table per class × channel and the top rows; exit 5 kept', async () => {
    const { summary, env } = await job();
    const r = await spawnCli(['inventory', 'reconcile', '--config', config], { env, cwd: dir });
    expect(r.code).toBe(5);
    const [drift, top] = tables(await readFile(summary, 'utf8'));
    expect(drift![0]).toEqual(['class', 'wms', 'web', 'marketplace', 'total']);
    expect(drift).toContainEqual(['oversell (fails the run)', '0', '0', '1', '1']);
    expect(top![1]).toEqual(['oversell', 'SER-001', 'dfw1', 'marketplace', '38', '45', '7']);
  });

  it('summaries of several steps follow each other in one file', async () => {
    const { summary, env } = await job();
    await appendFile(summary, '# an earlier step\n\n');
    await spawnCli(['config', 'validate', '--config', config], { env });
    await spawnCli(['config', 'validate', '--config', 'test/fixtures/bad-config.yaml'], { env });
    const md = await readFile(summary, 'utf8');
    expect(md.startsWith('# an earlier step\n\n### retailctl config validate\n\n**Done** (exit 0)')).toBe(true);
    expect(md.match(/^### retailctl config validate$/gm)).toHaveLength(2);
  });

  it('a bad config: the ::error annotation at its file, line and column on stderr, --json stdout untouched', async () => {
    const { env } = await job();
    const r = await spawnCli(['config', 'validate', '--config', 'test/fixtures/bad-config.yaml', '--json'], { env });
    expect(r.code).toBe(2);
    expect(workflowLines(r.stderr)).toEqual([expect.stringMatching(/^::error title=retailctl config validate,file=test\/fixtures\/bad-config\.yaml,line=9,col=9::campaigns\.spring-sale\.targets\[1\]: expected a target/)]);
    expect(workflowLines(r.stdout)).toEqual([]);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
  });

  it('bad image catalogue rows are annotated at their CSV lines', async () => {
    const { env } = await job();
    const work = await mkdtemp(path.join(os.tmpdir(), 'retailctl-gh-images-'));
    await writeFile(path.join(work, 'catalog.csv'), 'image,sku,category\nlogo.svg,,brand\nlogo.svg,SKU-1,brand\n,SKU-2,brand\n');
    const r = await spawnCli(['images', 'migrate', path.join(ROOT, 'examples', 'images', 'media'), '--catalog', 'catalog.csv', '--bucket', 'shop-product-images', '--dry-run', '--json'], { env: { ...env, GITHUB_WORKSPACE: work }, cwd: work });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'IMAGES_INPUT' } });
    expect(workflowLines(r.stderr)).toEqual(['::error title=retailctl images migrate,file=catalog.csv,line=2::empty sku', '::error title=retailctl images migrate,file=catalog.csv,line=4::empty image']);
  });

  it('a config problem the clock reveals (prescale --schedule inside the window) is annotated at its key', async () => {
    const { env } = await job();
    const doc = parseDocument(await readFile(config, 'utf8'));
    doc.setIn(['campaigns', 'spring-sale-email', 'timezone'], 'UTC');
    doc.setIn(['campaigns', 'spring-sale-email', 'sendAt'], new Date(Date.now() + 5 * 60_000).toISOString().slice(0, 19));
    const text = doc.toString();
    await writeFile(path.join(dir, 'late.yaml'), text);
    const line = text.split('\n').findIndex((l) => /^\s+leadTime:/.test(l)) + 1;
    const r = await spawnCli(['prescale', '--campaign', 'spring-sale-email', '--schedule', '--dry-run', '--config', 'late.yaml'], { env: { ...env, GITHUB_WORKSPACE: dir }, cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(workflowLines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^::error title=retailctl prescale,file=late\\.yaml,line=${line},col=5::campaigns\\.spring-sale-email\\.leadTime: the scale-up time .* has passed`))]);
  });
});

describe('outside a job', () => {
  it('the same runs print no workflow command and write no summary, even with GITHUB_STEP_SUMMARY set', async () => {
    const { summary, env: jobEnv } = await job();
    const env = { ...jobEnv, GITHUB_ACTIONS: '' };
    const runs = [
      await spawnCli(['config', 'validate', '--config', 'test/fixtures/bad-config.yaml', '--json'], { env }),
      await spawnCli(['cdn', 'status', 'storefront', '-vv', '--config', config], { env }),
      await spawnCli(['inventory', 'reconcile', '--config', config], { env, cwd: dir }),
    ];
    expect(runs.map((r) => r.code)).toEqual([2, 0, 5]);
    for (const r of runs) expect(workflowLines(r.stdout + r.stderr)).toEqual([]);
    expect(runs[0]!.stderr).toContain('bad-config.yaml:9:9');
    expect(await readFile(summary, 'utf8')).toBe('');
  });
});
