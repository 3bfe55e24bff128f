/**
 * The causal level's rules, each on a real server: a promise resolved in one
 * context and awaited in another produces a flow between them; one resolved
 * in the context that awaits it does not; waits nest with a request's other
 * children; the recorder's own work adds no callbacks; and the source
 * installs and uninstalls its hooks with start() and stop().
 */
import { createServer, type Server } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { EventKind } from '../src/events.ts'
import { FlightRecorder } from '../src/index.ts'
import { ErrorReporter } from '../src/logger.ts'
import { resolveRecorderOptions } from '../src/options.ts'
import { RecordingState, requestContext } from '../src/recording.ts'
import { Ring } from '../src/ring/ring.ts'
import { Cat } from '../src/snapshot/trace-format.ts'
import { CausalSource } from '../src/sources/causal.ts'
import {
  closeAll,
  flowsInto,
  gate,
  listen,
  requestIdFor,
  requestTrack,
  snapshot,
  waitsOf,
} from './causal-helpers.ts'

let recorder: FlightRecorder | undefined
const servers: Server[] = []

afterEach(async () => {
  recorder?.stop()
  recorder = undefined
  await closeAll(servers)
})

function startRecorder(): FlightRecorder {
  recorder = new FlightRecorder({ level: 'causal' })
  recorder.start()
  return recorder
}

