import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './moto.js';

export const BIN = path.join(ROOT, 'bin', 'retailctl.js');

/** retailctl's own state (the record of applied plans) for the runs of this test file: never the developer's. */
export const STATE_DIR = mkdtempSync(path.join(os.tmpdir(), 'retailctl-test-state-'));

/** Another host's state, for a run that must not see what this file's runs applied. */
export const otherHost = () => ({ RETAILCTL_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), 'retailctl-other-host-')) });

export interface SpawnResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run the built binary exactly as CI does: CI=true, no TTY (stdin closed), a clean environment
 * with HOME pointing at an empty directory so no real ~/.aws profile can leak in.
 */
export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  home?: string;
  /** Send SIGINT this long after the start. */
  signalAfterMs?: number;
  /** Send these signals at these times after the start (e.g. SIGTERM, or SIGINT twice). */
  signals?: { afterMs: number; signal: NodeJS.Signals }[];
  /** Send SIGINT once this says so (asked every 50 ms): a point in the run, not a time that a busy machine may miss. */
  signalWhen?: () => Promise<boolean>;
  /** The signal `signalWhen` sends (default SIGINT), and more after it (times counted from that moment). */
  whenSignal?: NodeJS.Signals;
  afterWhen?: { afterMs: number; signal: NodeJS.Signals }[];
}

export function spawnCli(args: string[], options: SpawnOptions = {}): Promise<SpawnResult> {
  if (!existsSync(path.join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: options.home ?? path.join(ROOT, 'test', 'fixtures', 'empty-home'),
        CI: 'true',
        RETAILCTL_STATE_DIR: STATE_DIR,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    if (options.signalAfterMs !== undefined) setTimeout(() => child.kill('SIGINT'), options.signalAfterMs);
    for (const { afterMs, signal } of options.signals ?? []) setTimeout(() => child.kill(signal), afterMs);
    if (options.signalWhen) {
      const when = options.signalWhen;
      let done = false;
      child.on('close', () => (done = true));
      const ask = async (): Promise<void> => {
        if (done) return;
        if (await when().catch(() => false)) {
          if (done) return;
          child.kill(options.whenSignal ?? 'SIGINT');
          for (const { afterMs, signal } of options.afterWhen ?? []) setTimeout(() => !done && child.kill(signal), afterMs);
          return;
        }
        setTimeout(() => void ask(), 50);
      };
      void ask();
    }
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** util-linux `script` makes the pseudo-terminal the terminal tests run retailctl on. */
export const scriptAvailable = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    console.warn('skipping the terminal tests: util-linux `script` is not installed, so no pseudo-terminal can be made');
    return false;
  }
})();
