/**
 * Promise 4, bad options: every option of the recorder and of the adapters,
 * given a wrong type or a value out of range, throws at construction a
 * TypeError (type) or RangeError (range) that names the option and carries
 * code ERR_FLIGHTREC_INVALID_OPTION, and leaves nothing running.
 */
import dc from 'node:diagnostics_channel'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ErrorCodes,
  FlightRecorder,
  getProcessRecorder,
  resetProcessRecorder,
  SnapshotCapture,
} from '../../packages/core/src/index.ts'
import { flightRecorder as expressRecorder } from '../../packages/express/src/index.ts'
import { flightRecorder as fastifyRecorder } from '../../packages/fastify/src/index.ts'
import { flightRecorder as koaRecorder } from '../../packages/koa/src/index.ts'

type Kind = typeof TypeError | typeof RangeError

/** [option named in the message, options given, error class]. */
type Row = [string, unknown, Kind]

const noop = () => {}
const logger = { info: noop, warn: noop, error: noop }

/** Every option of FlightRecorder, each wrong in every way it can be. */
const recorderRows: Row[] = [
  ['options', null, TypeError],
  ['options', 5, TypeError],
  ['options', 'fast', TypeError],
  ['options', [], TypeError],
  ['maxbytes', { maxbytes: 1 << 20 }, TypeError],
  ['minAge', { minAge: '10s' }, TypeError],
  ['minAge', { minAge: Number.NaN }, TypeError],
  ['minAge', { minAge: -1 }, RangeError],
  ['minAge', { minAge: Number.POSITIVE_INFINITY }, RangeError],
  ['maxBytes', { maxBytes: '10MB' }, TypeError],
  ['maxBytes', { maxBytes: 1024 }, RangeError],
  ['maxBytes', { maxBytes: 65_536.5 }, RangeError],
  ['maxBytes', { maxBytes: Number.POSITIVE_INFINITY }, RangeError],
  ['level', { level: 2 }, TypeError],
  ['level', { level: 'verbose' }, RangeError],
  ['causalAfterTrigger', { causalAfterTrigger: true }, TypeError],
  ['causalAfterTrigger', { causalAfterTrigger: -5 }, RangeError],
  ['samplingInterval', { samplingInterval: '1ms' }, TypeError],
  ['samplingInterval', { samplingInterval: 10 }, RangeError],
  ['samplingInterval', { samplingInterval: 1_000_001 }, RangeError],
  ['samplingInterval', { samplingInterval: 100.5 }, RangeError],
  ['profileWindow', { profileWindow: null }, TypeError],
  ['profileWindow', { profileWindow: 50 }, RangeError],
  ['profileWindow', { profileWindow: 60_001 }, RangeError],
  ['stallThreshold', { stallThreshold: {} }, TypeError],
  ['stallThreshold', { stallThreshold: 0 }, RangeError],
  ['counterInterval', { counterInterval: [] }, TypeError],
  ['counterInterval', { counterInterval: 5 }, RangeError],
  ['allow', { allow: 'all' }, TypeError],
  ['allow', { allow: [] }, TypeError],
  ['allow', { allow: null }, TypeError],
  ['cookies', { allow: { cookies: true } }, TypeError],
  ['allow.queryString', { allow: { queryString: 'yes' } }, TypeError],
  ['allow.headers', { allow: { headers: 'authorization' } }, TypeError],
  ['allow.headers', { allow: { headers: [1] } }, TypeError],
  ['allow.headers', { allow: { headers: ['x request id'] } }, RangeError],
  [
    'allow.headers',
    { allow: { headers: Array.from({ length: 100 }, (_, i) => `x-${i}`) } },
    RangeError,
  ],
  ['logger', { logger: 'console' }, TypeError],
  ['logger.warn', { logger: {} }, TypeError],
  ['logger.error', { logger: { warn: noop, error: 5 } }, TypeError],
]

