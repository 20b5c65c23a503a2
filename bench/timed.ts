/**
 * Run a command under GNU time (/usr/bin/time): wall seconds, CPU seconds (user + system, every
 * thread and child), peak RSS and stdout. Shared by the benchmarks that compare processes.
 */
import { spawn } from 'node:child_process';

export interface Timed {
  wallS: number;
  cpuS: number;
  rssMb: number;
  ok: boolean;
  /** The last lines of stderr when the command failed. */
  note?: string;
  stdout: string;
}

export function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', cmd, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+)\s*$/.exec(stderr.trim());
      if (!m) return reject(new Error(`no timing from ${cmd}: ${stderr.slice(-800)}`));
      resolve({ wallS: Number(m[1]), cpuS: Number(m[2]) + Number(m[3]), rssMb: Math.round(Number(m[4]) / 1024), ok: code === 0, ...(code === 0 ? {} : { note: stderr.trim().split('\n').slice(-3, -1).join(' | ') }), stdout });
    });
  });
}
