import { nowMicros, threadCpuMicros } from '../clock.ts'
import { EventKind } from '../events.ts'
import type { Recording, Source } from '../recording.ts'

/**
 * Counters sampled every `counterInterval` ms: heap used/total, RSS, external
 * memory, the worst event-loop delay (from the stall heartbeat, so to within a
 * beat) and the loop utilisation over the period (the share of it the loop's
 * thread spent on a CPU, see {@link threadCpuMicros}),
 * active handles, and HTTP requests in flight (served + outgoing). The same
 * tick seals an idle segment, so trimming by age happens even when nothing else does.
 */
export class CounterSource implements Source {
  readonly name = 'counters'
  #rec: Recording
  #timer: NodeJS.Timeout | undefined

  constructor(rec: Recording) {
    this.#rec = rec
  }

  start(): void {
    const rec = this.#rec
    let lastTs = nowMicros()
    let lastCpu = threadCpuMicros()
    const sample = rec.guard(this, () => {
      const ts = nowMicros()
      const seg = rec.segment(ts, 2)
      const mem = process.memoryUsage()
      seg.push(EventKind.MemoryCounters, ts, mem.heapUsed, mem.heapTotal, mem.rss, mem.external)
      const cpu = threadCpuMicros()
      const utilisation =
        ts > lastTs ? Math.min(1, Math.max(0, (cpu - lastCpu) / (ts - lastTs))) : 0
      lastTs = ts
      lastCpu = cpu
      const maxDelayMs = Math.max(0, rec.loopDelayMaxMicros) / 1000
      rec.loopDelayMaxMicros = 0
      const handles = process.getActiveResourcesInfo().length
      seg.push(
        EventKind.LoopCounters,
        ts,
        maxDelayMs,
        utilisation,
        handles,
        rec.inflightServer + rec.inflightClient,
      )
    })
    sample()
    this.#timer = setInterval(sample, rec.options.counterInterval)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
