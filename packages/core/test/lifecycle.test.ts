/**
 * Start/stop leaves nothing behind (channel subscribers, timers, handles), the
 * CPU sampler survives many cycles, and a failing source never breaks the host.
 */
import { createHook } from 'node:async_hooks'
import dc from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { subscribed } from '../src/diagnostics.ts'
import { FlightRecorder, log } from '../src/index.ts'
import { eventsOf, snapshot } from './helpers.ts'

let recorder: FlightRecorder | undefined
afterEach(() => {
  recorder?.stop()
  recorder = undefined
})

const channelNames = Object.values(subscribed)
const subscribedChannels = () => channelNames.filter((name) => dc.hasSubscribers(name))
/** Active handles and requests by type (timers show up as 'Timeout'). */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1
  return counts
}

describe('lifecycle', () => {
  it('leaves no channel subscriber, timer or handle behind after 100 start/stop cycles', async () => {
    const before = resources()
    expect(subscribedChannels()).toEqual([])
    // Every async resource (timers, even unref()ed ones, histograms, ...) created by the cycles.
    const live = new Map<number, string>()
    let cycling = true
    const hook = createHook({
      init(id, type) {
        if (cycling && type !== 'PROMISE') live.set(id, type)
      },
      destroy(id) {
        live.delete(id)
      },
    })
    recorder = new FlightRecorder()
    hook.enable()
    try {
      for (let i = 0; i < 100; i++) {
        recorder.start()
        expect(subscribedChannels()).toEqual(channelNames)
        recorder.stop()
      }
      cycling = false
      expect(subscribedChannels()).toEqual([])
      // destroy hooks are delivered asynchronously.
      await sleep(20)
    } finally {
      hook.disable()
    }
    expect([...live.values()]).toEqual([])
    // Nothing new: the test runner's own timers may come and go meanwhile.
    const after = resources()
    for (const [type, n] of Object.entries(after))
      expect(n, type).toBeLessThanOrEqual(before[type] ?? 0)
  })

  it('keeps the CPU sampler working across cycles', async () => {
    recorder = new FlightRecorder({ profileWindow: 100, samplingInterval: 1000 })
    for (let i = 0; i < 20; i++) {
      recorder.start()
      recorder.stop()
    }
    recorder.start()
    await sleep(250)
    const { file } = await snapshot(recorder)
    // Rolled windows (every 100 ms) and the one cut by writeTo.
    expect(file.metadata?.flightrec?.counts.cpuProfiles).toBeGreaterThanOrEqual(2)
    const chunks = file.traceEvents.filter((e) => e.name === 'ProfileChunk')
    const samples = chunks.map((e) => {
      const data = e.args?.data as { cpuProfile: { samples: number[] } }
      return data.cpuProfile.samples.length
    })
    expect(samples.reduce((a, b) => a + b, 0)).toBeGreaterThan(50)
  })

  it('disables a failing source, reports it once, counts every failure, and keeps the rest recording', async () => {
    const logged: Array<{ code: string }> = []
    recorder = new FlightRecorder({
      logger: { warn() {}, error: (obj: object) => logged.push(obj as { code: string }) },
    })
    recorder.start()
    // A message no real server publishes: the http-server source throws on it.
    const start = dc.channel(subscribed.serverRequestStart)
    expect(() => start.publish({})).not.toThrow()
    expect(() => start.publish({})).not.toThrow()
    expect(dc.hasSubscribers(subscribed.serverRequestStart)).toBe(false)
    expect(logged).toEqual([expect.objectContaining({ code: 'ERR_FLIGHTREC_SOURCE_FAILED' })])
    expect(recorder.errorCounts).toEqual({ ERR_FLIGHTREC_SOURCE_FAILED: 1 })
    log('test', 'still recording')
    const { file } = await snapshot(recorder)
    expect(eventsOf(file, 'flightrec.log').map((e) => e.args?.message)).toEqual(['still recording'])
    expect(file.metadata?.flightrec?.errors).toEqual({ ERR_FLIGHTREC_SOURCE_FAILED: 1 })
  })

  it('never lets a throwing logger break the host', () => {
    recorder = new FlightRecorder({
      logger: {
        warn() {},
        error() {
          throw new Error('logger down')
        },
      },
    })
    recorder.start()
    expect(() => dc.channel(subscribed.serverRequestStart).publish({})).not.toThrow()
    expect(recorder.errorCounts).toEqual({ ERR_FLIGHTREC_SOURCE_FAILED: 1 })
  })
})
