/**
 * The FlightRecorder API, one test per rule, ported from Go's
 * runtime/trace flight recorder tests. Every snapshot is parsed back and
 * validated (helpers.snapshot).
 */
import http from 'node:http'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { FlightRecorder, type FlightRecorderError, log } from '../src/index.ts'
import {
  busyFor,
  close,
  eventsOf,
  listen,
  MemorySink,
  parseValid,
  requestsByPath,
  snapshot,
} from './helpers.ts'

const recorders: FlightRecorder[] = []
function recorder(options?: ConstructorParameters<typeof FlightRecorder>[0]): FlightRecorder {
  const r = new FlightRecorder(options)
  recorders.push(r)
  return r
}
afterEach(() => {
  for (const r of recorders.splice(0)) r.stop()
})

async function rejection(
  promise: Promise<unknown>,
): Promise<FlightRecorderError & { bytesWritten?: number }> {
  try {
    await promise
  } catch (err) {
    return err as FlightRecorderError & { bytesWritten?: number }
  }
  throw new Error('expected a rejection')
}

describe('start and stop', () => {
  it('throws ERR_FLIGHTREC_ALREADY_STARTED on a second start', () => {
    const fr = recorder()
    fr.start()
    expect(() => fr.start()).toThrow(
      expect.objectContaining({ code: 'ERR_FLIGHTREC_ALREADY_STARTED' }),
    )
    expect(fr.enabled).toBe(true)
  })

  it('throws ERR_FLIGHTREC_ANOTHER_ACTIVE while another recorder runs, and starts once it stopped', () => {
    const first = recorder()
    const second = recorder()
    first.start()
    expect(() => second.start()).toThrow(
      expect.objectContaining({ code: 'ERR_FLIGHTREC_ANOTHER_ACTIVE' }),
    )
    expect(second.enabled).toBe(false)
    first.stop()
    second.start()
    expect(second.enabled).toBe(true)
  })

  it('flips enabled with start and stop', () => {
    const fr = recorder()
    expect(fr.enabled).toBe(false)
    fr.start()
    expect(fr.enabled).toBe(true)
    fr.stop()
    expect(fr.enabled).toBe(false)
  })

  it('stop is harmless when not started, and twice', () => {
    const fr = recorder()
    expect(() => fr.stop()).not.toThrow()
    fr.start()
    fr.stop()
    expect(() => fr.stop()).not.toThrow()
    expect(fr.windowBytes).toBe(0)
  })

  it('drops the window on stop: a restarted recorder does not show what came before', async () => {
    const fr = recorder()
    fr.start()
    log('test', 'before stop')
    fr.stop()
    fr.start()
    log('test', 'after restart')
    const { file } = await snapshot(fr)
    const messages = eventsOf(file, 'flightrec.log').map((e) => e.args?.message)
    expect(messages).toContain('after restart')
    expect(messages).not.toContain('before stop')
  })
})

