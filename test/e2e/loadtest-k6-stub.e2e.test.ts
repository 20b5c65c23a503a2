/**
 * `retailctl loadtest` runs without a real k6: K6_PATH points at test/fixtures/k6/k6.mjs, which
 * replays runs recorded from k6 v1.8.1 as `k6 run --summary-export <file>` does (progress lines,
 * summary export, exit code 0, 99 when a threshold was crossed, 107 for a script exception). Through
 * the built binary: progress streaming, the parsed summary, exit codes, --summary-out, the
 * --baseline/--max-regression gate and its refusals, and the README's loadtest commands.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';
import { spawnCli } from '../support/spawn-cli.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'k6');
const STUB = path.join(FIXTURES, 'k6.mjs');
const recorded = async (name: string) => JSON.parse(await readFile(path.join(FIXTURES, name, 'summary.json'), 'utf8')) as { metrics: Record<string, Record<string, number>> };
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => /(^|Z )error: /.test(l));

let dir: string;
const campaign = (name: string, loadtest: string) => `  ${name}:\n    sendAt: "2027-03-02T09:00:00"\n    timezone: UTC\n    duration: 1h\n    targets: [{ ecs: shop/web, min: 1 }]\n    loadtest: ${loadtest}\n`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-loadtest-stub-'));
  await writeFile(
    path.join(dir, 'retailctl.yaml'),
    `campaigns:\n${campaign('fast', '{ url: "http://127.0.0.1:9/price", baselineRps: 5, multiplier: 4, rampUp: 3s, hold: 4s, thresholds: { p95Ms: 200, errorRate: 0.01 } }')}${campaign('slow', '{ url: "http://127.0.0.1:9/slow", baselineRps: 5, multiplier: 4, rampUp: 3s, hold: 4s, expectedP95Ms: 300, thresholds: { p95Ms: 50, errorRate: 0.01 } }')}${campaign('starved', '{ url: "http://127.0.0.1:9/slow", baselineRps: 20, multiplier: 4, rampUp: 3s, hold: 6s, expectedP95Ms: 10, thresholds: { p95Ms: 1000 } }')}`,
  );
});

/** A run with the stub replaying `recording`; the stub logs what it was given to `log`. */
async function run(args: string[], recording: string, extra: { cwd?: string; env?: Record<string, string> } = {}) {
  const log = path.join(await mkdtemp(path.join(os.tmpdir(), 'retailctl-k6-log-')), 'k6.json');
  const r = await spawnCli(['loadtest', ...args], { cwd: extra.cwd ?? dir, env: { K6_PATH: STUB, K6_STUB_RECORDING: recording, K6_STUB_LOG: log, ...extra.env } });
  const k6 = existsSync(log) ? (JSON.parse(await readFile(log, 'utf8')) as { argv: string[]; script: string; env: Record<string, string> }) : undefined;
  return { ...r, k6 };
}

