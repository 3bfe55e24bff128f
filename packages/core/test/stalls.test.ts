/**
 * What the event loop ran: a synchronous busy loop shows up as a stall named
 * after the busy function, and as a busy slice of the sampled loop.
 */
import dc from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { FlightRecorder } from '../src/index.ts'
import { eventsOf, snapshot } from './helpers.ts'

let recorder: FlightRecorder | undefined
afterEach(() => {
  recorder?.stop()
  recorder = undefined
})

/** Blocks the loop for `ms` with arithmetic only, so the samples' leaf frame is this function. */
function crunchNumbers(ms: number): number {
  const end = Date.now() + ms
  let x = 0
  while (Date.now() < end) {
    for (let i = 0; i < 1000; i++) x += Math.sqrt(i * x + 1)
  }
  return x
}

describe('loop stalls and the sampled loop', () => {
  it('records a synchronous busy loop as a stall named after the busy function', async () => {
    recorder = new FlightRecorder({ stallThreshold: 50 })
    recorder.start()
    const published: Array<{ durationMs: number }> = []
    const onStall = (message: unknown) => published.push(message as { durationMs: number })
    dc.subscribe('flightrec:loop:stall', onStall)
    try {
      await sleep(30)
      crunchNumbers(200)
      await sleep(60)
    } finally {
      dc.unsubscribe('flightrec:loop:stall', onStall)
    }
    const { file } = await snapshot(recorder)
    const stalls = eventsOf(file, 'flightrec.stall', 'X')
    const stall = stalls.find((e) => e.args?.function === 'crunchNumbers')
    expect(stall, JSON.stringify(stalls)).toBeDefined()
    expect(stall?.name).toBe('loop stall: crunchNumbers')
    expect(stall?.tid).toBe(3)
    expect(stall?.args?.durationMs).toBeGreaterThanOrEqual(50)
    expect(String(stall?.args?.url)).toMatch(/stalls\.test\.ts$/)
    expect(stall?.args?.samples).toBeGreaterThan(0)
    expect(published.some((m) => m.durationMs >= 50)).toBe(true)
    // The sampled loop shows the same function as a busy slice.
    const busy = eventsOf(file, 'flightrec.loop', 'X').filter((e) => e.name === 'crunchNumbers')
    expect(busy.length).toBeGreaterThan(0)
    // One slice, or a few where a late sampler thread left gaps in the samples.
    expect(busy.reduce((sum, e) => sum + (e.dur ?? 0), 0)).toBeGreaterThan(50_000)
    // And the raw samples are there for viewers: a Profile and its chunk.
    expect(file.traceEvents.filter((e) => e.ph === 'P').map((e) => e.name)).toEqual(
      expect.arrayContaining(['Profile', 'ProfileChunk']),
    )
  })

  it('records no stall when the loop stays responsive', async () => {
    recorder = new FlightRecorder({ stallThreshold: 1000 })
    recorder.start()
    crunchNumbers(100)
    await sleep(30)
    const { file } = await snapshot(recorder)
    expect(eventsOf(file, 'flightrec.stall')).toEqual([])
  })
})
