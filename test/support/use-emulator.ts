import { beforeAll, inject } from 'vitest';
import { EmulatorControl, EMULATOR_CREDENTIALS } from './emulator.js';

/**
 * For a test file that talks to the emulator: resets all AWS state before the file runs and
 * returns the endpoint, a control client, and an environment for spawning retailctl.
 * Each worker has its own emulator (VITEST_POOL_ID picks it) and runs one file at a time, so a
 * reset never hits another file's state.
 */
export function useEmulator(): { endpoint: string; control: EmulatorControl; env: Record<string, string> } {
  const endpoints = inject('emulatorEndpoints');
  const pool = Number(process.env.VITEST_POOL_ID ?? '1');
  const endpoint = endpoints[(pool - 1) % endpoints.length]!;
  const control = new EmulatorControl(endpoint);
  // In-process SDK clients read credentials from the environment: make sure they are the
  // emulator's dummy ones, never a developer's real ones.
  Object.assign(process.env, EMULATOR_CREDENTIALS);
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  beforeAll(async () => {
    await control.reset();
  });
  return { endpoint, control, env: { ...EMULATOR_CREDENTIALS, AWS_ENDPOINT_URL: endpoint } };
}
