import { describe, expect, it } from 'vitest'
import { topFinding } from './harness/expect.ts'
import { runScenario } from './harness/scenario.ts'

describe.each(['express', 'fastify', 'koa'] as const)('slow upstream on %s', (framework) => {
  it('is waited-on-upstream, naming the upstream endpoint', async () => {
    const { analysis } = await runScenario({
      scenario: 'slow-upstream',
      framework,
      path: (i) => (i % 4 === 0 ? '/health' : `/quote/S${i % 7}`),
      concurrency: 4,
      upstream: { '/quotes/': 400 },
    })
    const top = topFinding(analysis, 'waited-on-upstream')
    expect(top.waitedOn?.method).toBe('GET')
    expect(top.waitedOn?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/quotes\//)
    expect(top.requests).toBeGreaterThanOrEqual(1)
    expect(analysis.trigger).toMatchObject({ method: 'GET', route: '/quote/:symbol' })
  })
})