describe('loadtest with k6 replayed from recordings', () => {
  it('runs `k6 run --summary-export` on the generated script and streams its progress (-v: every line)', async () => {
    const r = await run(['--campaign', 'fast', '-v'], 'fast');
    expect(r.code, r.stderr).toBe(0);
    expect(r.k6!.argv.slice(0, 3)).toEqual(['run', '--no-color', '--summary-export']);
    expect(r.k6!.script).toContain('const TARGET = "http://127.0.0.1:9/price";');
    expect(r.k6!.script).toContain('"abortOnFail": true');
    expect(r.k6!.env.K6_NO_USAGE_REPORT).toBe('true');
    const progress = r.stderr.split('\n').filter((l) => / k6: running \(/.test(l)).map((l) => l.replace(/^.* k6: /, ''));
    expect(progress).toEqual((await readFile(path.join(FIXTURES, 'fast', 'stdout.txt'), 'utf8')).split('\n').filter((l) => l.startsWith('running (')));
    expect(progress.length).toBeGreaterThan(5);
    expect(r.stderr).toContain('k6:      execution: local');
    // retailctl's own plan comes first: the VU arithmetic
    expect(r.stderr).toContain('preAllocatedVUs = ceil(20 req/s × 200 ms / 1000 × (1 + 0.5)) = ceil(6) = 6');
  });

  it('without -v: k6\'s warnings and errors and its first progress line, not the banner or its own summary', async () => {
    const r = await run(['--campaign', 'starved'], 'starved');
    expect(r.stderr).toContain('k6: running (01.0s), 4/4 VUs, 11 complete and 0 interrupted iterations');
    expect(r.stderr).toContain('level=warning msg="Insufficient VUs, reached 4 active VUs and cannot initialize more"');
    expect(r.stderr).toContain("thresholds on metrics 'dropped_iterations' were crossed; at least one has abortOnFail enabled");
    expect(r.stderr).not.toContain('execution: local');
    expect(r.stderr).not.toContain('TOTAL RESULTS');
  });

  it('parses the summary export: requests, rate, p50/p95/p99, error rate, thresholds (true there means crossed)', async () => {
    const r = await run(['--campaign', 'fast', '--json'], 'fast');
    expect(r.code, r.stderr).toBe(0);
    const m = (await recorded('fast')).metrics;
    const doc = JSON.parse(r.stdout) as { ok: boolean; result: Record<string, unknown>; k6ExitCode: number };
    expect(doc).toMatchObject({ ok: true, ran: true, k6ExitCode: 0 });
    expect(doc.result).toEqual({
      requests: m.http_reqs!.count,
      rps: Number(m.http_reqs!.rate!.toFixed(1)),
      p50Ms: Number(m.http_req_duration!.med!.toFixed(1)),
      p95Ms: Number(m.http_req_duration!['p(95)']!.toFixed(1)),
      p99Ms: Number(m.http_req_duration!['p(99)']!.toFixed(1)),
      errorRate: 0,
      droppedIterations: 0,
      thresholds: expect.arrayContaining([{ name: 'http_req_duration p(95)<200', ok: true }, { name: 'http_req_failed rate<0.01', ok: true }, { name: 'dropped_iterations count<=1', ok: true }]),
      passed: true,
    });
    const text = await run(['--campaign', 'fast'], 'fast');
    expect(text.stdout).toMatch(/^117 requests, 16\.7 req\/s; p50 [\d.]+ ms, p95 12\.2 ms, p99 16\.1 ms; errors 0\.00%$/m);
    expect(text.stdout.trim().split('\n').at(-1)).toBe('thresholds held');
  });

  it('a threshold crossed (k6 exit 99): exit 5, the threshold named', async () => {
    const r = await run(['--campaign', 'slow'], 'breached');
    expect(r.code, r.stderr).toBe(5);
    expect(r.stdout).toContain('✗ http_req_duration p(95)<50');
    expect(r.stdout).toContain('THRESHOLDS BREACHED');
    const json = await run(['--campaign', 'slow', '--json'], 'breached');
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, k6ExitCode: 99, result: { passed: false, thresholds: expect.arrayContaining([{ name: 'http_req_duration p(95)<50', ok: false }]) } });
  });

  it('k6 out of VUs (dropped iterations aborted the run) while the site held: exit 1, the load generator named', async () => {
    const r = await run(['--campaign', 'starved'], 'starved');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('✗ dropped_iterations count<=1');
    expect(r.stdout).toContain('ABORTED: k6 dropped 49 iterations (more than 1): its 4 VUs could not keep 80 req/s, so the spike was not sent as planned; no verdict on the site');
  });

  it('k6 failing otherwise (script exception, exit 107, no summary): exit 1 naming the code', async () => {
    const r = await run(['--campaign', 'fast'], 'exception');
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(errorLines(r.stderr)[0]).toContain('k6 exited with code 107 (the script threw an exception) testing http://127.0.0.1:9/price');
  });

  it('k6 missing or not executable: exit 1 with how to install it', async () => {
    for (const bin of ['/nonexistent/k6', path.join(FIXTURES, 'fast', 'summary.json')]) {
      const r = await spawnCli(['loadtest', '--campaign', 'fast'], { cwd: dir, env: { K6_PATH: bin } });
      expect(r.code, bin).toBe(1);
      expect(r.stderr).toMatch(/k6 is not installed|cannot be run \(not executable\)/);
      expect(r.stderr).toContain('install k6');
    }
  });

  it('--summary-out writes k6\'s summary export as k6 wrote it, also when a threshold was crossed', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'retailctl-summary-'));
    const r = await run(['--campaign', 'fast', '--summary-out', path.join(out, 'reports', 'summary.json')], 'fast');
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(out, 'reports', 'summary.json'), 'utf8')).toBe(await readFile(path.join(FIXTURES, 'fast', 'summary.json'), 'utf8'));
    expect(r.stdout).toContain(`summary written to ${path.join(out, 'reports', 'summary.json')}`);
    const breached = await run(['--campaign', 'slow', '--summary-out', path.join(out, 'breached.json')], 'breached');
    expect(breached.code).toBe(5);
    expect(JSON.parse(await readFile(path.join(out, 'breached.json'), 'utf8'))).toEqual(await recorded('breached'));
  });

  it('--summary-out a directory: exit 2 before k6 runs', async () => {
    await mkdir(path.join(dir, 'reports'), { recursive: true });
    const r = await run(['--campaign', 'fast', '--summary-out', 'reports'], 'fast');
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toContain('--summary-out reports: is a directory, not a file');
    expect(r.k6).toBeUndefined();
  });
});

