/**
 * `retailctl cdn failover --yes` overhead against the local emulator (moto + shim): AWS calls made
 * and wall time including process start, everything except waiting for INSYNC (--wait 0).
 * Goal: at most 6 AWS calls for a two-record group, under 1.5 s wall.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCdnFixture, type Routing } from '../test/support/cdn-fixtures.js';
import { EmulatorControl, startEmulator } from '../test/support/emulator.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'retailctl.js');

export interface CdnFigures {
  routing: Routing;
  records: number;
  runs: number;
  medianWallMs: number;
  /** AWS calls per run (every run of a kind makes the same calls). */
  calls: Record<string, number>;
  callList: string[];
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export async function benchCdn(runs = 6): Promise<CdnFigures[]> {
  const emulator = await startEmulator();
  const control = new EmulatorControl(emulator.endpoint);
  const figures: CdnFigures[] = [];
  try {
    for (const routing of ['weighted', 'failover'] as const) {
      const fixture = await createCdnFixture(emulator.endpoint, routing, { records: ['www', '@'] });
      const walls: number[] = [];
      const calls: Record<string, number> = {};
      let callList: string[] = [];
      for (let i = 0; i < runs; i++) {
        const action = i % 2 === 0 ? 'failover' : 'failback';
        await control.clearRequests();
        const started = process.hrtime.bigint();
        // asynchronously: the emulator's shim runs in this process and must keep answering
        const res = await run(process.execPath, [BIN, 'cdn', action, '--yes', '--wait', '0', '--config', fixture.configFile], { ...process.env, ...emulator.env, CI: 'true' });
        walls.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (res.status !== 0) throw new Error(`cdn ${action} exited ${res.status}: ${res.stderr}`);
        const requests = (await control.requests()).map((r) => `${r.service}:${r.operation ?? `${r.method} ${r.path.replace(/\/[A-Z0-9]{10,}|[0-9a-f-]{36}/g, '/…').split('?')[0]}`}`);
        calls[action] = requests.length;
        if (action === 'failover') callList = requests;
      }
      fixture.close();
      figures.push({ routing, records: 2, runs, medianWallMs: median(walls), calls, callList });
    }
  } finally {
    await emulator.stop();
  }
  return figures;
}

export function printCdn(figures: CdnFigures[]): void {
  console.log('\ncdn failover --yes --wait 0 against the emulator, two-record group (process start included, INSYNC wait excluded)');
  console.log(`${'routing'.padEnd(10)}${'median wall ms'.padStart(16)}${'AWS calls failover/failback'.padStart(30)}`);
  for (const f of figures) console.log(`${f.routing.padEnd(10)}${f.medianWallMs.toFixed(0).padStart(16)}${`${f.calls.failover}/${f.calls.failback}`.padStart(30)}`);
  for (const f of figures) console.log(`  ${f.routing} failover calls: ${f.callList.join(', ')}`);
  const weighted = figures.find((f) => f.routing === 'weighted')!;
  const callsOk = Math.max(weighted.calls.failover ?? 99, weighted.calls.failback ?? 99) <= 6;
  console.log(`goal (weighted, the configured routing): at most 6 AWS calls and under 1500 ms: ${callsOk && weighted.medianWallMs < 1500 ? 'met' : 'NOT met'}`);
  const failover = figures.find((f) => f.routing === 'failover');
  if (failover) {
    const n = failover.calls.failover ?? 99;
    console.log(`goal (failover routing): at most 6 AWS calls per failover: ${n <= 6 ? 'met' : `NOT met (${n}: the records' listing, both checks' status, their details, the caller, the guard write and the inversion)`}`);
  }
}
