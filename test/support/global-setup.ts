import type { TestProject } from 'vitest/node';
import { startEmulator, type Emulator } from './emulator.js';

let emulator: Emulator | undefined;

/** Start one emulator (moto + shim) for the integration and e2e tests; test files reset it before they run. */
export async function setup(project: TestProject): Promise<void> {
  emulator = await startEmulator({ log: (line) => process.stderr.write(`[emulator] ${line}\n`) });
  process.stderr.write(`[emulator] moto ${emulator.motoVersion} at ${emulator.motoEndpoint}, shim at ${emulator.endpoint}\n`);
  project.provide('emulatorEndpoint', emulator.endpoint);
}

export async function teardown(): Promise<void> {
  await emulator?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorEndpoint: string;
  }
}
