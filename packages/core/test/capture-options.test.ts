import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { resolveCaptureOptions } from '../src/capture/options.ts'
import { captureDefaults, FlightRecorder } from '../src/index.ts'

describe('resolveCaptureOptions', () => {
  it('fills in every default', () => {
    const o = resolveCaptureOptions(undefined)
    expect(o).toMatchObject({
      threshold: 100,
      maxSnapshots: 1,
      cooldown: 0,
      keepRecording: false,
      eventLoopStall: undefined,
      dir: process.cwd(),
      recorderOptions: { minAge: 10_000, maxBytes: 10 * 1024 * 1024, explicit: [] },
    })
    expect(captureDefaults).toMatchObject({ threshold: 100, maxSnapshots: 1, cooldown: 0 })
  })

  it('takes a number as the threshold, and sizes minAge to twice it when that is longer', () => {
    expect(resolveCaptureOptions(250).threshold).toBe(250)
    expect(resolveCaptureOptions(250).recorderOptions.minAge).toBe(10_000)
    expect(resolveCaptureOptions(8_000).recorderOptions.minAge).toBe(16_000)
    expect(resolveCaptureOptions({ threshold: 8_000, minAge: 1_000 }).recorderOptions).toEqual({
      minAge: 1_000,
      maxBytes: 10 * 1024 * 1024,
      explicit: ['minAge'],
    })
  })

  it('resolves dir at construction; onSnapshot alone means no file', () => {
    expect(resolveCaptureOptions({ dir: 'snapshots' }).dir).toBe(resolve('snapshots'))
    expect(resolveCaptureOptions({ onSnapshot: () => {} }).dir).toBeUndefined()
    expect(resolveCaptureOptions({ onSnapshot: () => {}, dir: '/tmp' }).dir).toBe('/tmp')
  })

  it('uses the adapter logger unless one is given', () => {
    const adapterLogger = { warn() {}, error() {} }
    const userLogger = { info() {}, warn() {}, error() {} }
    expect(resolveCaptureOptions({}, adapterLogger).logger).toBe(adapterLogger)
    expect(resolveCaptureOptions({ logger: userLogger }, adapterLogger).logger).toBe(userLogger)
  })

  it('accepts Infinity as maxSnapshots', () => {
    expect(resolveCaptureOptions({ maxSnapshots: Number.POSITIVE_INFINITY }).maxSnapshots).toBe(
      Number.POSITIVE_INFINITY,
    )
  })

  const wrongType: Array<[string, Record<string, unknown>]> = [
    ['threshold', { threshold: '100' }],
    ['trigger', { trigger: 'slow' }],
    ['ignore', { ignore: {} }],
    ['maxSnapshots', { maxSnapshots: '2' }],
    ['cooldown', { cooldown: null }],
    ['eventLoopStall', { eventLoopStall: true }],
    ['keepRecording', { keepRecording: 1 }],
    ['dir', { dir: 42 }],
    ['onSnapshot', { onSnapshot: 'file' }],
    ['logger', { logger: 'pino' }],
    ['logger.error', { logger: { warn() {} } }],
    ['logger.warn', { logger: { error() {} } }],
    ['logger.info', { logger: { info: 1, warn() {}, error() {} } }],
    ['minAge', { minAge: '10s' }],
    ['maxBytes', { maxBytes: {} }],
    ['recorder', { recorder: {} }],
    ['options', { treshold: 100 }],
  ]
  it.each(wrongType)('throws a TypeError naming %s', (name, options) => {
    const call = () => resolveCaptureOptions(options)
    expect(call).toThrow(TypeError)
    expect(call).toThrow(name === 'options' ? /treshold/ : name)
    expect(call).toThrow(expect.objectContaining({ code: 'ERR_FLIGHTREC_INVALID_OPTION' }))
  })

  const outOfRange: Array<[string, Record<string, unknown>]> = [
    ['threshold', { threshold: -1 }],
    ['threshold', { threshold: Number.POSITIVE_INFINITY }],
    ['maxSnapshots', { maxSnapshots: 0 }],
    ['maxSnapshots', { maxSnapshots: 1.5 }],
    ['cooldown', { cooldown: -5 }],
    ['eventLoopStall', { eventLoopStall: 0 }],
    ['minAge', { minAge: -1 }],
    ['maxBytes', { maxBytes: 1024 }],
  ]
  it.each(outOfRange)('throws a RangeError naming %s', (name, options) => {
    const call = () => resolveCaptureOptions(options)
    expect(call).toThrow(RangeError)
    expect(call).toThrow(name)
  })

  it('rejects an empty dir', () => {
    expect(() => resolveCaptureOptions({ dir: '' })).toThrow(
      expect.objectContaining({
        code: 'ERR_FLIGHTREC_INVALID_OPTION',
        message: expect.stringMatching(/^dir /),
      }),
    )
  })

  it('rejects options that are not an object or a number', () => {
    expect(() => resolveCaptureOptions('fast' as never)).toThrow(TypeError)
    expect(() => resolveCaptureOptions(Number.NaN)).toThrow(/threshold/)
  })

  it('accepts a FlightRecorder as recorder', () => {
    const recorder = new FlightRecorder()
    expect(resolveCaptureOptions({ recorder }).recorder).toBe(recorder)
  })
})
