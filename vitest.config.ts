import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          // Workflows on Temporal's time-skipping test server with typed fakes of their activities: no stack.
          name: 'workflows',
          include: ['test/workflows/**/*.test.ts'],
          environment: 'node',
          // The test server installed and the workflows bundled once per run, not per file.
          globalSetup: ['test/support/workflows-global-setup.ts'],
          sequence: { groupOrder: 0 },
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // Integration and browser tests share one set of real servers.
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          sequence: { groupOrder: 1 },
          // Real servers (Langflow, Temporal, chromium) on two cores: one file at a time keeps
          // timings honest (Lighthouse, timeouts) at the cost of a longer run.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
