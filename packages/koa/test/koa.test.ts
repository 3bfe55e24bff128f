import { once } from 'node:events'
import { stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { getProcessRecorder, resetProcessRecorder } from '@flightrec/core'
import Router from '@koa/router'
import Koa from 'koa'
import request from 'supertest'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  abortedRequest,
  barrier,
  captureLogger,
  closeServer,
  dirEntries,
  eventually,
  gate,
  makeTempDir,
  readSnapshot,
  removeDir,
  requestEvents,
  requestsIn,
  sleep,
  snapshotFiles,
  triggersIn,
  urlOf,
} from '../../core/test/capture-helpers.ts'
import { flightRecorder, type KoaFlightRecorderOptions } from '../src/index.ts'

const THRESHOLD = 50
/** Handlers that are meant to be slow wait this long: well over the threshold. */
const SLOW = THRESHOLD * 3

let dir: string
let servers: Server[] = []

beforeEach(async () => {
  dir = await makeTempDir()
})

afterEach(async () => {
  await Promise.all(servers.map(closeServer))
  servers = []
  await resetProcessRecorder()
  await removeDir(dir)
})

/** A koa app with the middleware first, and @koa/router routes under a '/api/v1' prefix. */
async function startApp(options: KoaFlightRecorderOptions = {}) {
  const held = gate()
  const release = barrier()
  const middleware = flightRecorder({ threshold: THRESHOLD, dir, ...options })
  const app = new Koa()
  app.silent = true
  app.use(middleware)
  const root = new Router()
  root.get('fast', '/fast', (ctx) => {
    ctx.body = 'fast'
  })
  root.get('/health', async (ctx) => {
    await sleep(SLOW)
    ctx.body = 'healthy'
  })
  root.get('/hold', async (ctx) => {
    held.open()
    await once(ctx.res, 'close')
  })
  const api = new Router({ prefix: '/api/v1' })
  api.get('getUser', '/users/:id', async (ctx) => {
    await sleep(Number(ctx.query.wait ?? 0))
    ctx.body = { id: ctx.params.id }
  })
  api.get('getHeld', '/users/:id/held', async (ctx) => {
    await release.wait()
    ctx.body = { id: ctx.params.id }
  })
  api.get('explode', '/users/:id/boom', async (ctx) => {
    await sleep(Number(ctx.query.wait ?? 0))
    throw new TypeError('boom')
  })
  app.use(root.routes())
  app.use(api.routes())
  const server = createServer(app.callback()).listen(0)
  await once(server, 'listening')
  servers.push(server)
  return { server, capture: middleware.flightRecorder, held: held.promise, release }
}

