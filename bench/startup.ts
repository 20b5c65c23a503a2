/**
 * Cold start: `retailctl --help` and `retailctl doctor --help` next to bare `node -e 0`,
 * measured in the same run, interleaved, median of N. Goal: --help at most 25 ms over node.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'retailctl.js');

export interface StartupFigures {
  runs: number;
  medians: Record<string, number>;
  /** 25th and 75th percentiles: how noisy the machine was during the run. */
  quartiles: Record<string, [number, number]>;
  overNodeMs: Record<string, number>;
  goalMs: number;
  goalMet: boolean;
}

function timeOnce(cmd: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const res = spawnSync(cmd, args, { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.status}`);
  return ms;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function benchStartup(runs = 20): StartupFigures {
  const cases: Record<string, [string, string[]]> = {
    'node -e 0': [process.execPath, ['-e', '0']],
    'retailctl --help': [process.execPath, [BIN, '--help']],
    'retailctl doctor --help': [process.execPath, [BIN, 'doctor', '--help']],
    'retailctl --version': [process.execPath, [BIN, '--version']],
  };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const [cmd, args] of Object.values(cases)) timeOnce(cmd, args); // warm the page cache
  for (let i = 0; i < runs; i++) {
    for (const [name, [cmd, args]] of Object.entries(cases)) samples[name]!.push(timeOnce(cmd, args));
  }
  const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, quantile(v, 0.5)]));
  const quartiles = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, [quantile(v, 0.25), quantile(v, 0.75)] as [number, number]]));
  const base = medians['node -e 0']!;
  const overNodeMs = Object.fromEntries(Object.entries(medians).filter(([k]) => k !== 'node -e 0').map(([k, v]) => [k, v - base]));
  const goalMs = 25;
  return { runs, medians, quartiles, overNodeMs, goalMs, goalMet: overNodeMs['retailctl --help']! <= goalMs };
}

export function printStartup(f: StartupFigures): void {
  const base = f.medians['node -e 0']!;
  console.log(`\nCold start, median of ${f.runs} interleaved runs (Node ${process.version}, ${process.env.NODE_EXTRA_CA_CERTS ? 'NODE_EXTRA_CA_CERTS set' : 'no extra CA certs'})`);
  console.log(`${'command'.padEnd(26)}${'median ms'.padStart(10)}${'p25-p75'.padStart(14)}${'over node'.padStart(12)}${'ratio'.padStart(8)}`);
  for (const [name, ms] of Object.entries(f.medians)) {
    const over = name === 'node -e 0' ? '' : `+${(ms - base).toFixed(1)}`;
    const [q1, q3] = f.quartiles[name]!;
    console.log(`${name.padEnd(26)}${ms.toFixed(1).padStart(10)}${`${q1.toFixed(0)}-${q3.toFixed(0)}`.padStart(14)}${over.padStart(12)}${(ms / base).toFixed(2).padStart(8)}x`);
  }
  console.log(`goal: retailctl --help at most ${f.goalMs} ms over node -e 0: ${f.goalMet ? 'met' : 'NOT met'} (+${f.overNodeMs['retailctl --help']!.toFixed(1)} ms)`);
}