/** Every option shared by the adapters (core's CaptureOptions), each wrong in every way it can be. */
const captureRows: Row[] = [
  ['options', 'fast', TypeError],
  ['options', [], TypeError],
  ['treshold', { treshold: 100 }, TypeError],
  ['threshold', -1, RangeError],
  ['threshold', Number.NaN, TypeError],
  ['threshold', { threshold: '100' }, TypeError],
  ['threshold', { threshold: -1 }, RangeError],
  ['threshold', { threshold: Number.POSITIVE_INFINITY }, RangeError],
  ['trigger', { trigger: 'slow' }, TypeError],
  ['ignore', { ignore: true }, TypeError],
  ['maxSnapshots', { maxSnapshots: '2' }, TypeError],
  ['maxSnapshots', { maxSnapshots: 0 }, RangeError],
  ['maxSnapshots', { maxSnapshots: 1.5 }, RangeError],
  ['maxSnapshots', { maxSnapshots: Number.NEGATIVE_INFINITY }, RangeError],
  ['cooldown', { cooldown: 'x' }, TypeError],
  ['cooldown', { cooldown: -1 }, RangeError],
  ['eventLoopStall', { eventLoopStall: 'x' }, TypeError],
  ['eventLoopStall', { eventLoopStall: 0 }, RangeError],
  ['keepRecording', { keepRecording: 1 }, TypeError],
  ['dir', { dir: 5 }, TypeError],
  ['dir', { dir: '' }, TypeError],
  ['dir', { dir: 'snap\u0000shots' }, TypeError],
  ['onSnapshot', { onSnapshot: {} }, TypeError],
  ['logger', { logger: 'pino' }, TypeError],
  ['logger.info', { logger: { ...logger, info: 5 } }, TypeError],
  ['logger.warn', { logger: {} }, TypeError],
  ['minAge', { minAge: -1 }, RangeError],
  ['minAge', { minAge: 'x' }, TypeError],
  ['maxBytes', { maxBytes: 100 }, RangeError],
  ['maxBytes', { maxBytes: '1MB' }, TypeError],
  ['recorder', { recorder: {} }, TypeError],
]

const serverChannels = ['http.server.request.start', 'http.server.response.finish']

afterEach(async () => {
  await resetProcessRecorder()
})

/** Runs `construct` and returns what it threw (or rejected with). */
async function thrownBy(construct: () => unknown): Promise<unknown> {
  try {
    await construct()
  } catch (err) {
    return err
  }
  return undefined
}

function expectInvalidOption(err: unknown, option: string, kind: Kind): void {
  expect(err).toBeInstanceOf(kind)
  expect((err as Error).message).toContain(option)
  expect((err as { code?: unknown }).code).toBe(ErrorCodes.INVALID_OPTION)
}

/** Nothing was started by the failed construction. */
function expectNothingRunning(): void {
  expect(getProcessRecorder()).toBeUndefined()
  for (const name of serverChannels) expect(dc.hasSubscribers(name)).toBe(false)
}

describe('FlightRecorder options', () => {
  it.each(recorderRows)('%s = %j throws %o', async (option, options, kind) => {
    const err = await thrownBy(
      () => new FlightRecorder(options as ConstructorParameters<typeof FlightRecorder>[0]),
    )
    expectInvalidOption(err, option, kind)
    expectNothingRunning()
  })
})

/** Each adapter, constructed the way its users construct it. */
const adapters: Record<string, (options: unknown) => unknown> = {
  express: (options) => expressRecorder(options as Parameters<typeof expressRecorder>[0]),
  koa: (options) => koaRecorder(options as Parameters<typeof koaRecorder>[0]),
  fastify: async (options) => {
    const app = Fastify()
    try {
      await app.register(fastifyRecorder, options as Parameters<typeof fastifyRecorder>[1])
      await app.ready()
    } finally {
      await app.close().catch(() => {})
    }
  },
  SnapshotCapture: (options) =>
    new SnapshotCapture(options as ConstructorParameters<typeof SnapshotCapture>[0], {
      framework: 'node:http',
    }),
}

/** fastify's register() takes an options object: the number shorthand is not a fastify form. */
function rowsOf(adapter: string): Row[] {
  return adapter === 'fastify'
    ? captureRows.filter(([, options]) => typeof options !== 'number')
    : captureRows
}

describe.each(Object.keys(adapters))('%s options', (adapter) => {
  it.each(rowsOf(adapter))('%s = %j throws %o', async (option, options, kind) => {
    const err = await thrownBy(() => adapters[adapter](options))
    expectInvalidOption(err, option, kind)
    expectNothingRunning()
  })

  it('accepts every option set to a valid value', async () => {
    const valid = {
      threshold: 0,
      trigger: () => false,
      ignore: () => false,
      maxSnapshots: Number.POSITIVE_INFINITY,
      cooldown: 0,
      eventLoopStall: 1,
      keepRecording: true,
      dir: 'snapshots',
      onSnapshot: noop,
      logger,
      minAge: 0,
      maxBytes: 16 * 1024,
    }
    expect(await thrownBy(() => adapters[adapter](valid))).toBeUndefined()
  })
})
