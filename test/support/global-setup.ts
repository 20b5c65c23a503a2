import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmulator, type Emulator } from './emulator.js';
import { ROOT } from './moto.js';

let emulators: Emulator[] = [];

/**
 * How many emulator files run at once: one emulator (moto + shim) each, so a file's reset never
 * touches another file's state. RETAILCTL_TEST_WORKERS overrides (1 = one file at a time).
 */
export function emulatorWorkers(): number {
  const asked = Number(process.env.RETAILCTL_TEST_WORKERS);
  if (Number.isInteger(asked) && asked > 0) return asked;
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/** Start one emulator per worker for the integration and e2e tests; test files reset theirs before they run. */
export async function setup(project: TestProject): Promise<void> {
  const n = emulatorWorkers();
  emulators = await Promise.all(
    Array.from({ length: n }, (_, i) => startEmulator({ log: (line) => process.stderr.write(`[emulator ${i + 1}] ${line}\n`) })),
  );
  for (const [i, e] of emulators.entries()) process.stderr.write(`[emulator ${i + 1}] moto ${e.motoVersion} at ${e.motoEndpoint}, shim at ${e.endpoint}\n`);
  project.provide('emulatorEndpoints', emulators.map((e) => e.endpoint));
}

export async function teardown(): Promise<void> {
  await Promise.all(emulators.map((e) => e.stop()));
  // the runs' HOME: a test that let retailctl write its state there would leave it in the repository
  const home = path.join(ROOT, 'test', 'fixtures', 'empty-home');
  const left = readdirSync(home).filter((f) => f !== '.keep');
  if (left.length) throw new Error(`a test wrote into ${home}: ${left.join(', ')} (give its runs RETAILCTL_STATE_DIR)`);
}

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorEndpoints: string[];
  }
}