describe('the --baseline gate', () => {
  let fast: string;
  beforeAll(async () => {
    fast = path.join(dir, 'previous-summary.json');
    await writeFile(fast, await readFile(path.join(FIXTURES, 'fast', 'summary.json')));
  });

  it('the same numbers as the baseline: exit 0, the table printed, the comparison in --json', async () => {
    const r = await run(['--campaign', 'fast', '--baseline', 'previous-summary.json', '--max-regression', '10%'], 'fast');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('compared with previous-summary.json:');
    expect(r.stdout).toMatch(/^metric\s+baseline\s+now\s+change\s+allowed\s+verdict$/m);
    expect(r.stdout).toMatch(/^p95\s+12\.2 ms\s+12\.2 ms\s+\+0\.0%\s+\+10% \(≤ 13\.5 ms\)\s+ok$/m);
    expect(r.stdout).toMatch(/^error rate\s+0\.00%\s+0\.00%\s+0\.0%\s+\+10% \(≤ 0\.01%\)\s+ok$/m);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('thresholds held; no regression');
    const json = await run(['--campaign', 'fast', '--baseline', 'previous-summary.json', '--json'], 'fast');
    const doc = JSON.parse(json.stdout) as { comparison: { maxRegression: number; passed: boolean; rows: { metric: string; ok: boolean }[] } };
    expect(doc.comparison).toMatchObject({ baseline: 'previous-summary.json', maxRegression: 0.1, passed: true });
    expect(doc.comparison.rows.map((row) => row.metric)).toEqual(['p95', 'p99', 'error rate']);
  });

  it('slower than the baseline by more than the allowance: exit 5, the metrics named; a wide allowance passes', async () => {
    const r = await run(['--campaign', 'fast', '--baseline', 'previous-summary.json', '--max-regression', '10%', '--json'], 'slower');
    expect(r.code, r.stderr).toBe(5);
    const doc = JSON.parse(r.stdout) as { ok: boolean; result: { passed: boolean }; comparison: { passed: boolean; rows: { metric: string; ok: boolean; baseline: number; now: number }[] } };
    expect(doc.result.passed).toBe(true);
    expect(doc.comparison.passed).toBe(false);
    const base = (await recorded('fast')).metrics.http_req_duration!;
    const now = (await recorded('slower')).metrics.http_req_duration!;
    expect(doc.comparison.rows).toMatchObject([
      { metric: 'p95', baseline: base['p(95)'], now: now['p(95)'], ok: false },
      { metric: 'p99', baseline: base['p(99)'], now: now['p(99)'], ok: false },
      { metric: 'error rate', ok: true },
    ]);
    const text = await run(['--campaign', 'fast', '--baseline', 'previous-summary.json'], 'slower');
    expect(text.code).toBe(5);
    expect(text.stdout).toMatch(/^p95\s+12\.2 ms\s+45\.6 ms\s+\+272\.2%\s+\+10% \(≤ 13\.5 ms\)\s+WORSE$/m);
    expect(text.stdout.trim().split('\n').at(-1)).toBe('REGRESSION over 10%: p95, p99');
    const wide = await run(['--campaign', 'fast', '--baseline', 'previous-summary.json', '--max-regression', '500%'], 'slower');
    expect(wide.code, wide.stdout).toBe(0);
  });

  const refused: [string, string | undefined, RegExp][] = [
    ['missing.json', undefined, /--baseline missing\.json: no such file/],
    ['not-json.json', 'p95 was 80ms\n', /--baseline not-json\.json: is not JSON/],
    ['empty.json', '{}', /--baseline empty\.json: has no "metrics" \(not a k6 summary\)/],
    ['no-p99.json', JSON.stringify({ metrics: { http_req_duration: { 'p(95)': 80 }, http_req_failed: { passes: 0, fails: 10, value: 0 } } }), /--baseline no-p99\.json: lacks http_req_duration p\(99\) \(k6 exports p\(99\) only when summaryTrendStats asks for it/],
    ['no-errors.json', JSON.stringify({ metrics: { http_req_duration: { 'p(95)': 80, 'p(99)': 90 } } }), /--baseline no-errors\.json: lacks http_req_failed rate$/],
    ['zero.json', JSON.stringify({ metrics: { http_reqs: { count: 0, rate: 0 }, http_req_duration: { 'p(95)': 0, 'p(99)': 0 }, http_req_failed: { passes: 0, fails: 0, value: 0 } } }), /--baseline zero\.json: records a run that sent no requests: nothing to compare with$/],
    ['untimed.json', JSON.stringify({ metrics: { http_req_duration: { 'p(95)': 0, 'p(99)': 0 }, http_req_failed: { passes: 0, fails: 10, value: 0 } } }), /--baseline untimed\.json: records no response times \(p95 and p99 are 0 ms\): nothing to compare with$/],
  ];
  for (const [file, content, message] of refused) {
    it(`a baseline that cannot be compared with (${file}): exit 2, one line naming it, k6 never started`, async () => {
      if (content !== undefined) await writeFile(path.join(dir, file), content);
      const r = await run(['--campaign', 'fast', '--baseline', file], 'fast');
      expect(r.code, r.stderr).toBe(2);
      expect(errorLines(r.stderr)).toHaveLength(1);
      expect(errorLines(r.stderr)[0]).toMatch(message);
      expect(r.k6).toBeUndefined();
      const json = await run(['--campaign', 'fast', '--baseline', file, '--json'], 'fast');
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false });
    });
  }

  it('flags that do not go together, or a --max-regression that is not a percentage: exit 2', async () => {
    const cases: [string[], string][] = [
      [['--baseline', 'previous-summary.json', '--max-regression', 'ten'], '--max-regression: expected a percentage such as 10%, got "ten"'],
      [['--max-regression', '10%'], '--max-regression needs --baseline'],
      [['--out', 'spike.js', '--baseline', 'previous-summary.json'], '--out writes the script without running it: --baseline need a run'],
      [['--summary-out', '-'], '--summary-out -: stdout carries the result; give a file'],
    ];
    for (const [args, message] of cases) {
      const r = await run(['--campaign', 'fast', ...args], 'fast');
      expect(r.code, args.join(' ')).toBe(2);
      expect(errorLines(r.stderr)[0]).toContain(message);
      expect(r.k6).toBeUndefined();
    }
    expect(existsSync(path.join(dir, 'spike.js'))).toBe(false);
  });

  it('--dry-run checks the baseline and shows the VU arithmetic and what the gate allows, running nothing', async () => {
    const r = await run(['--campaign', 'fast', '--baseline', 'previous-summary.json', '--max-regression', '10%', '--dry-run'], 'fast');
    expect(r.code, r.stderr).toBe(0);
    expect(r.k6).toBeUndefined();
    expect(r.stdout).toContain('  maxVUs = ceil(20 req/s × 200 ms / 1000 × 4) = ceil(16) = 16 (the rate holds while responses take up to 800 ms)');
    expect(r.stdout).toContain('then compared with previous-summary.json: p95, p99 and the error rate may each be 10% worse (p95 ≤ 13.46 ms, p99 ≤ 17.71 ms)');
    const bad = await run(['--campaign', 'fast', '--baseline', 'missing.json', '--dry-run'], 'fast');
    expect(bad.code).toBe(2);
  });
});

