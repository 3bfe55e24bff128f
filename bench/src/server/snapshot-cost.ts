import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FlightRecorder } from '@flightrec/core'
import type { SnapshotCost } from '../protocol.ts'
import { startLoopProbe, threadCpuMs } from './loop-probe.ts'

/** The idle probe runs for as long as the write took, up to this, ms. */
const maxIdleProbeMs = 30_000
/** Time for the requests the load left in flight to finish before a write is measured, ms. */
const settleMs = 250

/** Opens `file` for writing; resolves once it is open. */
async function openFile(file: string): Promise<Writable> {
  const out = createWriteStream(file)
  await once(out, 'ready')
  return out
}

async function close(out: Writable): Promise<void> {
  out.end()
  await finished(out)
}

/**
 * Once the server is idle, writes the recorder's window to `file` (opened
 * beforehand: the write is what is measured) while a loop probe records the
 * longest stall (with the main thread's CPU time in it and its wait for a
 * CPU) and the turn with the most main-thread CPU time; writes it again
 * without the probe, whose chain keeps the main thread busy, to measure the
 * main thread's CPU time for one write; then probes the idle loop for as long
 * as the first write took (at least `minProbeMs`, at most 30 s): the noise
 * floor, how long the machine alone keeps the loop from turning.
 */
export async function measureSnapshot(
  recorder: FlightRecorder,
  file: string,
  minProbeMs: number,
): Promise<SnapshotCost> {
  await sleep(settleMs)
  const windowBytes = recorder.windowBytes
  let out = await openFile(file)
  const probe = startLoopProbe()
  const started = performance.now()
  await recorder.writeTo(out)
  const totalMs = performance.now() - started
  const writing = probe.stop()
  await close(out)
  const fileBytes = (await stat(file)).size

  out = await openFile(file)
  const cpuBefore = threadCpuMs()
  await recorder.writeTo(out)
  const cpuMs = threadCpuMs() - cpuBefore
  await close(out)

  const idle = startLoopProbe()
  await sleep(Math.min(maxIdleProbeMs, Math.max(minProbeMs, totalMs)))
  const { longest: idleLongest } = idle.stop()
  const { longest, busiest } = writing
  return {
    windowBytes,
    fileBytes,
    totalMs,
    cpuMs,
    stallMs: longest.ms,
    stallWaitMs: longest.waitMs,
    stallCpuMs: longest.cpuMs,
    stall: { startMicros: longest.startMicros, endMicros: longest.endMicros },
    busiestTurnCpuMs: busiest.cpuMs,
    busiestTurnMs: busiest.ms,
    busiestTurn: { startMicros: busiest.startMicros, endMicros: busiest.endMicros },
    idleStallMs: idleLongest.ms,
    idleStallWaitMs: idleLongest.waitMs,
  }
}
