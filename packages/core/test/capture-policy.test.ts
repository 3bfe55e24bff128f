import { describe, expect, it } from 'vitest'
import { type CaptureOptions, resolveCaptureOptions } from '../src/capture/options.ts'
import { TriggerPolicy } from '../src/capture/policy.ts'
import type { TimedRequest } from '../src/capture/types.ts'
import { ErrorReporter } from '../src/logger.ts'
import { captureLogger } from './capture-helpers.ts'

function timed(durationMs: number, extra: Partial<TimedRequest> = {}): TimedRequest {
  return {
    requestId: 1,
    framework: 'test',
    method: 'GET',
    route: '/things/:id',
    path: '/things/1',
    status: 200,
    durationMs,
    aborted: false,
    errored: false,
    ...extra,
  }
}

function policyOf(options: CaptureOptions<string>, optedOut?: (subject: string) => boolean) {
  const { logger, lines } = captureLogger()
  const errors = new ErrorReporter(logger)
  return {
    policy: new TriggerPolicy(resolveCaptureOptions(options), optedOut, errors),
    lines,
    errors,
  }
}

describe('TriggerPolicy', () => {
  it('triggers on requests slower than the threshold, not equal to it', () => {
    const { policy } = policyOf({ threshold: 100 })
    expect(policy.triggers(timed(100.001), 'a')).toBe(true)
    expect(policy.triggers(timed(100), 'a')).toBe(false)
    expect(policy.triggers(timed(3), 'a')).toBe(false)
  })

  it('lets the trigger predicate replace the threshold test', () => {
    const seen: TimedRequest[] = []
    const { policy } = policyOf({
      threshold: 100,
      trigger: (r) => {
        seen.push(r)
        return r.status >= 500 || r.errored
      },
    })
    expect(policy.triggers(timed(1, { status: 503 }), 'a')).toBe(true)
    expect(policy.triggers(timed(1, { errored: true }), 'a')).toBe(true)
    expect(policy.triggers(timed(5_000), 'a')).toBe(false)
    expect(seen.map((r) => r.durationMs)).toEqual([1, 1, 5_000])
  })

  it('counts only a literal true from the predicate (an async predicate never triggers)', () => {
    const { policy } = policyOf({ trigger: (async () => true) as never })
    expect(policy.triggers(timed(1), 'a')).toBe(false)
  })

  it('treats a throwing callback as "no" and logs it once', () => {
    const { policy, lines, errors } = policyOf({
      trigger: () => {
        throw new Error('bad predicate')
      },
    })
    expect(policy.triggers(timed(1_000), 'a')).toBe(false)
    expect(policy.triggers(timed(1_000), 'a')).toBe(false)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 50, code: 'ERR_FLIGHTREC_CALLBACK_FAILED' })
    expect(errors.toJSON()).toEqual({ ERR_FLIGHTREC_CALLBACK_FAILED: 2 })
  })

  it('asks ignore and the opt-out only about requests that would trigger', () => {
    const asked: string[] = []
    const { policy } = policyOf(
      {
        threshold: 10,
        ignore: (subject) => {
          asked.push(`ignore ${subject}`)
          return subject === 'health'
        },
      },
      (subject) => {
        asked.push(`opt-out ${subject}`)
        return subject === 'metrics'
      },
    )
    expect(policy.triggers(timed(1), 'health')).toBe(false)
    expect(asked).toEqual([])
    expect(policy.triggers(timed(50), 'health')).toBe(false)
    expect(policy.triggers(timed(50), 'metrics')).toBe(false)
    expect(policy.triggers(timed(50), 'users')).toBe(true)
    expect(asked).toEqual([
      'opt-out health',
      'ignore health',
      'opt-out metrics',
      'opt-out users',
      'ignore users',
    ])
  })

  it('spends the budget, refunds failures, and keeps the cooldown', () => {
    const { policy } = policyOf({ maxSnapshots: 2, cooldown: 1_000 })
    expect(policy.allows(0)).toBe(true)
    policy.take(0)
    expect(policy.allows(999)).toBe(false)
    expect(policy.allows(1_000)).toBe(true)
    policy.take(1_000)
    expect(policy.hasBudget).toBe(false)
    expect(policy.allows(10_000)).toBe(false)
    policy.refund()
    expect(policy.hasBudget).toBe(true)
    expect(policy.allows(1_500)).toBe(false)
    expect(policy.allows(2_000)).toBe(true)
  })
})
