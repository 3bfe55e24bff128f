/**
 * The stall heartbeat: fast while there is work, quiet (100 ms) once the loop
 * has idled for a second, woken by HTTP work or by a busy loop, and never
 * losing a long stall on the way.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { EventKind } from '../src/events.ts'
import { ErrorReporter } from '../src/logger.ts'
import { resolveRecorderOptions } from '../src/options.ts'
import { RecordingState } from '../src/recording.ts'
import { Ring } from '../src/ring/ring.ts'
import { StallSource } from '../src/sources/stalls.ts'

let source: StallSource | undefined
afterEach(() => {
  source?.stop()
  source = undefined
})

function startHeartbeat(stallThreshold = 50) {
  const options = resolveRecorderOptions({ stallThreshold })
  const ring = new Ring({ minAgeMicros: options.minAge * 1000, maxBytes: options.maxBytes })
  const state = new RecordingState(options, ring, new ErrorReporter(undefined))
  source = new StallSource(state)
  source.start()
  const stallsMicros = () =>
    ring.segments.flatMap((segment) => {
      const durations: number[] = []
      for (let i = 0; i < segment.count; i++) {
        if (segment.kind(i) === EventKind.Stall) durations.push(segment.field(i, 1))
      }
      return durations
    })
  return { state, heartbeat: source, stallsMicros }
}

/** Waits, without a time bound on the behaviour, until `check` holds (the test's own timeout ends it). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(50)
}

/** Keeps the loop's thread busy for `ms` without yielding. */
function blockFor(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {}
}

describe('the stall heartbeat', () => {
  it('beats every min(20, threshold / 2) ms, and every 100 ms once the loop has idled', async () => {
    const { heartbeat } = startHeartbeat(30)
    expect(heartbeat.period).toBe(15)
    await until(() => heartbeat.period === 100)
  })

  it('stays fast while a request is in flight', async () => {
    const { state, heartbeat } = startHeartbeat()
    state.inflightServer = 1
    await sleep(1500)
    expect(heartbeat.period).toBe(20)
    state.inflightServer = 0
    await until(() => heartbeat.period === 100)
  })

  it('beats fast again as soon as HTTP work begins', async () => {
    const { state, heartbeat } = startHeartbeat()
    await until(() => heartbeat.period === 100)
    state.inflightClient = 1
    state.wakeHeartbeat()
    expect(heartbeat.period).toBe(20)
  })

  it('records a stall that ends as a request arrives to a quiet heartbeat', async () => {
    const { state, heartbeat, stallsMicros } = startHeartbeat()
    await until(() => heartbeat.period === 100)
    blockFor(300)
    // The request start reaches the heartbeat before its overdue beat runs.
    state.wakeHeartbeat()
    expect(heartbeat.period).toBe(20)
    const stalls = stallsMicros()
    expect(stalls.length).toBe(1)
    expect(stalls[0]).toBeGreaterThanOrEqual(200_000)
  })

  it('records a long stall while quiet, and beats fast after it', async () => {
    const { heartbeat, stallsMicros } = startHeartbeat()
    await until(() => heartbeat.period === 100)
    blockFor(300)
    await until(() => stallsMicros().length > 0)
    expect(stallsMicros()[0]).toBeGreaterThanOrEqual(200_000)
    expect(heartbeat.period).toBe(20)
  })

  it('does nothing when woken after it stopped', () => {
    const { state, heartbeat } = startHeartbeat()
    heartbeat.stop()
    expect(() => state.wakeHeartbeat()).not.toThrow()
  })
})