describe('the README\'s loadtest commands, run as written', () => {
  const README = () => readFile(path.join(ROOT, 'README.md'), 'utf8');
  /** The output lines the README shows under `$ command` (up to the next `$` or the end of the block). */
  const shownOutput = (readme: string, command: string) => {
    const at = readme.indexOf(`$ ${command}`);
    expect(at, `the README shows \`${command}\``).toBeGreaterThan(0);
    const after = readme.slice(readme.indexOf('\n', at) + 1);
    return after.slice(0, after.search(/^(\$ |```)/m)).split('\n').filter((l) => l && l !== '…');
  };
  let cwd: string;
  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'retailctl-readme-loadtest-'));
    await symlink(path.join(ROOT, 'examples', 'retailctl.yaml'), path.join(cwd, 'retailctl.yaml'));
    // the previous run's summary: a run recorded from k6; this run replays a slower one
    await writeFile(path.join(cwd, 'previous-summary.json'), await readFile(path.join(FIXTURES, 'fast', 'summary.json')));
  });

  it('retailctl loadtest --campaign spring-sale-email --dry-run: the lines shown, the VU arithmetic among them', async () => {
    const command = 'retailctl loadtest --campaign spring-sale-email --dry-run';
    const r = await run(command.split(' ').slice(2), 'fast', { cwd });
    expect(r.code, r.stderr).toBe(0);
    const shown = shownOutput(await README(), command);
    expect(shown.some((l) => l.includes('maxVUs = ceil('))).toBe(true);
    const printed = r.stdout.split('\n');
    for (const line of shown) expect(printed).toContain(line);
  });

  it('retailctl loadtest --campaign spring-sale-email --summary-out summary.json --baseline previous-summary.json --max-regression 10%: exit 5, the table shown', async () => {
    const command = 'retailctl loadtest --campaign spring-sale-email --summary-out summary.json --baseline previous-summary.json --max-regression 10%';
    const r = await run(command.split(' ').slice(2), 'slower', { cwd });
    expect(r.code, r.stderr).toBe(5);
    const shown = shownOutput(await README(), command);
    expect(shown.some((l) => l.startsWith('metric '))).toBe(true);
    const printed = r.stdout.split('\n');
    for (const line of shown) expect(printed).toContain(line);
    expect(await readFile(path.join(cwd, 'summary.json'), 'utf8')).toBe(await readFile(path.join(FIXTURES, 'slower', 'summary.json'), 'utf8'));
  });
});
