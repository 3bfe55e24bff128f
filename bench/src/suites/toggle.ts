import type { Target } from '../configurations.ts'
import { type BenchContext, measureServerCpu, startServer } from '../context.ts'
import { threadMicrosPerRequest } from '../proc-cpu.ts'
import type { ServerReply } from '../protocol.ts'
import { median, medianByKey } from '../stats.ts'
import { requestsOf } from './throughput.ts'

/** CPU per request of one phase with the recorder off and the next with it on, µs. */
export interface TogglePair {
  offMicros: number
  onMicros: number
  /** The same per thread group (see `readThreads`), from /proc: 10 ms ticks, so coarse per phase. */
  offThreads: Record<string, number>
  onThreads: Record<string, number>
}

/** What `--toggle` measured on one server route. */
export interface ToggleResult {
  target: Target
  pairs: TogglePair[]
  offMedian: number
  onMedian: number
  /** Median over the pairs of (on - off): each pair ran back to back in the same process. */
  pairedDifferenceMedian: number
  /** The same per thread group, µs per request; empty off Linux. */
  threadDifferenceMedians: Record<string, number>
}

/**
 * The default level's cost measured in one server process: the app runs
 * with its adapter, and the recorder is stopped and started again between
 * phases of load, off and on in alternating order (off-on, on-off, ...), so
 * that the process's own luck (its heap layout, what the JIT made of it) and
 * slow drifts of the machine weigh on both sides alike. With the recorder
 * stopped, the adapter only checks that it is off. Each phase: a short
 * warm-up, then `durationSeconds` of load, CPU read before and after.
 */
export async function toggleTarget(
  context: BenchContext,
  target: Target,
  pairs: number,
): Promise<ToggleResult> {
  const { settings } = context
  const server = await startServer(context, target.server, 'flightrec-default')
  const requests = requestsOf(server.origin, target)
  const connections = settings.connections
  const phase = async (on: boolean): Promise<[number, Record<string, number>]> => {
    const reply = await server.process.ask<ServerReply<'recording'>>(
      { type: 'recording', on },
      30_000,
    )
    if (reply.enabled !== on) throw new Error(`the recorder did not turn ${on ? 'on' : 'off'}`)
    await context.load({ ...requests, connections, durationSeconds: 0.5 })
    const measured = await measureServerCpu(server, () =>
      context.load({ ...requests, connections, durationSeconds: settings.durationSeconds }),
    )
    const { requests: served } = measured.result
    return [
      measured.cpuMicros / Math.max(1, served),
      threadMicrosPerRequest(measured.threadsBefore, measured.threadsAfter, served),
    ]
  }
  const measured: TogglePair[] = []
  try {
    if (settings.warmupSeconds > 0) {
      await context.load({ ...requests, connections, durationSeconds: settings.warmupSeconds })
    }
    for (let i = 0; i < pairs; i++) {
      const [first, second] = i % 2 === 0 ? [false, true] : [true, false]
      const a = await phase(first)
      const b = await phase(second)
      const [[offMicros, offThreads], [onMicros, onThreads]] = first ? [b, a] : [a, b]
      measured.push({ offMicros, onMicros, offThreads, onThreads })
      const last = measured[measured.length - 1]
      context.log(
        `  ${target.server} ${target.route} pair ${i + 1}: off ${last.offMicros.toFixed(0)} µs/req, on ${last.onMicros.toFixed(0)} µs/req`,
      )
    }
  } finally {
    await server.process.close()
  }
  return {
    target,
    pairs: measured,
    offMedian: median(measured.map((p) => p.offMicros)),
    onMedian: median(measured.map((p) => p.onMicros)),
    pairedDifferenceMedian: median(measured.map((p) => p.onMicros - p.offMicros)),
    threadDifferenceMedians: medianByKey(measured.map(threadDifference)),
  }
}

/** Per thread group, on - off within one pair (a group missing on one side counts 0 there). */
function threadDifference(pair: TogglePair): Record<string, number> {
  const difference: Record<string, number> = {}
  for (const name of new Set([...Object.keys(pair.offThreads), ...Object.keys(pair.onThreads)])) {
    difference[name] = (pair.onThreads[name] ?? 0) - (pair.offThreads[name] ?? 0)
  }
  return difference
}