describe('@flightrec/koa', () => {
  it('leaves no file when every request is fast', async () => {
    const { server, capture } = await startApp({ threshold: 5_000 })
    for (let i = 0; i < 5; i++) await request(server).get('/fast').expect(200, 'fast')
    await eventually(() => expect(capture.stats.requests).toBe(5))
    expect(capture.stats).toMatchObject({ snapshots: 0, skipped: 0, suppressed: 0 })
    expect(await dirEntries(dir)).toEqual([])
  })

  it('captures one snapshot of the seconds before the first slow request', async () => {
    const { logger, lines } = captureLogger()
    const { server, capture } = await startApp({ logger })
    for (let i = 0; i < 3; i++) await request(server).get('/fast').expect(200)
    await sleep(200)
    await request(server).get(`/api/v1/users/42?wait=${SLOW}&secret=1`).expect(200, { id: '42' })
    await eventually(() => expect(capture.stats.snapshots).toBe(1))

    const [path, ...others] = await snapshotFiles(dir)
    expect(others).toEqual([])
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const file = await readSnapshot(path)
    const requests = requestsIn(file)
    const slow = requests.find((r) => r.route === '/api/v1/users/:id')
    expect(slow).toMatchObject({
      method: 'GET',
      path: '/api/v1/users/42',
      framework: 'koa',
      handler: 'getUser',
      status: 200,
    })
    expect(slow?.durationMs).toBeGreaterThan(THRESHOLD)
    expect(requests.filter((r) => r.route === '/fast' && r.handler === 'fast')).toHaveLength(3)
    const firstFast = Math.min(
      ...requestEvents(file)
        .filter((e) => e.args?.route === '/fast')
        .map((e) => e.ts ?? 0),
    )
    const meta = file.metadata?.flightrec
    expect(meta?.startMicros).toBeLessThanOrEqual(firstFast)
    expect(meta?.trigger).toMatchObject({
      reason: 'slow-request',
      request: { id: slow?.requestId, method: 'GET', route: '/api/v1/users/:id', status: 200 },
    })
    expect(triggersIn(file).map((t) => t.args?.requestId)).toEqual([slow?.requestId])

    const captured = lines.find((l) => l.msg === `captured a flight recorder snapshot to ${path}`)
    expect(captured).toMatchObject({ level: 30, route: '/api/v1/users/:id', method: 'GET' })
    expect(captured?.durationMs).toBeGreaterThan(THRESHOLD)
  })

  it('captures exactly one snapshot for 100 concurrent slow requests', async () => {
    const { server, capture, release } = await startApp()
    const responses = Promise.all(
      Array.from({ length: 100 }, (_, i) => request(server).get(`/api/v1/users/${i}/held`)),
    )
    await eventually(() => expect(release.waiting()).toBe(100))
    await sleep(SLOW)
    release.open()
    expect((await responses).every((r) => r.status === 200)).toBe(true)
    await eventually(() => expect(capture.stats.requests).toBe(100))
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const files = await snapshotFiles(dir)
    expect(files).toHaveLength(1)
    const { suppressed, skipped } = capture.stats
    expect(suppressed + skipped).toBe(99)
    const file = await readSnapshot(files[0])
    const counted = file.metadata?.flightrec?.trigger?.suppressed ?? 0
    expect(counted).toBeGreaterThan(0)
    expect(counted).toBeLessThanOrEqual(suppressed)
    expect(triggersIn(file)).toHaveLength(1)
  })

  it('records a handler error with status 500, and it still triggers', async () => {
    const { server, capture } = await startApp()
    await request(server).get(`/api/v1/users/7/boom?wait=${SLOW}`).expect(500)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const file = await readSnapshot((await snapshotFiles(dir))[0])
    expect(requestsIn(file).find((r) => r.path === '/api/v1/users/7/boom')).toMatchObject({
      route: '/api/v1/users/:id/boom',
      handler: 'explode',
      status: 500,
      errored: true,
    })
  })

  it('records an aborted request as aborted', async () => {
    const { server, capture, held } = await startApp()
    await abortedRequest(`${urlOf(server)}/hold`, held, SLOW)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const file = await readSnapshot((await snapshotFiles(dir))[0])
    expect(requestsIn(file).find((r) => r.path === '/hold')).toMatchObject({
      route: '/hold',
      aborted: true,
    })
  })

  it('never triggers on a route opted out with ignore', async () => {
    const { server, capture } = await startApp({ ignore: (ctx) => ctx.path === '/health' })
    await request(server).get('/health').expect(200, 'healthy')
    await request(server).get('/health').expect(200, 'healthy')
    await eventually(() => expect(capture.stats.requests).toBe(2))
    expect(capture.stats.snapshots + capture.stats.skipped + capture.stats.suppressed).toBe(0)
    expect(await dirEntries(dir)).toEqual([])
    await request(server).get(`/api/v1/users/1?wait=${SLOW}`).expect(200)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
  })

  it('keeps serving when dir is unwritable, and logs the error once', async () => {
    const { logger, lines } = captureLogger()
    const { server, capture } = await startApp({
      logger,
      dir: `${import.meta.filename}/not-a-directory`,
    })
    for (let i = 0; i < 3; i++) {
      await request(server)
        .get(`/api/v1/users/${i}?wait=${SLOW}`)
        .expect(200, { id: String(i) })
      await eventually(() => expect(capture.stats.failed).toBe(i + 1))
    }
    const errors = lines.filter((l) => (l.level as number) >= 50)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'ERR_FLIGHTREC_SINK_FAILED' })
    expect(getProcessRecorder()?.enabled).toBe(true)
  })

  it('honours maxSnapshots, then stops the recorder', async () => {
    const { server, capture } = await startApp({ maxSnapshots: 2 })
    for (let i = 1; i <= 2; i++) {
      await request(server).get(`/api/v1/users/${i}?wait=${SLOW}`).expect(200)
      await eventually(() => expect(capture.stats.snapshots).toBe(i))
    }
    expect(getProcessRecorder()?.enabled).toBe(false)
    await request(server).get(`/api/v1/users/3?wait=${SLOW}`).expect(200)
    expect(await snapshotFiles(dir)).toHaveLength(2)
  })

  it('skips triggers within the cooldown', async () => {
    const { server, capture } = await startApp({
      maxSnapshots: Number.POSITIVE_INFINITY,
      cooldown: 60_000,
    })
    await request(server).get(`/api/v1/users/1?wait=${SLOW}`).expect(200)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    await request(server).get(`/api/v1/users/2?wait=${SLOW}`).expect(200)
    await eventually(() => expect(capture.stats.skipped).toBe(1))
    expect(await snapshotFiles(dir)).toHaveLength(1)
  })

  it('validates options at construction, naming the option', () => {
    expect(() => flightRecorder({ threshold: -1 })).toThrow(RangeError)
    expect(() => flightRecorder({ eventLoopStall: 0 })).toThrow(/eventLoopStall/)
    expect(() => flightRecorder({ dir: 42 as unknown as string })).toThrow(TypeError)
    expect(getProcessRecorder()).toBeUndefined()
  })
})
