/**
 * GitHub Actions: workflow-command escaping, the annotation cap, the -v log group, and that nothing
 * of it is printed outside a job (GITHUB_ACTIONS not `true`). The CLI runs in-process with its env.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { escapeData, escapeProperty, githubActions, MAX_ANNOTATIONS, workflowCommand } from '../../src/lib/github/actions.js';
import { Output } from '../../src/lib/io/output.js';
import { Capture, runInProcess } from '../support/streams.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BAD_CONFIG = path.join(ROOT, 'test', 'fixtures', 'bad-config.yaml');
const tmp = () => mkdtemp(path.join(os.tmpdir(), 'retailctl-gh-'));
/** Lines that GitHub would run as a workflow command (it trims leading whitespace first). */
const commandLines = (text: string) => text.split('\n').filter((l) => l.trimStart().startsWith('::'));

describe('workflow-command escaping', () => {
  it('escapes data (% CR LF) and properties (also : and ,) as GitHub does', () => {
    expect(escapeData('50% done\r\nnext')).toBe('50%25 done%0D%0Anext');
    expect(escapeProperty('a:b,c%\n')).toBe('a%3Ab%2Cc%25%0A');
    expect(workflowCommand('error', { file: 'ops/retail,ctl.yaml', line: 3, col: undefined }, 'bad: value')).toBe('::error file=ops/retail%2Cctl.yaml,line=3::bad: value');
    expect(workflowCommand('warning', {}, 'plain')).toBe('::warning::plain');
  });

  it('a hostile value cannot start a workflow command of its own, in a message or a property', () => {
    const actions = githubActions({ GITHUB_ACTIONS: 'true' }, '/repo')!;
    const lines = actions.annotations('retailctl x', 'm', [{ file: 'a.csv\n::set-output name=x::y', line: 2, message: 'sku "X\n::add-mask::secret\r::stop-commands::t"' }]);
    expect(lines).toHaveLength(1);
    const text = lines.join('\n');
    expect(text.split('\n')).toHaveLength(1);
    expect(text).not.toMatch(/[\r\n]/);
    expect(text).toContain('%0A::add-mask::secret%0D::stop-commands::t');
    expect(text).toContain('file=a.csv%0A%3A%3Aset-output name=x%3A%3Ay');
  });
});

describe('annotations', () => {
  const actions = githubActions({ GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: '/repo' }, '/repo/ops')!;

  it(`writes at most ${MAX_ANNOTATIONS} errors, then one warning with how many more there are`, () => {
    const locations = Array.from({ length: 14 }, (_, i) => ({ file: 'wms.csv', line: i + 2, message: `row ${i}` }));
    const lines = actions.annotations('retailctl inventory reconcile', 'bad rows', locations, 25);
    expect(lines).toHaveLength(MAX_ANNOTATIONS + 1);
    expect(lines[0]).toBe('::error title=retailctl inventory reconcile,file=ops/wms.csv,line=2::row 0');
    expect(lines.slice(0, MAX_ANNOTATIONS).every((l) => l.startsWith('::error '))).toBe(true);
    expect(lines[MAX_ANNOTATIONS]).toBe('::warning title=retailctl inventory reconcile::15 more problems not annotated: the job log (or --json) lists them');
  });

  it('paths are relative to the workspace; a URL or a file outside it is named in the message instead', () => {
    const lines = actions.annotations('t', 'm', [
      { file: '/repo/ops/retailctl.yaml', line: 4, col: 7, message: 'a' },
      { file: 's3://bucket/web.csv', line: 9, message: 'b' },
      { file: '/elsewhere/x.csv', line: 1, message: 'c' },
    ]);
    expect(lines).toEqual(['::error title=t,file=ops/retailctl.yaml,line=4,col=7::a', '::error title=t::s3://bucket/web.csv:9: b', '::error title=t::/elsewhere/x.csv:1: c']);
  });

  it('an error without a location is one annotation with its message', () => {
    expect(actions.annotations('retailctl doctor', 'no credentials', [])).toEqual(['::error title=retailctl doctor::no credentials']);
  });

  it('is only active when GITHUB_ACTIONS is exactly "true"', () => {
    expect(githubActions({}, '/')).toBeUndefined();
    expect(githubActions({ GITHUB_ACTIONS: 'false' }, '/')).toBeUndefined();
    expect(githubActions({ GITHUB_ACTIONS: '1', CI: 'true' }, '/')).toBeUndefined();
  });
});