describe('causal level', () => {
  it('draws a flow from the context that resolved a promise to the request that awaited it', async () => {
    const fr = startRecorder()
    const unblock = gate()
    const entered = gate()
    const url = await listen(
      createServer(async (_req, res) => {
        entered.open()
        await unblock.promise
        res.end('done')
      }),
      servers,
    )
    const response = request(`${url}/blocked`).then((r) => r.body.text())
    await entered.promise
    // The release goes through a method: the callback is still named by backgroundJob.
    const latch = {
      release() {
        unblock.open()
      },
    }
    async function backgroundJob(): Promise<void> {
      await sleep(20)
      latch.release()
    }
    await backgroundJob()
    expect(await response).toBe('done')

    const events = (await snapshot(fr)).traceEvents
    const requestId = requestIdFor(events, '/blocked')
    const flows = flowsInto(events, requestId)
    expect(flows).toHaveLength(1)
    const [{ wait, waitEnd, resume, resolve, releaser }] = flows
    expect(releaser.name).toMatch(/^backgroundJob \(causal-flow\.test\.ts:\d+\)$/)
    expect(releaser.args?.requestId).toBeUndefined()
    expect(wait.args?.releasedBy).toEqual({
      asyncId: releaser.args?.asyncId,
      type: 'PROMISE',
      function: releaser.name,
    })
    // It waited from before the release until it resumed, about 20 ms later.
    expect(wait.ts).toBeLessThan(resolve.ts ?? 0)
    expect(waitEnd.ts).toBeGreaterThanOrEqual(resolve.ts ?? 0)
    expect(resume.ts).toBeGreaterThanOrEqual(waitEnd.ts ?? 0)
    expect(wait.args?.durationMs).toBeGreaterThanOrEqual(20)
  })

  it('draws a flow between two requests when one releases the other', async () => {
    const fr = startRecorder()
    const unblock = gate()
    const entered = gate()
    const url = await listen(
      createServer(async (req, res) => {
        if (req.url === '/waiter') {
          entered.open()
          await unblock.promise
        } else {
          await sleep(5)
          unblock.open()
        }
        res.end(req.url)
      }),
      servers,
    )
    const waiter = request(`${url}/waiter`).then((r) => r.body.text())
    await entered.promise
    await request(`${url}/releaser`).then((r) => r.body.text())
    expect(await waiter).toBe('/waiter')

    const events = (await snapshot(fr)).traceEvents
    const waiterId = requestIdFor(events, '/waiter')
    const releaserId = requestIdFor(events, '/releaser')
    const flows = flowsInto(events, waiterId)
    expect(flows).toHaveLength(1)
    expect(flows[0].wait.args?.releasedBy).toMatchObject({ requestId: releaserId })
    expect(flows[0].releaser.args?.requestId).toBe(releaserId)
    expect(flows[0].releaser.name).toMatch(/ \[r\d+\]$/)
    expect(flowsInto(events, releaserId)).toEqual([])
  })

  it('draws no flow for a promise resolved in the context that awaits it', async () => {
    const fr = startRecorder()
    const url = await listen(
      createServer(async (_req, res) => {
        const own = gate()
        setImmediate(async () => {
          await sleep(5)
          own.open()
        })
        await own.promise
        res.end('self')
      }),
      servers,
    )
    expect(await request(`${url}/self`).then((r) => r.body.text())).toBe('self')

    const events = (await snapshot(fr)).traceEvents
    expect(waitsOf(events, requestIdFor(events, '/self'))).toEqual([])
    expect(events.filter((e) => e.bind_id !== undefined)).toEqual([])
  })

  it('nests a wait with an outgoing call the request makes meanwhile', async () => {
    const fr = startRecorder()
    const unblock = gate()
    const entered = gate()
    const upstreamUrl = await listen(
      createServer(async (_req, res) => {
        await sleep(30)
        res.end('upstream')
      }),
      servers,
    )
    const url = await listen(
      createServer(async (_req, res) => {
        entered.open()
        // The call starts after the wait begins and ends after it is released.
        const [, body] = await Promise.all([
          unblock.promise,
          sleep(1).then(() => request(upstreamUrl).then((r) => r.body.text())),
        ])
        res.end(body)
      }),
      servers,
    )
    const response = request(`${url}/both`).then((r) => r.body.text())
    await entered.promise
    await (async function releaseSoon() {
      await sleep(10)
      unblock.open()
    })()
    expect(await response).toBe('upstream')

    const events = (await snapshot(fr)).traceEvents
    const requestId = requestIdFor(events, '/both')
    const flows = flowsInto(events, requestId)
    expect(flows).toHaveLength(1)
    expect(flows[0].releaser.name).toMatch(/^releaseSoon /)
    const track = requestTrack(events, requestId)
    expect(track.map((e) => `${e.ph} ${e.args?.type ?? ''}`)).toEqual(
      expect.arrayContaining(['b http-client', 'b wait']),
    )
    // On each of the request's tracks (lanes), every end closes the slice opened last.
    for (const id of new Set(track.map((e) => e.id))) {
      const open: string[] = []
      for (const e of track.filter((t) => t.id === id)) {
        if (e.ph === 'b') open.push(e.name ?? '')
        else if (e.ph === 'e') expect(open.pop()).toBe(e.name)
      }
      expect(open).toEqual([])
    }
  })

  it("adds no callbacks or flows of the recorder's own timers, profiler and snapshot writing", async () => {
    recorder = new FlightRecorder({ level: 'causal', profileWindow: 100, counterInterval: 10 })
    recorder.start()
    await snapshot(recorder)
    await sleep(300)
    const events = (await snapshot(recorder)).traceEvents
    expect(events.filter((e) => e.cat === Cat.AsyncTask || e.cat === Cat.Resolve)).toEqual([])
    expect(events.filter((e) => e.bind_id !== undefined)).toEqual([])
  })

  it('installs its hooks on start() and removes them on stop()', async () => {
    const options = resolveRecorderOptions({})
    const ring = new Ring({ minAgeMicros: options.minAge * 1000, maxBytes: options.maxBytes })
    const state = new RecordingState(options, ring, new ErrorReporter(undefined))
    state.attribute = true
    const source = new CausalSource(state)
    const kinds = () => ring.segments.flatMap((s) => [...s.kinds.subarray(0, s.count)])
    const releaseAcrossContexts = async () => {
      const unblock = gate()
      const waiting = requestContext.run(7, async () => {
        await unblock.promise
      })
      await requestContext.run(8, async () => {
        await sleep(1)
        unblock.open()
      })
      await waiting
    }

    source.start()
    await releaseAcrossContexts()
    source.stop()
    expect(kinds()).toEqual(
      expect.arrayContaining([EventKind.PromiseResolve, EventKind.AsyncWait, EventKind.AsyncRun]),
    )

    ring.clear()
    await releaseAcrossContexts()
    expect(kinds()).toEqual([])

    source.start()
    await releaseAcrossContexts()
    source.stop()
    expect(kinds()).toContain(EventKind.AsyncWait)
  })
})
