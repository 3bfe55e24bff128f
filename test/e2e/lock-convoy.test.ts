import { describe, expect, it } from 'vitest'
import { topFinding } from './harness/expect.ts'
import { runScenario } from './harness/scenario.ts'

describe.each(['express', 'fastify', 'koa'] as const)('lock convoy on %s', (framework) => {
  it('is waited-on-task: requests queued behind lock holders and their ledger call', async () => {
    const { analysis } = await runScenario({
      scenario: 'lock-convoy',
      framework,
      path: (i) => `/accounts/${i % 3}/deposit`,
      concurrency: 8,
      upstream: { '/ledger': 100 },
    })
    const top = topFinding(analysis, 'waited-on-task')
    expect(top.waitedOn?.method).toBe('POST')
    expect(top.waitedOn?.url).toMatch(/\/ledger$/)
    expect(top.requests).toBeGreaterThanOrEqual(1)
  })
})
