import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type CapturedSnapshot,
  FlightRecorder,
  getProcessRecorder,
  markRequestFailed,
  resetProcessRecorder,
  SnapshotCapture,
  type TimedRequest,
  validateTrace,
} from '../src/index.ts'
import {
  captureLogger,
  closeServer,
  dirEntries,
  eventually,
  makeTempDir,
  readSnapshot,
  removeDir,
  requestsIn,
  sleep,
  snapshotFiles,
  urlOf,
} from './capture-helpers.ts'

let dir: string
let servers: Server[] = []
let ownRecorders: FlightRecorder[] = []

beforeEach(async () => {
  dir = await makeTempDir()
})

afterEach(async () => {
  await Promise.all(servers.map(closeServer))
  servers = []
  await resetProcessRecorder()
  for (const recorder of ownRecorders) recorder.stop()
  ownRecorders = []
  await removeDir(dir)
})

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/** A node:http server whose every request `capture` times; `/slow*` waits 150 ms. */
async function serve(capture: SnapshotCapture, handler?: Handler): Promise<string> {
  const server = createServer(async (req, res) => {
    capture.observe(req, res, req, () => ({ route: req.url?.split('?')[0], handler: 'plain' }))
    if (handler) return handler(req, res)
    if (req.url?.startsWith('/slow')) await sleep(150)
    res.end('ok')
  })
  server.listen(0)
  await once(server, 'listening')
  servers.push(server)
  return urlOf(server)
}

describe('SnapshotCapture on node:http', () => {
  it('times a plain node:http request and captures it when slow, without its query string', async () => {
    const capture = new SnapshotCapture({ threshold: 50, dir }, { framework: 'node:http' })
    const url = await serve(capture)
    await (await fetch(`${url}/slow?token=secret`)).text()
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const [path] = await snapshotFiles(dir)
    const file = await readSnapshot(path)
    expect(requestsIn(file).find((r) => r.path === '/slow')).toMatchObject({
      framework: 'node:http',
      route: '/slow',
      handler: 'plain',
      status: 200,
    })
    expect(file.metadata?.flightrec?.trigger?.request?.path).toBe('/slow')
    expect(JSON.stringify(file)).not.toContain('secret')
  })

  it('hands the trigger predicate status and errors', async () => {
    const seen: TimedRequest[] = []
    const capture = new SnapshotCapture(
      {
        dir,
        trigger: (r) => {
          seen.push(r)
          return r.errored
        },
      },
      { framework: 'node:http' },
    )
    const url = await serve(capture, (req, res) => {
      if (req.url === '/fail') {
        markRequestFailed(req, new RangeError('out of range'))
        res.statusCode = 500
      }
      res.end()
    })
    await fetch(`${url}/ok`)
    await fetch(`${url}/fail`)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    expect(seen.map((r) => [r.path, r.status, r.errored, r.aborted])).toEqual([
      ['/ok', 200, false, false],
      ['/fail', 500, true, false],
    ])
    const file = await readSnapshot((await snapshotFiles(dir))[0])
    expect(file.traceEvents.find((e) => e.args?.path === '/fail')?.args).toMatchObject({
      errored: true,
      status: 500,
    })
  })

  it('gives onSnapshot the bytes and writes no file unless dir is set', async () => {
    const { logger, lines } = captureLogger()
    const received: CapturedSnapshot[] = []
    const capture = new SnapshotCapture(
      { threshold: 50, logger, onSnapshot: (s) => void received.push(s) },
      { framework: 'node:http' },
    )
    const url = await serve(capture)
    await fetch(`${url}/slow`)
    await eventually(() => expect(received).toHaveLength(1))
    const [snapshot] = received
    expect(snapshot).toMatchObject({ path: undefined, reason: 'slow-request' })
    expect(snapshot.request).toMatchObject({ method: 'GET', route: '/slow', status: 200 })
    expect(validateTrace(JSON.parse(String(snapshot.bytes)), { requireFlightrec: true })).toEqual(
      [],
    )
    expect(await dirEntries(dir)).toEqual([])
    expect(lines.map((l) => l.msg)).toContain(
      `captured a flight recorder snapshot (${snapshot.bytes.length} bytes)`,
    )
  })

  it('logs a failing onSnapshot once and still counts the snapshots', async () => {
    const { logger, lines } = captureLogger()
    const capture = new SnapshotCapture(
      {
        threshold: 50,
        maxSnapshots: 2,
        logger,
        onSnapshot: async () => {
          throw new Error('upload failed')
        },
      },
      { framework: 'node:http' },
    )
    const url = await serve(capture)
    await fetch(`${url}/slow/1`)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    await fetch(`${url}/slow/2`)
    await eventually(() => expect(capture.stats.snapshots).toBe(2))
    await eventually(() =>
      expect(lines.filter((l) => l.code === 'ERR_FLIGHTREC_CALLBACK_FAILED')).toHaveLength(1),
    )
  })

  it('triggers on an event loop stall with eventLoopStall', async () => {
    const capture = new SnapshotCapture(
      { threshold: 60_000, eventLoopStall: 80, dir },
      { framework: 'node:http' },
    )
    await sleep(50)
    const until = performance.now() + 250
    while (performance.now() < until) {
      // Block the event loop, as a synchronous hot path would.
    }
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const file = await readSnapshot((await snapshotFiles(dir))[0])
    const trigger = file.metadata?.flightrec?.trigger
    expect(trigger?.reason).toBe('event-loop-stall')
    expect(trigger?.stallMs).toBeGreaterThanOrEqual(80)
    expect(file.traceEvents.some((e) => e.cat === 'flightrec.stall')).toBe(true)
  })

  it('snapshot() captures by hand, one at a time', async () => {
    const capture = new SnapshotCapture({ dir }, { framework: 'node:http' })
    const first = capture.snapshot('on-demand')
    await expect(capture.snapshot()).rejects.toMatchObject({
      code: 'ERR_FLIGHTREC_WRITE_IN_PROGRESS',
    })
    const result = await first
    expect(result).toMatchObject({ reason: 'on-demand' })
    expect(result.size).toBeGreaterThan(0)
    expect(await snapshotFiles(dir)).toEqual([result.path])
    // A manual snapshot does not use up maxSnapshots: the recorder still runs.
    expect(getProcessRecorder()?.enabled).toBe(true)
    expect(capture.stats).toMatchObject({ snapshots: 1, failed: 0 })
  })

  it('stops and forgets the recorder it created when the last capture closes', async () => {
    const a = new SnapshotCapture({ dir }, { framework: 'a' })
    const b = new SnapshotCapture({ dir }, { framework: 'b' })
    const recorder = getProcessRecorder()
    expect(a.recorder).toBe(recorder)
    expect(b.recorder).toBe(recorder)
    await a.close()
    expect(recorder?.enabled).toBe(true)
    await b.close()
    expect(recorder?.enabled).toBe(false)
    expect(getProcessRecorder()).toBeUndefined()
    await expect(a.snapshot()).rejects.toMatchObject({ code: 'ERR_FLIGHTREC_NOT_ENABLED' })
  })

  it('times a request once when two captures observe it', async () => {
    const first = new SnapshotCapture({ dir }, { framework: 'outer' })
    const second = new SnapshotCapture({ dir }, { framework: 'inner' })
    const observedBySecond: boolean[] = []
    const url = await serve(first, (req, res) => {
      observedBySecond.push(second.observe(req, res))
      res.end()
    })
    await fetch(url)
    await eventually(() => expect(first.stats.requests).toBe(1))
    expect(observedBySecond).toEqual([false])
    expect(second.stats.requests).toBe(0)
  })

  it('keeps timing when describing a request fails, and logs that once', async () => {
    const { logger, lines } = captureLogger()
    const capture = new SnapshotCapture({ logger, dir }, { framework: 'broken' })
    const server = createServer((req, res) => {
      capture.observe(req, res, req, () => {
        throw new Error('no route')
      })
      res.end()
    })
    server.listen(0)
    await once(server, 'listening')
    servers.push(server)
    await fetch(urlOf(server))
    await fetch(urlOf(server))
    await eventually(() => expect(capture.stats.requests).toBe(2))
    expect(lines.filter((l) => l.code === 'ERR_FLIGHTREC_SOURCE_FAILED')).toHaveLength(1)
  })
})

