/**
 * `retailctl loadtest` with a real k6 against a local HTTP server on 127.0.0.1. k6 is external;
 * these tests run where k6 is on PATH (or K6_PATH), and otherwise skip saying why.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/spawn-cli.js';

function k6Binary(): string | undefined {
  const bin = process.env.K6_PATH || 'k6';
  try {
    execFileSync(bin, ['version'], { stdio: 'ignore' });
    return bin;
  } catch {
    return undefined;
  }
}
const k6 = k6Binary();
if (!k6) {
  console.warn(
    'SKIPPING the real-k6 load tests: k6 not found on PATH; set K6_PATH to a k6 binary to run them.',
  );
}

let server: http.Server;
let base: string;
let dir: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const delay = req.url?.startsWith('/slow') ? 250 : 0;
    setTimeout(() => res.end('ok'), delay);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-loadtest-'));
  const campaign = (name: string, url: string, p95: number) =>
    `  ${name}:\n    sendAt: "2027-03-02T09:00:00"\n    timezone: UTC\n    duration: 1h\n    targets: [{ ecs: shop/web, min: 1 }]\n    loadtest: { url: "${url}", baselineRps: 5, multiplier: 2, rampUp: 2s, hold: 3s, thresholds: { p95Ms: ${p95}, errorRate: 0.01 } }\n`;
  // starved: VUs sized for 10 ms responses, the server takes 250 ms: k6 runs out of VUs, the site holds its 1 s
  const starved = `  starved:\n    sendAt: "2027-03-02T09:00:00"\n    timezone: UTC\n    duration: 1h\n    targets: [{ ecs: shop/web, min: 1 }]\n    loadtest: { url: "${base}/slow", baselineRps: 20, multiplier: 4, rampUp: 3s, hold: 6s, expectedP95Ms: 10, thresholds: { p95Ms: 1000 } }\n`;
  await writeFile(path.join(dir, 'retailctl.yaml'), `campaigns:\n${campaign('fast', `${base}/price`, 200)}${campaign('slow', `${base}/slow`, 50)}${starved}`);
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('loadtest without k6', () => {
  it('--out writes the script without running anything', async () => {
    const res = await spawnCli(['loadtest', '--campaign', 'fast', '--out', 'spike.js'], { cwd: dir });
    expect(res.code).toBe(0);
    const script = await readFile(path.join(dir, 'spike.js'), 'utf8');
    expect(script).toContain(`const TARGET = "${base}/price";`);
    // valid JavaScript module (k6 scripts are ES modules), checked by node's parser
    await writeFile(path.join(dir, 'spike.mjs'), script);
    expect(() => execFileSync(process.execPath, ['--check', path.join(dir, 'spike.mjs')])).not.toThrow();
  });

  it('says how to install k6 when it is missing (exit 1)', async () => {
    const res = await spawnCli(['loadtest', '--campaign', 'fast'], { cwd: dir, env: { K6_PATH: '/nonexistent/k6' } });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('k6 is not installed');
    expect(res.stderr).toContain('install k6');
  });
});

describe.skipIf(!k6)('loadtest with a real k6', () => {
  it('passes when the thresholds hold', async () => {
    const res = await spawnCli(['loadtest', '--campaign', 'fast', '--json'], { cwd: dir, env: { K6_PATH: k6!, PATH: process.env.PATH ?? '' } });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: true, ran: true, result: { passed: true } });
  }, 60_000);

  it('--summary-out writes a summary the next run takes as --baseline', async () => {
    const env = { K6_PATH: k6!, PATH: process.env.PATH ?? '' };
    const first = await spawnCli(['loadtest', '--campaign', 'fast', '--summary-out', 'first.json'], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(await readFile(path.join(dir, 'first.json'), 'utf8')) as { metrics: Record<string, Record<string, unknown>> };
    expect(summary.metrics.http_req_duration).toHaveProperty('p(99)');
    const second = await spawnCli(['loadtest', '--campaign', 'fast', '--baseline', 'first.json', '--max-regression', '1000%', '--json'], { cwd: dir, env });
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).comparison).toMatchObject({ passed: true, rows: [{ metric: 'p95' }, { metric: 'p99' }, { metric: 'error rate' }] });
  }, 60_000);

  it('aborts (exit 1) when k6 runs out of VUs for the arrival rate: the dropped_iterations threshold', async () => {
    const res = await spawnCli(['loadtest', '--campaign', 'starved', '--json'], { cwd: dir, env: { K6_PATH: k6!, PATH: process.env.PATH ?? '' } });
    expect(res.code, res.stderr).toBe(1);
    const doc = JSON.parse(res.stdout) as { k6ExitCode: number; result: { droppedIterations: number; thresholds: { name: string; ok: boolean }[] } };
    expect(doc.k6ExitCode).toBe(99);
    expect(doc.result.droppedIterations).toBeGreaterThan(1);
    expect(doc.result.thresholds).toContainEqual({ name: 'http_req_duration p(95)<1000', ok: true });
    expect(res.stderr).toContain('abortOnFail');
  }, 60_000);

  it('exits 5 when p95 breaches its threshold', async () => {
    const res = await spawnCli(['loadtest', '--campaign', 'slow', '--json'], { cwd: dir, env: { K6_PATH: k6!, PATH: process.env.PATH ?? '' } });
    expect(res.code).toBe(5);
    expect(JSON.parse(res.stdout).result.thresholds).toContainEqual({ name: 'http_req_duration p(95)<50', ok: false });
  }, 60_000);
});
