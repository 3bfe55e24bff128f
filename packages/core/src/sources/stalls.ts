import { nowMicros } from '../clock.ts'
import { publishStall } from '../diagnostics.ts'
import { EventKind } from '../events.ts'
import type { Recording, Source } from '../recording.ts'

/**
 * Loop stalls: a heartbeat timer that notices when it ran late by at least
 * `stallThreshold` ms. Records when and how long; the snapshot encoder names
 * the function from the CPU samples inside the stall. Publishes
 * `flightrec:loop:stall` so triggers can react. Every beat also feeds the
 * worst loop delay the counters report.
 *
 * Not guaranteed: a stall is reported only once the loop runs again, and its
 * start is precise to one heartbeat (threshold / 2, at most 20 ms).
 */
export class StallSource implements Source {
  readonly name = 'stalls'
  #rec: Recording
  #timer: NodeJS.Timeout | undefined

  constructor(rec: Recording) {
    this.#rec = rec
  }

  start(): void {
    const rec = this.#rec
    const threshold = rec.options.stallThreshold * 1000
    const period = Math.max(1, Math.min(20, rec.options.stallThreshold / 2))
    let last = nowMicros()
    this.#timer = setInterval(
      rec.guard(this, () => {
        const now = nowMicros()
        const late = now - last - period * 1000
        if (late > rec.loopDelayMaxMicros) rec.loopDelayMaxMicros = late
        if (late >= threshold) {
          const start = last + period * 1000
          rec.segment(now).push(EventKind.Stall, start, late, -1, 0, 0)
          publishStall({ startMicros: start, durationMs: late / 1000 })
        }
        last = now
      }),
      period,
    )
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