describe('writeTo', () => {
  it('rejects with ERR_FLIGHTREC_NOT_ENABLED before start and after stop, having written nothing', async () => {
    const fr = recorder()
    const sink = new MemorySink()
    const before = await rejection(fr.writeTo(sink))
    expect(before.code).toBe('ERR_FLIGHTREC_NOT_ENABLED')
    expect(before.bytesWritten).toBe(0)
    fr.start()
    fr.stop()
    const after = await rejection(fr.writeTo(sink))
    expect(after.code).toBe('ERR_FLIGHTREC_NOT_ENABLED')
    expect(sink.chunks).toHaveLength(0)
  })

  it('rejects a concurrent writeTo at once with n = 0; the winner writes a valid trace', async () => {
    const fr = recorder()
    fr.start()
    log('test', 'something to write')
    const winnerSink = new MemorySink()
    const loserSink = new MemorySink()
    const order: string[] = []
    const winner = fr.writeTo(winnerSink).then((n) => {
      order.push('winner')
      return n
    })
    const loser = rejection(fr.writeTo(loserSink)).then((err) => {
      order.push('loser')
      return err
    })
    const [n, err] = await Promise.all([winner, loser])
    expect(err.code).toBe('ERR_FLIGHTREC_WRITE_IN_PROGRESS')
    expect(err.bytesWritten).toBe(0)
    expect(loserSink.chunks).toHaveLength(0)
    expect(order).toEqual(['loser', 'winner'])
    const file = parseValid(winnerSink.text, n)
    expect(eventsOf(file, 'flightrec.log').map((e) => e.args?.message)).toContain(
      'something to write',
    )
    // Once the winner is done, the next writeTo works again.
    expect((await snapshot(fr)).bytes).toBeGreaterThan(0)
  })

  it('has in the snapshot a log made just before writeTo', async () => {
    const fr = recorder()
    fr.start()
    log('test', 'logged right before the snapshot')
    const { file } = await snapshot(fr)
    const logs = eventsOf(file, 'flightrec.log', 'i')
    expect(logs.map((e) => e.args?.message)).toContain('logged right before the snapshot')
  })

  it('does not consume the window: a second writeTo has the same events and more', async () => {
    const fr = recorder()
    fr.start()
    log('test', 'first')
    const one = await snapshot(fr)
    log('test', 'second')
    const two = await snapshot(fr)
    const messages = (f: typeof one.file) =>
      eventsOf(f, 'flightrec.log').map((e) => String(e.args?.message))
    expect(messages(one.file)).toEqual(['first'])
    expect(messages(two.file)).toEqual(['first', 'second'])
  })

  it('survives five start/snapshot/stop cycles on one recorder', async () => {
    const fr = recorder()
    for (let cycle = 0; cycle < 5; cycle++) {
      fr.start()
      log('cycle', `cycle ${cycle}`)
      await sleep(20)
      const { file } = await snapshot(fr)
      expect(eventsOf(file, 'flightrec.log').map((e) => e.args?.message)).toEqual([
        `cycle ${cycle}`,
      ])
      expect(file.metadata?.flightrec?.counts.cpuProfiles).toBeGreaterThan(0)
      fr.stop()
    }
  })

  it('rejects with ERR_FLIGHTREC_STOPPED_DURING_WRITE when stopped meanwhile, and can start again', async () => {
    const fr = recorder()
    fr.start()
    for (let i = 0; i < 20_000; i++) log('bulk', `line ${i}`)
    // A stream that never drains keeps the write pending until stop().
    const stuck = new Writable({ highWaterMark: 1, write() {} })
    const pending = rejection(fr.writeTo(stuck))
    await sleep(50)
    fr.stop()
    const err = await pending
    expect(err.code).toBe('ERR_FLIGHTREC_STOPPED_DURING_WRITE')
    fr.start()
    log('test', 'after')
    const { file } = await snapshot(fr)
    expect(eventsOf(file, 'flightrec.log').map((e) => e.args?.message)).toEqual(['after'])
  })

  it('rejects with ERR_FLIGHTREC_SINK_FAILED and the partial count when the stream fails', async () => {
    const fr = recorder()
    fr.start()
    for (let i = 0; i < 20_000; i++) log('bulk', `line ${i}`)
    let accepted = 0
    const failing = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (accepted > 0) return callback(new Error('disk full'))
        accepted += chunk.length
        callback()
      },
    })
    const err = await rejection(fr.writeTo(failing))
    expect(err.code).toBe('ERR_FLIGHTREC_SINK_FAILED')
    expect(err.bytesWritten).toBeGreaterThanOrEqual(accepted)
    expect(err.bytesWritten).toBeGreaterThan(0)
    expect(fr.enabled).toBe(true)
    expect((await snapshot(fr)).bytes).toBeGreaterThan(0)
  })

  it('rejects a stream that is not writable with a TypeError naming it', async () => {
    const fr = recorder()
    fr.start()
    const err = await rejection(fr.writeTo({} as Writable))
    expect(err).toBeInstanceOf(TypeError)
    expect(err.message).toMatch(/stream/)
    expect(err.code).toBe('ERR_FLIGHTREC_INVALID_OPTION')
  })

  it('does not end the stream', async () => {
    const fr = recorder()
    fr.start()
    const sink = new MemorySink()
    await fr.writeTo(sink)
    expect(sink.writableEnded).toBe(false)
  })
})

