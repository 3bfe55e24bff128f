/**
 * Promise 3, load (the short in-suite version; test/reliability/soak.ts runs
 * it for minutes): a burst of 1000 concurrent slow requests captures exactly
 * one snapshot (or exactly `maxSnapshots`), and under sustained traffic the
 * window stays within maxBytes plus one segment and the heap stays flat.
 * Bounds are on bytes and counts only, never on time.
 */
import { randomUUID } from 'node:crypto'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { type FlightRecorder, log } from '../../packages/core/src/index.ts'
import { flightRecorder } from '../../packages/express/src/index.ts'
import {
  closeServer,
  eventually,
  expectNothingEscaped,
  heapAfterGc,
  listen,
  snapshotFiles,
  useTestScope,
  windowBound,
} from './helpers.ts'

const CONCURRENT = 1000
const THRESHOLD = 50
const SLOW = 150

const scope = useTestScope()

async function startSlowApp(maxSnapshots: number) {
  const middleware = flightRecorder({ threshold: THRESHOLD, dir: scope.dir, maxSnapshots })
  const app = express()
  app.use(middleware)
  app.get('/slow/:n', (req, res) => {
    setTimeout(() => res.json({ n: req.params.n }), SLOW)
  })
  const { server, url } = await listen(app, 4096)
  scope.servers.push(server)
  return { capture: middleware.flightRecorder, url }
}

/** Sends `count` concurrent slow requests and checks every response. */
async function burst(url: string, count: number, from = 0): Promise<void> {
  const bodies = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const response = await fetch(`${url}/slow/${from + i}`)
      return { status: response.status, body: await response.json() }
    }),
  )
  bodies.forEach((b, i) => {
    expect(b).toEqual({ status: 200, body: { n: String(from + i) } })
  })
}

describe(`${CONCURRENT} concurrent slow requests`, () => {
  it('capture exactly one snapshot by default (once-only)', async () => {
    const { capture, url } = await startSlowApp(1)
    await burst(url, CONCURRENT)
    // The recorder stops once the one snapshot is written; requests that
    // arrived after that are served but no longer timed.
    await eventually(() => expect(capture.recorder?.enabled).toBe(false))
    const stats = capture.stats
    expect(stats.snapshots).toBe(1)
    expect(stats.failed).toBe(0)
    expect(stats.requests).toBeGreaterThan(1)
    expect(stats.snapshots + stats.suppressed + stats.skipped).toBeLessThanOrEqual(stats.requests)
    expect(await snapshotFiles(scope.dir)).toHaveLength(1)
    expectNothingEscaped(scope)
  })

  it('capture exactly maxSnapshots over repeated bursts, never more', async () => {
    const maxSnapshots = 3
    const { capture, url } = await startSlowApp(maxSnapshots)
    for (let wave = 0; wave < maxSnapshots + 2; wave++) {
      await burst(url, wave === 0 ? CONCURRENT : 20, wave * CONCURRENT)
      // Let the snapshot this wave triggered (if any) finish before the next.
      const expected = Math.min(wave + 1, maxSnapshots)
      await eventually(() => expect(capture.stats.snapshots).toBe(expected))
    }
    await eventually(() => expect(capture.recorder?.enabled).toBe(false))
    expect(capture.stats).toMatchObject({ snapshots: maxSnapshots, failed: 0 })
    expect(await snapshotFiles(scope.dir)).toHaveLength(maxSnapshots)
    expectNothingEscaped(scope)
  })
})

describe('sustained traffic', () => {
  const maxBytes = 512 * 1024
  /** Rare samples keep CPU profiles to a few KiB: these tests are about events and strings. */
  const samplingInterval = 100_000
  const bound = windowBound(maxBytes, 32 * 1024)

  /** Serves `rounds` rounds of 50 concurrent requests on `path`; returns the largest window seen. */
  async function drive(
    recorder: FlightRecorder,
    rounds: number,
    path: (round: number, i: number) => string,
  ) {
    const app = await listen((req, res) => {
      res.end(req.url)
    })
    scope.servers.push(app.server)
    let largest = 0
    for (let round = 0; round < rounds; round++) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const response = await fetch(`${app.url}${path(round, i)}`)
          await response.arrayBuffer()
        }),
      )
      largest = Math.max(largest, recorder.windowBytes)
    }
    await closeServer(app.server)
    return largest
  }

  it('keeps the window within maxBytes plus one segment (log lines with ids, as the pino destination writes)', async () => {
    const recorder = scope.startRecorder({ maxBytes, minAge: 600_000, samplingInterval })
    // Synchronous, so segments fill by count, never by time: the largest
    // window is measured exactly, after every event.
    let largest = 0
    for (let i = 0; i < 20_000; i++) {
      log('orders', `order ${randomUUID()} shipped to customer ${randomUUID()}`)
      largest = Math.max(largest, recorder.windowBytes)
    }
    // The window filled up (so trimming was exercised) and stayed bounded.
    expect(largest).toBeGreaterThan(maxBytes)
    expect(largest).toBeLessThanOrEqual(bound)
  })

  it('keeps the window within maxBytes plus one segment when every URL is long and unique', async () => {
    const recorder = scope.startRecorder({ maxBytes, minAge: 600_000, samplingInterval })
    // 4 KiB paths, as scanners or long tokens in paths send: well under
    // Node's 16 KiB header limit, so every one is served and recorded.
    const largest = await drive(recorder, 10, (round, i) => `/t/${round}-${i}-${'a'.repeat(4096)}`)
    expect(largest).toBeLessThanOrEqual(bound)
  })

  it('keeps the heap flat once the window is full', async () => {
    const recorder = scope.startRecorder({ maxBytes, minAge: 600_000 })
    const heaps: number[] = []
    for (let phase = 0; phase < 6; phase++) {
      await drive(recorder, 15, (round, i) => `/users/${phase}-${round}-${i}`)
      heaps.push(heapAfterGc())
    }
    // Phases 0-1 fill the window and warm up; after that the heap may move by
    // the window's own churn (about its size) and allocator noise, not grow.
    const growth = Math.max(...heaps.slice(3)) - heaps[2]
    expect(growth).toBeLessThan(maxBytes + 4 * 1024 * 1024)
  })
})
