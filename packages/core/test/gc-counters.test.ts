/** GC pauses under allocation pressure, and the counters sampled every counterInterval. */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { FlightRecorder } from '../src/index.ts'
import { eventsOf, snapshot } from './helpers.ts'

let recorder: FlightRecorder | undefined
afterEach(() => {
  recorder?.stop()
  recorder = undefined
})

/** Allocates short-lived objects in bursts, yielding between them so GC entries get delivered. */
async function allocate(bursts: number): Promise<number> {
  let kept = 0
  for (let b = 0; b < bursts; b++) {
    const garbage: Array<{ n: number; s: string }> = []
    for (let i = 0; i < 200_000; i++) garbage.push({ n: i, s: `item ${i}` })
    kept += garbage.length
    await sleep(5)
  }
  return kept
}

describe('gc source', () => {
  it('records GC pauses under allocation pressure', async () => {
    recorder = new FlightRecorder()
    recorder.start()
    await allocate(10)
    await sleep(20)
    const { file } = await snapshot(recorder)
    const gcs = eventsOf(file, 'flightrec.gc', 'X')
    expect(gcs.length).toBeGreaterThan(0)
    for (const gc of gcs) {
      expect(gc.tid).toBe(2)
      expect(gc.name).toMatch(/^GC (minor|major|incremental|weak callbacks)$/)
      expect(gc.args?.durationMs).toBeGreaterThanOrEqual(0)
    }
    expect(gcs.some((gc) => gc.args?.kind === 'minor')).toBe(true)
  })
})

describe('counter source', () => {
  it('samples memory and event loop counters every counterInterval', async () => {
    recorder = new FlightRecorder({ counterInterval: 20 })
    recorder.start()
    await sleep(150)
    const { file } = await snapshot(recorder)
    const counters = eventsOf(file, 'flightrec.counter', 'C')
    const memory = counters.filter((e) => e.name === 'memory')
    const loop = counters.filter((e) => e.name === 'event loop')
    expect(memory.length).toBeGreaterThanOrEqual(3)
    expect(loop.length).toBeGreaterThanOrEqual(3)
    expect(Object.keys(memory[0].args ?? {}).sort()).toEqual([
      'external',
      'heapTotal',
      'heapUsed',
      'rss',
    ])
    expect(memory[0].args?.heapUsed).toBeGreaterThan(0)
    expect(Object.keys(loop[0].args ?? {}).sort()).toEqual([
      'activeHandles',
      'delayMaxMs',
      'inflightRequests',
      'utilization',
    ])
    for (const e of loop) {
      expect(e.args?.utilization).toBeGreaterThanOrEqual(0)
      expect(e.args?.utilization).toBeLessThanOrEqual(1)
    }
  })

  it('reads an idle loop as idle and a blocked one as busy, with the CPU sampler on', async () => {
    // performance.eventLoopUtilization() reads an idle loop about 50% busy
    // while V8's sampler signals it; the loop's thread CPU time does not.
    recorder = new FlightRecorder({ counterInterval: 100 })
    recorder.start()
    await sleep(450)
    const end = performance.now() + 250
    while (performance.now() < end) {}
    await sleep(150)
    const { file } = await snapshot(recorder)
    const utilisation = eventsOf(file, 'flightrec.counter', 'C')
      .filter((e) => e.name === 'event loop')
      .map((e) => Number(e.args?.utilization))
    expect(utilisation.length).toBeGreaterThanOrEqual(5)
    // The first periods: the recorder starting, then idle.
    expect(Math.min(...utilisation.slice(1, 4)), JSON.stringify(utilisation)).toBeLessThan(0.3)
    expect(Math.max(...utilisation), JSON.stringify(utilisation)).toBeGreaterThan(0.3)
  })
})
