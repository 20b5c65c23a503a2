import { defineConfig } from 'vitest/config';

const env = {
  // Node 20 is supported; keep the SDK's Node 22 notice out of test logs.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export default defineConfig({
  test: {
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
          // one moto for all files; each file resets it, so files must not overlap
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 120_000,
          env,
        },
      },
    ],
  },
});
