import { describe, expect, it } from 'vitest'
import { topFinding } from './harness/expect.ts'
import { runScenario } from './harness/scenario.ts'

describe.each(['express', 'fastify', 'koa'] as const)('timer-driven waits on %s', (framework) => {
  it('is waited-on-task with no outgoing call at its root', async () => {
    const { analysis } = await runScenario({
      scenario: 'batch-timer',
      framework,
      path: (i) => `/events/${i}`,
      concurrency: 12,
    })
    const top = topFinding(analysis, 'waited-on-task')
    expect(top.waitedOn).toBeNull()
    // Many requests released at once by the flush, none by a call of its own.
    expect(top.requests).toBeGreaterThanOrEqual(2)
    expect(analysis.findings.some((f) => f.kind === 'waited-on-upstream')).toBe(false)
  })
})
