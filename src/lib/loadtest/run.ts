import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';
import type { LoadProfile } from './script.js';

/** What retailctl reports from k6's summary. */
export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
  /** Each configured threshold and whether it held. */
  thresholds: { name: string; ok: boolean }[];
  passed: boolean;
}

const INSTALL_HINT = 'install k6 (https://grafana.com/docs/k6/latest/set-up/install-k6/, e.g. `brew install k6` or the Debian/RPM packages from Grafana) or set K6_PATH to its binary';

/** Pure: the numbers retailctl reports, from k6's handleSummary data. */
export function summarize(data: { metrics?: Record<string, { values?: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }> }): LoadResult {
  const m = data.metrics ?? {};
  const duration = m.http_req_duration?.values ?? {};
  const reqs = m.http_reqs?.values ?? {};
  const thresholds = Object.entries(m).flatMap(([metric, v]) => Object.entries(v.thresholds ?? {}).map(([expr, t]) => ({ name: `${metric} ${expr}`, ok: t.ok })));
  return {
    requests: reqs.count ?? 0,
    rps: Number((reqs.rate ?? 0).toFixed(1)),
    p50Ms: Number((duration.med ?? 0).toFixed(1)),
    p95Ms: Number((duration['p(95)'] ?? 0).toFixed(1)),
    p99Ms: Number((duration['p(99)'] ?? 0).toFixed(1)),
    errorRate: Number((m.http_req_failed?.values?.rate ?? 0).toFixed(4)),
    thresholds,
    passed: thresholds.every((t) => t.ok),
  };
}

/** Run `k6 run` on the script, streaming its progress lines to `onLine`; only the script's URL is requested. */
export async function runK6(script: string, profile: LoadProfile, opts: { env: NodeJS.ProcessEnv; signal: AbortSignal; onLine: (line: string) => void }): Promise<LoadResult> {
  const bin = opts.env.K6_PATH || 'k6';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-k6-'));
  try {
    const scriptFile = path.join(dir, 'spike.js');
    const summaryFile = path.join(dir, 'summary.json');
    await writeFile(scriptFile, script);
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(bin, ['run', '--no-color', '--quiet', scriptFile], {
        env: { ...opts.env, RETAILCTL_SUMMARY: summaryFile, K6_NO_USAGE_REPORT: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
        signal: opts.signal,
      });
      const forward = (chunk: Buffer) => chunk.toString().split(/\r?\n/).filter((l) => l.trim()).forEach((l) => opts.onLine(l));
      child.stdout.on('data', forward);
      child.stderr.on('data', forward);
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') reject(new RetailctlError('K6_NOT_FOUND', `k6 is not installed (looked for "${bin}" on PATH)`, { exitCode: ExitCode.Failure, hint: INSTALL_HINT }));
        else reject(err);
      });
      child.on('close', resolve);
    });
    let data: unknown;
    try {
      data = JSON.parse(await readFile(summaryFile, 'utf8'));
    } catch {
      throw new RetailctlError('K6_FAILED', `k6 exited with code ${code} without a summary (of ${profile.url})`, { exitCode: ExitCode.Failure, hint: 'rerun with -v to see k6\'s output' });
    }
    return summarize(data as Parameters<typeof summarize>[0]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
