// Two projects:
// - unit: src/**/*.test.ts, next to the code, files in parallel.
// - e2e: test/e2e/**/*.test.ts, the built CLI as a child process against real servers on
//   loopback (registry, dockerd, skopeo, ctr). One file at a time: each file starts its own
//   dockerd and registries, and on a 2-core box parallel files starve each other into
//   timeouts. Long timeouts, and a global setup that builds dist/ first so the CLI under test
//   is never stale.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    teardownTimeout: 60_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
