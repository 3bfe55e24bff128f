import { describe, expect, it } from 'vitest'
import { topFinding } from './harness/expect.ts'
import { runScenario } from './harness/scenario.ts'

describe.each(['express', 'fastify', 'koa'] as const)('GC pressure on %s', (framework) => {
  it('is gc', async () => {
    const { analysis } = await runScenario({
      scenario: 'gc-pressure',
      framework,
      path: (i) => `/search/${i}`,
      concurrency: 4,
      // A container with a memory limit and one CPU, and a collector that stops the world.
      nodeFlags: ['--single-threaded-gc', '--no-incremental-marking', '--max-old-space-size=448'],
    })
    const top = topFinding(analysis, 'gc')
    expect(top.culprit).toBeNull()
    expect(analysis.gc.totalMs).toBeGreaterThan(0)
    expect(analysis.gc.duringSlowMs).toBeGreaterThan(0)
  })
})