describe('Output in a job', () => {
  const output = (github: boolean, verbose = 1) => {
    const stdout = new Capture();
    const stderr = new Capture();
    return { out: new Output({ stdout, stderr, json: false, verbose, interactive: false, color: false, github }), stdout, stderr };
  };

  it('folds -v lines into one group, closed before the result', () => {
    const { out, stdout, stderr } = output(true);
    out.debug('first');
    out.info('between');
    out.debug('second');
    out.print('the result');
    out.endGroup();
    const lines = stderr.text.split('\n').filter(Boolean);
    expect(lines[0]).toBe('::group::retailctl debug output (-v)');
    expect(lines.filter((l) => l.startsWith('::group::'))).toHaveLength(1);
    expect(lines.at(-1)).toBe('::endgroup::');
    expect(lines.filter((l) => l === '::endgroup::')).toHaveLength(1);
    expect(stdout.text).toBe('the result\n');
  });

  it('a line of data starting with :: is not left for the runner to run', () => {
    const { out, stdout, stderr } = output(true);
    out.error('bad rows', ['  ::set-output name=a::b', '::add-mask::x']);
    out.print('ok\n::error::forged');
    expect(commandLines(stderr.text)).toEqual([]);
    expect(commandLines(stdout.text)).toEqual([]);
    expect(stderr.text).toContain('\\x3a:set-output name=a::b');
  });

  it('outside a job: no group, no workflow command, data printed as it is', () => {
    const { out, stdout, stderr } = output(false);
    out.debug('first');
    out.workflowCommand('::error::x');
    out.print('::not-a-command');
    out.endGroup();
    expect(stderr.text).not.toContain('::');
    expect(stdout.text).toBe('::not-a-command\n');
  });
});

describe('retailctl in a job (in-process)', () => {
  it('a bad config is an ::error annotation with file, line and column, and a step summary', async () => {
    const dir = await tmp();
    const summary = path.join(dir, 'summary.md');
    const r = await runInProcess(['config', 'validate', '--config', BAD_CONFIG, '--json'], { env: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: ROOT }, cwd: ROOT });
    expect(r.code).toBe(2);
    expect(commandLines(r.stderr)).toEqual([expect.stringMatching(/^::error title=retailctl config validate,file=test\/fixtures\/bad-config\.yaml,line=9,col=9::campaigns\.spring-sale\.targets\[1\]: /)]);
    // --json: stdout is still exactly one document
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
    const md = await readFile(summary, 'utf8');
    expect(md).toMatch(/^### retailctl config validate\n\n\*\*Failed\*\* \(exit 2\): CONFIG\\_INVALID: /);
  });

  it('several config problems: one annotation each', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'retailctl.yaml'), 'images:\n  bucket: imgs\n  sse: aes\nimagez: {}\n');
    const r = await runInProcess(['config', 'validate'], { env: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: dir }, cwd: dir });
    expect(r.code).toBe(2);
    expect(commandLines(r.stderr)).toEqual([
      '::error title=retailctl config validate,file=retailctl.yaml,line=3,col=3::images.sse: expected one of "AES256", "aws:kms", got "aes"',
      '::error title=retailctl config validate,file=retailctl.yaml,line=4,col=1::imagez: unknown key (misspelt? keys are case-sensitive)',
    ]);
  });

  it('bad inventory rows: the first 10 annotated at their lines, then the count of the rest', async () => {
    const dir = await tmp();
    const rows = Array.from({ length: 13 }, (_, i) => `SKU-${i},dfw1,${i % 2 ? 'many' : 'x'}`);
    await writeFile(path.join(dir, 'wms.csv'), `sku,loc,qty\nOK-1,dfw1,5\n${rows.join('\n')}\n`);
    await writeFile(path.join(dir, 'web.csv'), 'sku,loc,qty\nOK-1,dfw1,3\n');
    await writeFile(
      path.join(dir, 'retailctl.yaml'),
      'inventory:\n  sources:\n    wms: { path: wms.csv, role: warehouse, columns: { sku: sku, location: loc, onHand: qty } }\n    web: { path: web.csv, role: channel, columns: { sku: sku, location: loc, available: qty } }\n',
    );
    const summary = path.join(dir, 'summary.md');
    const r = await runInProcess(['inventory', 'reconcile'], { env: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: dir, GITHUB_STEP_SUMMARY: summary }, cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    const lines = commandLines(r.stderr);
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('::error title=retailctl inventory reconcile,file=wms.csv,line=3::wms: qty is not a whole number: "x"');
    expect(lines[9]).toMatch(/^::error title=retailctl inventory reconcile,file=wms\.csv,line=12::/);
    expect(lines[10]).toBe('::warning title=retailctl inventory reconcile::3 more problems not annotated: the job log (or --json) lists them');
    expect(await readFile(summary, 'utf8')).toContain('**Failed** (exit 2): INVENTORY\\_INPUT: 13 bad rows');
  });

  it('outside a job nothing of it appears, even with GITHUB_STEP_SUMMARY set', async () => {
    const dir = await tmp();
    const summary = path.join(dir, 'summary.md');
    for (const env of [{ CI: 'true', GITHUB_STEP_SUMMARY: summary }, { CI: 'true', GITHUB_ACTIONS: 'false', GITHUB_STEP_SUMMARY: summary }]) {
      const r = await runInProcess(['config', 'validate', '--config', BAD_CONFIG, '-v'], { env, cwd: ROOT });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('bad-config.yaml:9:9');
      expect(r.stderr).not.toMatch(/::(error|warning|group|endgroup)/);
      expect(r.stdout).toBe('');
    }
    await expect(readFile(summary, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a step summary that cannot be written is one warning; the run keeps its result and exit code', async () => {
    const dir = await tmp();
    const r = await runInProcess(['config', 'validate', '--config', path.join(ROOT, 'examples', 'retailctl.yaml')], { env: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: path.join(dir, 'no', 'such', 'dir', 'summary.md') }, cwd: ROOT });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('is valid');
    const warnings = r.stderr.split('\n').filter((l) => l.includes('warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/GitHub step summary not written to .*summary\.md: ENOENT/);
  });
});