describe('sealing the window a timers turn after writeTo', () => {
  it('has in the snapshot a loop stall that ended as writeTo was called', async () => {
    const fr = recorder({ stallThreshold: 50 })
    fr.start()
    await sleep(30)
    busyFor(150)
    // Same turn: the stall source notices the stall only on its next heartbeat, a timers turn later.
    fr.markTrigger({ reason: 'event-loop-stall' })
    const { file } = await snapshot(fr, { reason: 'event-loop-stall' })
    const stall = eventsOf(file, 'flightrec.stall', 'X').find(
      (e) => Number(e.args?.durationMs) >= 100,
    )
    const [trigger] = eventsOf(file, 'flightrec.trigger')
    expect(Number(stall?.ts)).toBeLessThan(Number(trigger.ts))
  })

  it('has in the snapshot a GC pause that ended as writeTo was called', async () => {
    setFlagsFromString('--expose-gc')
    const collect = runInNewContext('gc') as () => void
    const fr = recorder()
    fr.start()
    await sleep(30)
    log('test', 'before the collection')
    collect()
    // Same turn: GC pauses reach observers on a later turn of the loop.
    const { file } = await snapshot(fr)
    const [marker] = eventsOf(file, 'flightrec.log')
    const majors = eventsOf(file, 'flightrec.gc', 'X').filter(
      (e) => e.args?.kind === 'major' && Number(e.ts) >= Number(marker.ts),
    )
    expect(majors.length).toBeGreaterThan(0)
  })
})

describe('window bounds', () => {
  it('keeps a tiny maxBytes window bounded over seconds of activity, and still writes a valid trace', async () => {
    const maxBytes = 64 * 1024
    // Sparse samples keep each CPU profile window well under maxBytes: a profile larger than
    // the window would leave only itself in it (the newest sealed segment is always kept).
    // At 16 KiB one profile of a busy server's stacks (its nodes and URLs) could fill it alone.
    const fr = recorder({ maxBytes, minAge: 60_000, profileWindow: 200, samplingInterval: 20_000 })
    fr.start()
    const server = http.createServer((req, res) => {
      log('app', `serving ${req.url}`)
      res.end('ok')
    })
    const url = await listen(server)
    let served = 0
    let largest = 0
    // At least two seconds, and enough requests to fill the window many times over.
    const until = performance.now() + 2000
    const client = async () => {
      while (performance.now() < until || served < 3000) {
        const res = await fetch(`${url}/item/${served++}`)
        await res.text()
        largest = Math.max(largest, fr.windowBytes)
      }
    }
    await Promise.all([client(), client(), client(), client()])
    await close(server)
    // Each request leaves well over 100 bytes: without trimming the window
    // would hold far more than maxBytes by now.
    expect(served * 100).toBeGreaterThan(maxBytes * 4)
    // Memory may overshoot maxBytes by about one segment (events, strings, one CPU profile window).
    expect(largest).toBeLessThan(maxBytes + 128 * 1024)
    const { file, bytes } = await snapshot(fr)
    const paths = [...requestsByPath(file).keys()]
    expect(paths.length).toBeGreaterThan(0)
    expect(paths).not.toContain('/item/0')
    expect(bytes).toBeLessThan(1024 * 1024)
  })

  it('records the trigger given to markTrigger, without the query string', async () => {
    const fr = recorder()
    fr.start()
    const trigger = {
      reason: 'slow-request',
      request: { id: 7, method: 'GET', path: '/slow?token=secret', durationMs: 250 },
    }
    fr.markTrigger(trigger)
    const { file } = await snapshot(fr, trigger)
    const [instant] = eventsOf(file, 'flightrec.trigger')
    expect(instant.name).toBe('trigger: slow-request GET /slow')
    expect(instant.args).toMatchObject({ reason: 'slow-request', requestId: 7, durationMs: 250 })
    expect(JSON.stringify(file)).not.toContain('secret')
    expect(file.metadata?.flightrec?.trigger?.request?.path).toBe('/slow')
  })
})
