/**
 * Promise 3, start/stop: 100 start/stop cycles of a recorder (alternating
 * levels, with snapshots and causalAfterTrigger timers), and 100 create/close
 * cycles of the three adapters, leave no diagnostics-channel subscriber,
 * promise hook, timer, worker, connection listener or memory behind. The cycles run in a process
 * of their own (fixtures/start-stop-cycles.ts), where nothing else runs.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const CYCLES = 100
/** Heap growth allowed between cycle 10 and the last: noise, not 90 leaked windows. */
const HEAP_SLACK = 2 * 1024 * 1024

interface CyclesReport {
  cycles: number
  failedCycles: number
  before: { subscribers: string[]; resources: Record<string, number>; closeListeners: number }
  after: { subscribers: string[]; resources: Record<string, number>; closeListeners: number }
  heapGrowth: number
  promisesUnmarked: boolean
}

async function runCycles(
  mode: 'recorder' | 'adapters',
): Promise<CyclesReport & { stderr: string }> {
  const script = new URL('./fixtures/start-stop-cycles.ts', import.meta.url).pathname
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [script, mode, String(CYCLES)],
    { maxBuffer: 16 * 1024 * 1024 },
  )
  return { ...(JSON.parse(stdout) as CyclesReport), stderr }
}

describe(`${CYCLES} cycles leave nothing behind`, () => {
  // Both run at once, each in its own process.
  const reports = { recorder: runCycles('recorder'), adapters: runCycles('adapters') }

  for (const mode of ['recorder', 'adapters'] as const) {
    it(`${mode === 'recorder' ? 'FlightRecorder start/stop' : 'express, fastify and koa create/close'}: no subscriber, handle, hook or memory left`, async () => {
      const report = await reports[mode]
      expect(report.failedCycles).toBe(0)
      expect(report.before.subscribers).toEqual([])
      expect(report.after.subscribers).toEqual([])
      expect(report.after.resources).toEqual(report.before.resources)
      // Listeners on the app's one keep-alive connection, which lived through every cycle.
      expect(report.after.closeListeners).toBe(report.before.closeListeners)
      expect(report.promisesUnmarked).toBe(true)
      expect(report.heapGrowth).toBeLessThan(HEAP_SLACK)
      // No warning either (a MaxListenersExceededWarning is how a listener leak shows).
      expect(report.stderr).toBe('')
    })
  }
})
