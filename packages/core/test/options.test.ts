/**
 * Every option of FlightRecorder (and of pinoDestination) is validated at
 * construction: a wrong type throws a TypeError, a value out of range a
 * RangeError; both name the option and carry code ERR_FLIGHTREC_INVALID_OPTION.
 */
import { describe, expect, it } from 'vitest'
import { FlightRecorder, pinoDestination, recorderDefaults } from '../src/index.ts'

interface Case {
  option: string
  options: Record<string, unknown>
}

const wrongType: Case[] = [
  { option: 'options', options: null as unknown as Record<string, unknown> },
  { option: 'minAge', options: { minAge: '10s' } },
  { option: 'minAge', options: { minAge: Number.NaN } },
  { option: 'maxBytes', options: { maxBytes: '10MB' } },
  { option: 'level', options: { level: 2 } },
  { option: 'causalAfterTrigger', options: { causalAfterTrigger: true } },
  { option: 'samplingInterval', options: { samplingInterval: '1ms' } },
  { option: 'profileWindow', options: { profileWindow: [] } },
  { option: 'stallThreshold', options: { stallThreshold: {} } },
  { option: 'counterInterval', options: { counterInterval: null } },
  { option: 'allow', options: { allow: 'everything' } },
  { option: 'allow.queryString', options: { allow: { queryString: 'yes' } } },
  { option: 'allow.headers', options: { allow: { headers: 'user-agent' } } },
  { option: 'allow.headers', options: { allow: { headers: ['user-agent', 42] } } },
  { option: 'allow', options: { allow: { body: true } } },
  { option: 'logger', options: { logger: 'console' } },
  { option: 'logger.warn', options: { logger: { error() {} } } },
  { option: 'logger.error', options: { logger: { warn() {} } } },
  { option: 'maxbytes', options: { maxbytes: 1024 } },
]

const outOfRange: Case[] = [
  { option: 'minAge', options: { minAge: -1 } },
  { option: 'minAge', options: { minAge: Number.POSITIVE_INFINITY } },
  { option: 'maxBytes', options: { maxBytes: 1024 } },
  { option: 'maxBytes', options: { maxBytes: 1.5 * 1024 * 1024 + 0.5 } },
  { option: 'level', options: { level: 'verbose' } },
  { option: 'causalAfterTrigger', options: { causalAfterTrigger: -5 } },
  { option: 'samplingInterval', options: { samplingInterval: 10 } },
  { option: 'samplingInterval', options: { samplingInterval: 2_000_000 } },
  { option: 'samplingInterval', options: { samplingInterval: 100.5 } },
  { option: 'profileWindow', options: { profileWindow: 50 } },
  { option: 'profileWindow', options: { profileWindow: 120_000 } },
  { option: 'stallThreshold', options: { stallThreshold: 0 } },
  { option: 'counterInterval', options: { counterInterval: 1 } },
  { option: 'allow.headers', options: { allow: { headers: ['user agent'] } } },
  { option: 'allow.headers', options: { allow: { headers: [''] } } },
  {
    option: 'allow.headers',
    options: { allow: { headers: Array.from({ length: 33 }, (_, i) => `x-h${i}`) } },
  },
]

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a throw')
}

describe('FlightRecorder options', () => {
  it.each(wrongType)('$option of the wrong type: TypeError naming it', ({ option, options }) => {
    const err = thrown(() => new FlightRecorder(options))
    expect(err).toBeInstanceOf(TypeError)
    expect(err.name).toBe('TypeError')
    expect(err.code).toBe('ERR_FLIGHTREC_INVALID_OPTION')
    expect(err.message).toContain(option)
  })

  it.each(outOfRange)('$option out of range: RangeError naming it', ({ option, options }) => {
    const err = thrown(() => new FlightRecorder(options))
    expect(err).toBeInstanceOf(RangeError)
    expect(err.name).toBe('RangeError')
    expect(err.code).toBe('ERR_FLIGHTREC_INVALID_OPTION')
    expect(err.message).toContain(option)
  })

  it('fills in the defaults, and takes the limits themselves', () => {
    expect(new FlightRecorder().options).toMatchObject({
      minAge: recorderDefaults.minAge,
      maxBytes: recorderDefaults.maxBytes,
      level: 'default',
      samplingInterval: 10_000,
      allow: { queryString: false, headers: [] },
    })
    const edge = new FlightRecorder({
      minAge: 0,
      maxBytes: 16 * 1024,
      samplingInterval: 50,
      profileWindow: 100,
      stallThreshold: 1,
      counterInterval: 10,
      allow: { headers: ['User-Agent'] },
    })
    expect(edge.options.maxBytes).toBe(16 * 1024)
    expect(edge.options.allow.headers).toEqual(['user-agent'])
  })

  it('does not start anything at construction', () => {
    const fr = new FlightRecorder({ minAge: 1000 })
    expect(fr.enabled).toBe(false)
    expect(fr.windowBytes).toBe(0)
  })
})

describe('pinoDestination options', () => {
  it.each([
    { option: 'category', options: { category: 5 }, type: TypeError },
    { option: 'category', options: { category: '' }, type: TypeError },
    { option: 'minLevel', options: { minLevel: 'info' }, type: TypeError },
    { option: 'minLevel', options: { minLevel: -10 }, type: RangeError },
    { option: 'level', options: { level: 30 }, type: TypeError },
  ])('$option: $type.name naming it', ({ option, options, type }) => {
    const err = thrown(() => pinoDestination(options as never))
    expect(err).toBeInstanceOf(type)
    expect(err.code).toBe('ERR_FLIGHTREC_INVALID_OPTION')
    expect(err.message).toContain(option)
  })
})
