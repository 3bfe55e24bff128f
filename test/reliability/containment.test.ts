/**
 * Promise 2, recorder bugs stay contained: a recorder callback that throws
 * (a diagnostics-channel subscriber, a timer) is caught, counted under
 * ERR_FLIGHTREC_SOURCE_FAILED, disables only its own source, and never
 * reaches user code; user callbacks and loggers that throw never break a
 * request either.
 */
import dc from 'node:diagnostics_channel'
import { writeFile } from 'node:fs/promises'
import express from 'express'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  ErrorCodes,
  type FlightRecorder,
  type Logger,
  resetProcessRecorder,
} from '../../packages/core/src/index.ts'
import type { SnapshotFile } from '../../packages/core/src/snapshot/trace-format.ts'
import {
  type ExpressFlightRecorderOptions,
  flightRecorder,
} from '../../packages/express/src/index.ts'
import {
  eventually,
  expectNothingEscaped,
  listen,
  memorySink,
  observe,
  parseSnapshot,
  recordingLogger,
  removeDir,
  snapshotFiles,
  useTestScope,
} from './helpers.ts'

const scope = useTestScope()

afterEach(() => {
  vi.restoreAllMocks()
})

async function snapshotOf(r: FlightRecorder): Promise<SnapshotFile> {
  const sink = memorySink()
  await r.writeTo(sink)
  return parseSnapshot(sink.text())
}

function requestPaths(file: SnapshotFile): unknown[] {
  return file.traceEvents
    .filter((e) => e.ph === 'b' && e.cat === 'flightrec.request')
    .map((e) => e.args?.path)
}

/** Outgoing calls: on their own track, or nested in the request they were made for. */
function outgoingUrls(file: SnapshotFile): unknown[] {
  return file.traceEvents
    .filter(
      (e) =>
        e.ph === 'b' &&
        (e.cat === 'flightrec.http-client' ||
          (e.cat === 'flightrec.request' && e.args?.type === 'http-client')),
    )
    .map((e) => e.args?.url)
}

function counterSamples(file: SnapshotFile): number {
  return file.traceEvents.filter((e) => e.ph === 'C').length
}

/** A server whose handler calls `upstream` (so both server and client sources have work). */
async function startServers() {
  const upstream = await listen((_req, res) => {
    res.end('upstream')
  })
  const app = await listen(async (req, res) => {
    const reply = await fetch(`${upstream.url}/u${req.url}`)
    res.end(`app ${await reply.text()}`)
  })
  scope.servers.push(upstream.server, app.server)
  return { url: app.url, upstreamUrl: upstream.url }
}

