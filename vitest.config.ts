import { defineConfig } from 'vitest/config'

/**
 * Tests start real servers, profilers and child processes: files run in
 * separate processes (the recorder is process-wide) with room for slow
 * machines. The end-to-end scenarios and the demo run apps that saturate a
 * CPU or trigger at the blog's 100 ms: they run after the rest, one file at
 * a time, so that no other test file competes with them for the 2 CPUs.
 */
const shared = { pool: 'forks', testTimeout: 60_000, hookTimeout: 60_000 } as const
const endToEnd = ['examples/*/test/**/*.test.ts', 'test/e2e/**/*.test.ts']

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit and integration',
          include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...endToEnd],
        },
      },
      {
        test: {
          ...shared,
          name: 'end to end',
          include: endToEnd,
          exclude: ['**/node_modules/**'],
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
