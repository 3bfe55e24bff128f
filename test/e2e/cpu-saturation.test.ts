import { describe, expect, it } from 'vitest'
import { topFinding } from './harness/expect.ts'
import { runScenario } from './harness/scenario.ts'

describe.each(['express', 'fastify', 'koa'] as const)('a saturated loop on %s', (framework) => {
  it('is cpu-saturated, naming where the CPU went', async () => {
    const { analysis } = await runScenario({
      scenario: 'cpu-saturation',
      framework,
      path: (i) => `/score/${i}`,
      concurrency: 32,
      upstream: { '/cache/': 2 },
    })
    const top = topFinding(analysis, 'cpu-saturated')
    expect(top.culprit?.function).toBe('scoreEntry')
    expect(top.requests).toBeGreaterThanOrEqual(2)
  })
})
