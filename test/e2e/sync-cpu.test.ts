import { describe, expect, it } from 'vitest'
import { topFinding } from './harness/expect.ts'
import { runScenario } from './harness/scenario.ts'

describe.each(['express', 'fastify', 'koa'] as const)('synchronous CPU work on %s', (framework) => {
  it('is blocked-loop, naming the function that computed', async () => {
    const { analysis } = await runScenario({
      scenario: 'sync-cpu',
      framework,
      path: (i) => (i % 10 === 0 ? '/report' : '/health'),
      concurrency: 3,
    })
    const top = topFinding(analysis, 'blocked-loop')
    expect(top.culprit?.function).toBe('countPrimes')
    expect(top.culprit?.file).toMatch(/test\/e2e\/apps\/scenarios\/sync-cpu\.ts$/)
    expect(top.waitedOn).toBeNull()
    expect(analysis.trigger.route).toBe('/report')
  })
})