describe('the process recorder', () => {
  it('adopts a recorder passed in, starts it, and never stops it', async () => {
    const recorder = new FlightRecorder({ minAge: 5_000 })
    ownRecorders.push(recorder)
    const capture = new SnapshotCapture(
      { recorder, threshold: 50, dir },
      { framework: 'node:http' },
    )
    expect(recorder.enabled).toBe(true)
    expect(getProcessRecorder()).toBe(recorder)
    const url = await serve(capture)
    await fetch(`${url}/slow`)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    await capture.close()
    expect(recorder.enabled).toBe(true)
  })

  it('refuses a second, different recorder while one is shared', () => {
    const recorder = new FlightRecorder()
    ownRecorders.push(recorder)
    new SnapshotCapture({ recorder }, { framework: 'a' })
    expect(
      () => new SnapshotCapture({ recorder: new FlightRecorder() }, { framework: 'b' }),
    ).toThrow(expect.objectContaining({ code: 'ERR_FLIGHTREC_ANOTHER_ACTIVE' }))
  })

  it('adopts the recorder already active in the process', () => {
    const recorder = new FlightRecorder()
    ownRecorders.push(recorder)
    recorder.start()
    const capture = new SnapshotCapture({}, { framework: 'a' })
    expect(capture.recorder).toBe(recorder)
  })

  it('warns when later options for the recorder are ignored: the first one wins', () => {
    new SnapshotCapture({ minAge: 20_000 }, { framework: 'first' })
    const { logger, lines } = captureLogger()
    new SnapshotCapture({ minAge: 30_000, maxBytes: 1024 * 1024, logger }, { framework: 'second' })
    expect(getProcessRecorder()?.options).toMatchObject({
      minAge: 20_000,
      maxBytes: 10 * 1024 * 1024,
    })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 40, ignored: ['minAge', 'maxBytes'] })
  })

  it('resetProcessRecorder stops it and makes existing captures inert', async () => {
    const capture = new SnapshotCapture({ threshold: 50, dir }, { framework: 'node:http' })
    const recorder = getProcessRecorder()
    const url = await serve(capture)
    await resetProcessRecorder()
    expect(recorder?.enabled).toBe(false)
    expect(getProcessRecorder()).toBeUndefined()
    expect(capture.recorder).toBeUndefined()
    await fetch(`${url}/slow`)
    expect(capture.stats.requests).toBe(0)
    expect(await dirEntries(dir)).toEqual([])
  })
})
