import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, RetailctlError } from '../errors.js';
import type { LoadProfile } from './script.js';
import { type K6Summary, type LoadResult, summarize } from './summary.js';

const INSTALL_HINT = 'install k6 (https://grafana.com/docs/k6/latest/set-up/install-k6/, e.g. `brew install k6` or the Debian/RPM packages from Grafana) or set K6_PATH to its binary';

/** k6's own exit codes (go.k6.io/k6/errext/exitcodes) that still come with a summary worth reading. */
export const K6_EXIT = { ok: 0, thresholdsFailed: 99 } as const;
/** What k6's other exit codes mean, for the message. */
const K6_EXIT_MEANING: Record<number, string> = {
  100: 'setup() timed out',
  101: 'teardown() timed out',
  103: 'engine error',
  104: 'invalid options',
  105: 'aborted from outside',
  107: 'the script threw an exception',
  108: 'the script called test.abort()',
  109: 'k6 crashed',
};

/** A finished k6 run: the numbers, k6's exit code, and the summary file's text as k6 wrote it. */
export interface K6Run {
  result: LoadResult;
  exitCode: number;
  summaryText: string;
}

/**
 * Run `k6 run --summary-export` on the script, streaming its output lines (progress included) to
 * `onLine`; only the script's URL is requested. k6 exits 0 or 99 (thresholds crossed, also when one
 * aborted the run) with a summary; anything else, or no summary, is a failed k6 (exit 1).
 */
export async function runK6(script: string, profile: LoadProfile, opts: { env: NodeJS.ProcessEnv; signal: AbortSignal; onLine: (line: string) => void }): Promise<K6Run> {
  const bin = opts.env.K6_PATH || 'k6';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retailctl-k6-'));
  try {
    const scriptFile = path.join(dir, 'spike.js');
    const summaryFile = path.join(dir, 'summary.json');
    await writeFile(scriptFile, script);
    const tail: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(bin, ['run', '--no-color', '--summary-export', summaryFile, scriptFile], {
        env: { ...opts.env, K6_NO_USAGE_REPORT: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
        signal: opts.signal,
      });
      const forward = (chunk: Buffer) =>
        chunk
          .toString()
          .split(/\r?\n/)
          .filter((l) => l.trim())
          .forEach((l) => {
            tail.push(l);
            if (tail.length > 5) tail.shift();
            opts.onLine(l);
          });
      child.stdout.on('data', forward);
      child.stderr.on('data', forward);
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') reject(new RetailctlError('K6_NOT_FOUND', `k6 is not installed (looked for "${bin}" on PATH)`, { exitCode: ExitCode.Failure, hint: INSTALL_HINT }));
        else if (err.code === 'EACCES') reject(new RetailctlError('K6_NOT_FOUND', `k6 at "${bin}" cannot be run (not executable)`, { exitCode: ExitCode.Failure, hint: INSTALL_HINT }));
        else reject(err);
      });
      child.on('close', resolve);
    });
    const last = tail.length ? `; its last output: ${tail.at(-1)}` : '';
    if (code !== K6_EXIT.ok && code !== K6_EXIT.thresholdsFailed) {
      const meaning = code === null ? 'was killed' : `exited with code ${code}${K6_EXIT_MEANING[code] ? ` (${K6_EXIT_MEANING[code]})` : ''}`;
      throw new RetailctlError('K6_FAILED', `k6 ${meaning} testing ${profile.url}${last}`, { exitCode: ExitCode.Failure, hint: 'rerun with -v to see all of k6\'s output' });
    }
    let summaryText: string;
    let data: K6Summary;
    try {
      summaryText = await readFile(summaryFile, 'utf8');
      data = JSON.parse(summaryText) as K6Summary;
    } catch {
      throw new RetailctlError('K6_FAILED', `k6 exited with code ${code} without a summary (of ${profile.url})${last}`, { exitCode: ExitCode.Failure, hint: 'rerun with -v to see all of k6\'s output' });
    }
    const result = summarize(data);
    // k6 says 99 when a threshold was crossed, whatever the summary's booleans say
    if (code === K6_EXIT.thresholdsFailed) result.passed = false;
    return { result, exitCode: code, summaryText };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