describe('a diagnostics-channel subscriber that throws', () => {
  it('http server source: publishing a malformed request.start is contained; only that source stops', async () => {
    const logger = recordingLogger()
    const recorder = scope.startRecorder({ logger, counterInterval: 10 })
    const { url, upstreamUrl } = await startServers()
    expect(await observe(`${url}/before`)).toMatchObject({ status: 200, body: 'app upstream' })

    // Not what Node publishes: the source's callback throws on it.
    expect(() => dc.channel('http.server.request.start').publish({})).not.toThrow()
    await new Promise((resolve) => setImmediate(resolve))
    expect(recorder.errorCounts[ErrorCodes.SOURCE_FAILED]).toBe(1)

    expect(await observe(`${url}/after`)).toMatchObject({ status: 200, body: 'app upstream' })
    const file = await snapshotOf(recorder)
    expect(requestPaths(file)).toContain('/before')
    expect(requestPaths(file)).not.toContain('/after')
    // The client source still records: the call made while serving /after is there.
    expect(outgoingUrls(file)).toContain(`${upstreamUrl}/u/after`)
    expect(counterSamples(file)).toBeGreaterThan(0)
    expect(file.metadata?.flightrec?.errors).toEqual({ [ErrorCodes.SOURCE_FAILED]: 1 })
    const logged = logger.lines.filter((l) => l.obj.code === ErrorCodes.SOURCE_FAILED)
    expect(logged).toHaveLength(1)
    expectNothingEscaped(scope)
  })

  it('http client source: publishing a malformed undici:request:create is contained; the server source goes on', async () => {
    const recorder = scope.startRecorder({ logger: recordingLogger() })
    const { url, upstreamUrl } = await startServers()
    expect(await observe(`${url}/before`)).toMatchObject({ status: 200 })

    expect(() => dc.channel('undici:request:create').publish({ request: null })).not.toThrow()
    expect(() => dc.channel('undici:request:create').publish({ request: null })).not.toThrow()
    await new Promise((resolve) => setImmediate(resolve))
    expect(recorder.errorCounts[ErrorCodes.SOURCE_FAILED]).toBe(1)

    expect(await observe(`${url}/after`)).toMatchObject({ status: 200, body: 'app upstream' })
    const file = await snapshotOf(recorder)
    expect(requestPaths(file)).toEqual(expect.arrayContaining(['/before', '/after']))
    expect(outgoingUrls(file)).toContain(`${upstreamUrl}/u/before`)
    expect(outgoingUrls(file)).not.toContain(`${upstreamUrl}/u/after`)
    expectNothingEscaped(scope)
  })

  it('a malformed node:http client message is contained', async () => {
    const recorder = scope.startRecorder({ logger: recordingLogger() })
    const { url } = await startServers()
    for (const name of [
      'http.client.request.created',
      'http.client.response.finish',
      'http.server.response.finish',
    ]) {
      expect(() => dc.channel(name).publish(undefined)).not.toThrow()
    }
    await new Promise((resolve) => setImmediate(resolve))
    expect(recorder.errorCounts[ErrorCodes.SOURCE_FAILED]).toBeGreaterThanOrEqual(1)
    expect(await observe(`${url}/x`)).toMatchObject({ status: 200, body: 'app upstream' })
    expect(recorder.enabled).toBe(true)
    expect(await recorder.writeTo(memorySink())).toBeGreaterThan(0)
    expectNothingEscaped(scope)
  })
})

describe('a promise hook that throws (causal level)', () => {
  /** A server whose handler awaits a frozen promise: the causal level cannot mark it. */
  async function startFrozenServer() {
    const app = await listen(async (_req, res) => {
      const frozen = Object.freeze(Promise.resolve('frozen'))
      const value = await frozen
      await new Promise((resolve) => setTimeout(resolve, 2))
      res.end(value)
    })
    scope.servers.push(app.server)
    return app.url
  }

  it('is contained: the request works, the error is counted, the other sources go on', async () => {
    const recorder = scope.startRecorder({ level: 'causal', logger: recordingLogger() })
    const url = await startFrozenServer()
    for (let i = 0; i < 3; i++) {
      expect(await observe(`${url}/frozen/${i}`)).toMatchObject({ status: 200, body: 'frozen' })
    }
    expect(recorder.errorCounts[ErrorCodes.SOURCE_FAILED] ?? 0).toBeLessThanOrEqual(1)
    const file = await snapshotOf(recorder)
    expect(requestPaths(file)).toEqual(
      expect.arrayContaining(['/frozen/0', '/frozen/1', '/frozen/2']),
    )
    expectNothingEscaped(scope)
  })

  it('a frozen promise, which is legal user code, does not disable the causal level', async () => {
    const recorder = scope.startRecorder({ level: 'causal', logger: recordingLogger() })
    const url = await startFrozenServer()
    expect(await observe(`${url}/frozen`)).toMatchObject({ status: 200, body: 'frozen' })
    expect(recorder.errorCounts).toEqual({})
  })
})

