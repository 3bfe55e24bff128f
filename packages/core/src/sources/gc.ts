import { PerformanceObserver, type PerformanceObserverEntryList } from 'node:perf_hooks'
import { perfMillisToMicros } from '../clock.ts'
import { EventKind } from '../events.ts'
import type { Recording, Source } from '../recording.ts'

/** GC pauses, from perf_hooks' `gc` entries: kind and duration. */
export class GcSource implements Source {
  readonly name = 'gc'
  #rec: Recording
  #observer: PerformanceObserver | undefined

  constructor(rec: Recording) {
    this.#rec = rec
  }

  start(): void {
    const rec = this.#rec
    this.#observer = new PerformanceObserver(
      rec.guard(this, (list: PerformanceObserverEntryList) => {
        for (const entry of list.getEntries()) {
          const ts = perfMillisToMicros(entry.startTime)
          const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0
          rec.segment(ts).push(EventKind.Gc, ts, kind, entry.duration * 1000, 0, 0)
        }
      }),
    )
    this.#observer.observe({ entryTypes: ['gc'] })
  }

  stop(): void {
    this.#observer?.disconnect()
    this.#observer = undefined
  }
}
