import { createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { finished } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FlightRecorder } from '@flightrec/core'
import type { SnapshotCost } from '../protocol.ts'
import { startLoopProbe } from './loop-probe.ts'

/**
 * Writes the recorder's window to `file` and measures the total time and the
 * longest event-loop stall meanwhile; then probes an idle loop for `probeMs`
 * to show the noise floor.
 */
export async function measureSnapshot(
  recorder: FlightRecorder,
  file: string,
  probeMs: number,
): Promise<SnapshotCost> {
  const windowBytes = recorder.windowBytes
  const out = createWriteStream(file)
  const probe = startLoopProbe()
  const started = performance.now()
  await recorder.writeTo(out)
  const totalMs = performance.now() - started
  const stall = probe.stop()
  out.end()
  await finished(out)
  const idle = startLoopProbe()
  await sleep(probeMs)
  const idleStallMs = idle.stop().ms
  return {
    windowBytes,
    fileBytes: (await stat(file)).size,
    totalMs,
    stallMs: stall.ms,
    stall: { startMicros: stall.startMicros, endMicros: stall.endMicros },
    idleStallMs,
  }
}
