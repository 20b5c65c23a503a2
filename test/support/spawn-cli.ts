import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './moto.js';

export const BIN = path.join(ROOT, 'bin', 'retailctl.js');

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
