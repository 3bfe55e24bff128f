import type { Analysis, Finding } from '@flightrec/cli'
import { expect } from 'vitest'

/**
 * The top finding, asserting it is of `kind`; on failure the message lists
 * every finding, so a wrong answer explains itself.
 */
export function topFinding(analysis: Analysis, kind: Finding['kind']): Finding {
  const listing = analysis.findings
    .map((f) => `${f.kind} ${f.ms} ms (${f.requests} req): ${f.summary}`)
    .join('\n')
  expect(
    analysis.findings.length,
    `no findings; requests: ${JSON.stringify(analysis.requests)}`,
  ).toBeGreaterThan(0)
  expect(analysis.findings[0].kind, listing).toBe(kind)
  return analysis.findings[0]
}