describe('a timer callback that throws', () => {
  it('counters source: a failing sampler is disabled; requests and other sources go on', async () => {
    const recorder = scope.startRecorder({ logger: recordingLogger(), counterInterval: 10 })
    const { url } = await startServers()
    // The counters timer calls process.getActiveResourcesInfo(); make it fail.
    vi.spyOn(process, 'getActiveResourcesInfo').mockImplementation(() => {
      throw new Error('injected failure')
    })
    const r = recorder
    await eventually(() => expect(r.errorCounts[ErrorCodes.SOURCE_FAILED]).toBe(1))
    vi.restoreAllMocks()
    const samplesAtFailure = counterSamples(await snapshotOf(recorder))

    expect(await observe(`${url}/after`)).toMatchObject({ status: 200, body: 'app upstream' })
    await new Promise((resolve) => setTimeout(resolve, 50))
    const file = await snapshotOf(recorder)
    expect(requestPaths(file)).toContain('/after')
    // Disabled: no counter sample after the failure.
    expect(counterSamples(file)).toBe(samplesAtFailure)
    expect(recorder.errorCounts[ErrorCodes.SOURCE_FAILED]).toBe(1)
    expectNothingEscaped(scope)
  })
})

describe('user callbacks and loggers that throw', () => {
  async function startApp(options: ExpressFlightRecorderOptions) {
    const middleware = flightRecorder({ threshold: 20, dir: scope.dir, ...options })
    const app = express()
    app.use(middleware)
    app.get('/slow', (_req, res) => {
      setTimeout(() => res.send('slow'), 40)
    })
    const { server, url } = await listen(app)
    scope.servers.push(server)
    return { capture: middleware.flightRecorder, url }
  }

  it('a throwing trigger or ignore counts as "no", is logged once, and the response is untouched', async () => {
    const logger = recordingLogger()
    const { capture, url } = await startApp({
      logger,
      trigger: () => {
        throw new Error('trigger bug')
      },
    })
    for (let i = 0; i < 3; i++) expect(await observe(`${url}/slow`)).toMatchObject({ body: 'slow' })
    await eventually(() => expect(capture.stats.requests).toBe(3))
    expect(capture.stats.snapshots).toBe(0)
    expect(logger.lines.filter((l) => l.obj.code === ErrorCodes.CALLBACK_FAILED)).toHaveLength(1)
    await capture.close()

    const ignoring = await startApp({
      logger,
      ignore: () => {
        throw new Error('ignore bug')
      },
    })
    expect(await observe(`${ignoring.url}/slow`)).toMatchObject({ status: 200, body: 'slow' })
    await eventually(() => expect(ignoring.capture.stats.requests).toBe(1))
    expect(ignoring.capture.stats.snapshots).toBe(0)
    expectNothingEscaped(scope)
  })

  it('an onSnapshot that throws or rejects is logged once; the file is still written', async () => {
    for (const onSnapshot of [
      () => {
        throw new Error('onSnapshot bug')
      },
      () => Promise.reject(new Error('onSnapshot rejected')),
    ]) {
      const logger = recordingLogger()
      const { capture, url } = await startApp({ logger, dir: scope.dir, onSnapshot })
      expect(await observe(`${url}/slow`)).toMatchObject({ status: 200, body: 'slow' })
      await eventually(() =>
        expect(logger.lines.filter((l) => l.obj.code === ErrorCodes.CALLBACK_FAILED)).toHaveLength(
          1,
        ),
      )
      expect(capture.stats.snapshots).toBe(1)
      await capture.close()
      await resetProcessRecorder()
    }
    expect(await snapshotFiles(scope.dir)).toHaveLength(2)
    expectNothingEscaped(scope)
  })

  it('a logger whose every method throws breaks nothing', async () => {
    const fail = () => {
      throw new Error('logger bug')
    }
    const broken: Logger = { info: fail, warn: fail, error: fail }
    const { capture, url } = await startApp({
      logger: broken,
      maxSnapshots: 2,
      dir: `${scope.dir}/file`,
    })
    // First a snapshot that succeeds (logged with info), then one that fails (logged with error).
    expect(await observe(`${url}/slow`)).toMatchObject({ status: 200, body: 'slow' })
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    await removeDir(`${scope.dir}/file`)
    await writeFile(`${scope.dir}/file`, 'not a directory')
    expect(await observe(`${url}/slow`)).toMatchObject({ status: 200, body: 'slow' })
    await eventually(() => expect(capture.stats.failed).toBe(1))
    expect(capture.recorder?.enabled).toBe(true)
    expectNothingEscaped(scope)
  })
})
