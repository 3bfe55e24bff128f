import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Tests start real servers, profilers and child processes: run files in
    // separate processes (the recorder is process-wide) and allow slow machines.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
