import { defineConfig } from 'vitest/config';
import { emulatorWorkers } from './test/support/global-setup.js';

const env = {
  // Node 20 is supported; keep the SDK's Node 22 notice out of test logs.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export default defineConfig({
  test: {
    // one emulator per worker (test/support/global-setup.ts): a file resets only its own
    maxWorkers: emulatorWorkers(),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          env,
        },
      },
      {
        test: {
          name: 'emulator',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
          env,
        },
      },
    ],
  },
});
