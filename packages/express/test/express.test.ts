import { once } from 'node:events'
import { stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { getProcessRecorder, type Logger, resetProcessRecorder } from '@flightrec/core'
import express from 'express'
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
import { type ExpressFlightRecorderOptions, flightRecorder } from '../src/index.ts'

const require = createRequire(import.meta.url)
const express4 = require('express4') as typeof express

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

/** An app on `make` (express 5 or 4) with the middleware first and routes under a mounted Router. */
async function startApp(make: typeof express, options: ExpressFlightRecorderOptions = {}) {
  const held = gate()
  const release = barrier()
  const middleware = flightRecorder({ threshold: THRESHOLD, dir, ...options })
  const app = make()
  app.use(middleware)
  app.get('/fast', function fast(_req, res) {
    res.send('fast')
  })
  app.get('/health', (_req, res) => {
    setTimeout(() => res.send('healthy'), SLOW)
  })
  app.get('/hold', (_req, res) => {
    held.open()
    res.once('close', () => {})
  })
  const users = make.Router()
  users.get('/:id', function getUser(req, res) {
    setTimeout(() => res.json({ id: req.params.id }), Number(req.query.wait ?? 0))
  })
  users.get('/:id/held', async function getHeld(req, res) {
    await release.wait()
    res.json({ id: req.params.id })
  })
  users.get('/:id/boom', function explode(_req, _res, next) {
    setTimeout(() => next(new TypeError('boom')), Number(_req.query.wait ?? 0))
  })
  const v1 = make.Router()
  v1.use('/users', users)
  app.use('/api/v1', v1)
  const server = createServer(app).listen(0)
  await once(server, 'listening')
  servers.push(server)
  return { server, capture: middleware.flightRecorder, held: held.promise, release }
}

describe('@flightrec/express on express 5', () => {
  it('leaves no file when every request is fast', async () => {
    const { server, capture } = await startApp(express, { threshold: 5_000 })
    for (let i = 0; i < 5; i++) await request(server).get('/fast').expect(200, 'fast')
    await eventually(() => expect(capture.stats.requests).toBe(5))
    expect(capture.stats).toMatchObject({ snapshots: 0, skipped: 0, suppressed: 0 })
    expect(await dirEntries(dir)).toEqual([])
  })

  it('captures one snapshot of the seconds before the first slow request', async () => {
    const { logger, lines } = captureLogger()
    const { server, capture } = await startApp(express, { logger })
    for (let i = 0; i < 3; i++) await request(server).get('/fast').expect(200)
    await sleep(200)
    await request(server).get(`/api/v1/users/42?wait=${SLOW}&secret=1`).expect(200, { id: '42' })
    await eventually(() => expect(capture.stats.snapshots).toBe(1))

    const [path, ...others] = await snapshotFiles(dir)
    expect(others).toEqual([])
    expect((await dirEntries(dir)).filter((n) => n.startsWith('.'))).toEqual([])
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const file = await readSnapshot(path)
    const requests = requestsIn(file)
    const slow = requests.find((r) => r.route === '/api/v1/users/:id')
    expect(slow).toMatchObject({
      method: 'GET',
      path: '/api/v1/users/42',
      framework: 'express',
      handler: 'getUser',
      status: 200,
    })
    expect(slow?.durationMs).toBeGreaterThan(THRESHOLD)
    const fast = requests.filter((r) => r.route === '/fast')
    expect(fast).toHaveLength(3)
    expect(fast.every((r) => r.handler === 'fast' && r.status === 200)).toBe(true)
    const meta = file.metadata?.flightrec
    const firstFast = Math.min(
      ...requestEvents(file)
        .filter((e) => e.args?.route === '/fast')
        .map((e) => e.ts ?? 0),
    )
    expect(meta?.startMicros).toBeLessThanOrEqual(firstFast)
    expect(meta?.trigger).toMatchObject({
      reason: 'slow-request',
      suppressed: 0,
      request: { id: slow?.requestId, method: 'GET', route: '/api/v1/users/:id', status: 200 },
    })
    expect(meta?.trigger?.request?.durationMs).toBeGreaterThan(THRESHOLD)
    expect(triggersIn(file).map((t) => t.args?.requestId)).toEqual([slow?.requestId])

    const captured = lines.find((l) => l.msg === `captured a flight recorder snapshot to ${path}`)
    expect(captured).toMatchObject({ level: 30, route: '/api/v1/users/:id', method: 'GET' })
    expect(captured?.durationMs).toBeGreaterThan(THRESHOLD)
  })

  it('captures exactly one snapshot for 100 concurrent slow requests', async () => {
    const { server, capture, release } = await startApp(express)
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
    const { server, capture } = await startApp(express)
    await request(server).get(`/api/v1/users/7/boom?wait=${SLOW}`).expect(500)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const file = await readSnapshot((await snapshotFiles(dir))[0])
    const failed = requestsIn(file).find((r) => r.path === '/api/v1/users/7/boom')
    expect(failed).toMatchObject({
      route: '/api/v1/users/:id/boom',
      handler: 'explode',
      status: 500,
      errored: true,
    })
    expect(file.metadata?.flightrec?.trigger?.request).toMatchObject({ status: 500 })
  })

  it('records an aborted request as aborted', async () => {
    const { server, capture, held } = await startApp(express)
    await abortedRequest(`${urlOf(server)}/hold`, held, SLOW)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const file = await readSnapshot((await snapshotFiles(dir))[0])
    expect(requestsIn(file).find((r) => r.path === '/hold')).toMatchObject({
      route: '/hold',
      aborted: true,
    })
  })

  it('never triggers on a route opted out with ignore', async () => {
    const { server, capture } = await startApp(express, {
      ignore: (req) => req.path === '/health',
    })
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
    const { server, capture } = await startApp(express, {
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
    expect(capture.stats.snapshots).toBe(0)
    expect(getProcessRecorder()?.enabled).toBe(true)
  })

  it('honours maxSnapshots, then stops the recorder', async () => {
    const { server, capture } = await startApp(express, { maxSnapshots: 2 })
    for (let i = 1; i <= 2; i++) {
      await request(server).get(`/api/v1/users/${i}?wait=${SLOW}`).expect(200)
      await eventually(() => expect(capture.stats.snapshots).toBe(i))
    }
    expect(getProcessRecorder()?.enabled).toBe(false)
    await request(server).get(`/api/v1/users/3?wait=${SLOW}`).expect(200)
    expect(await snapshotFiles(dir)).toHaveLength(2)
    expect(capture.stats.snapshots).toBe(2)
  })

  it('keeps recording after the last snapshot with keepRecording', async () => {
    const { server, capture } = await startApp(express, { keepRecording: true })
    await request(server).get(`/api/v1/users/1?wait=${SLOW}`).expect(200)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    expect(getProcessRecorder()?.enabled).toBe(true)
    await request(server).get(`/api/v1/users/2?wait=${SLOW}`).expect(200)
    await eventually(() => expect(capture.stats.skipped).toBe(1))
    const manual = await capture.snapshot()
    expect(manual.reason).toBe('manual')
    expect(await snapshotFiles(dir)).toHaveLength(2)
  })

  it('skips triggers within the cooldown', async () => {
    const { server, capture } = await startApp(express, {
      maxSnapshots: Number.POSITIVE_INFINITY,
      cooldown: 60_000,
    })
    await request(server).get(`/api/v1/users/1?wait=${SLOW}`).expect(200)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    await request(server).get(`/api/v1/users/2?wait=${SLOW}`).expect(200)
    await eventually(() => expect(capture.stats.skipped).toBe(1))
    expect(await snapshotFiles(dir)).toHaveLength(1)
  })

  it('captures again once the cooldown has passed', async () => {
    const cooldown = 300
    const { server, capture } = await startApp(express, { maxSnapshots: 2, cooldown })
    await request(server).get(`/api/v1/users/1?wait=${SLOW}`).expect(200)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    await sleep(cooldown)
    await request(server).get(`/api/v1/users/2?wait=${SLOW}`).expect(200)
    await eventually(() => expect(capture.stats.snapshots).toBe(2))
    expect(capture.stats.skipped).toBe(0)
    expect(await snapshotFiles(dir)).toHaveLength(2)
  })

  it('validates options at construction, naming the option', () => {
    expect(() => flightRecorder({ threshold: -1 })).toThrow(RangeError)
    expect(() => flightRecorder({ threshold: -1 })).toThrow(/threshold/)
    expect(() => flightRecorder({ threshold: '100' as unknown as number })).toThrow(TypeError)
    expect(() => flightRecorder({ maxSnapshots: 0 })).toThrow(/maxSnapshots/)
    expect(() => flightRecorder({ cooldown: Number.NaN })).toThrow(TypeError)
    expect(() => flightRecorder({ ignore: true as unknown as () => boolean })).toThrow(/ignore/)
    expect(() => flightRecorder({ logger: {} as Logger })).toThrow(/logger/)
    expect(() => flightRecorder({ treshold: 100 } as ExpressFlightRecorderOptions)).toThrow(
      /treshold/,
    )
    expect(getProcessRecorder()).toBeUndefined()
  })

  it('accepts a number as the threshold, and sizes the window from it', async () => {
    const middleware = flightRecorder(8_000)
    expect(getProcessRecorder()?.options).toMatchObject({
      minAge: 16_000,
      maxBytes: 10 * 1024 * 1024,
    })
    expect(middleware.flightRecorder.recorder).toBe(getProcessRecorder())
  })
})

describe('@flightrec/express on express 4', () => {
  it('names the full route template under a mounted Router and captures the slow request', async () => {
    const { server, capture } = await startApp(express4)
    await request(server).get('/fast').expect(200)
    await request(server).get(`/api/v1/users/5?wait=${SLOW}`).expect(200, { id: '5' })
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const file = await readSnapshot((await snapshotFiles(dir))[0])
    expect(requestsIn(file).find((r) => r.path === '/api/v1/users/5')).toMatchObject({
      route: '/api/v1/users/:id',
      handler: 'getUser',
      framework: 'express',
      status: 200,
    })
  })

  it('records a failing handler with status 500', async () => {
    const { server, capture } = await startApp(express4)
    await request(server).get(`/api/v1/users/5/boom?wait=${SLOW}`).expect(500)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const file = await readSnapshot((await snapshotFiles(dir))[0])
    expect(requestsIn(file).find((r) => r.path === '/api/v1/users/5/boom')).toMatchObject({
      route: '/api/v1/users/:id/boom',
      status: 500,
    })
  })
})
