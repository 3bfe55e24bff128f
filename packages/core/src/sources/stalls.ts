import { nowMicros, threadCpuMicros } from '../clock.ts'
import { publishStall } from '../diagnostics.ts'
import { EventKind } from '../events.ts'
import type { Recording, Source } from '../recording.ts'

/** The quiet heartbeat's period, ms: how often an idle loop is woken. */
const QUIET_PERIOD_MS = 100
/** How long the loop must stay calm (no HTTP in flight, little work) before the heartbeat goes quiet, ms. */
const CALM_MS = 1000
/** The share of wall time on a CPU under which the loop's thread counts as idle. */
const CALM_UTILISATION = 0.05

/**
 * Loop stalls: a heartbeat timer that notices when it ran late by at least
 * `stallThreshold` ms. Records when and how long; the snapshot encoder names
 * the function from the CPU samples inside the stall. Publishes
 * `flightrec:loop:stall` so triggers can react. Every beat also feeds the
 * worst loop delay the counters report.
 *
 * The heartbeat beats every min(20, threshold / 2) ms while there is work.
 * After a second with no HTTP request in flight (served or outgoing) and the
 * loop's thread under 5% on a CPU, it goes quiet: one beat every 100 ms, so an idle
 * process is not woken 50 times a second. The next request served or made,
 * or a quiet beat that finds the loop was busy, brings it back at once
 * (checking first whether it was overdue, so a stall that ends as a request
 * arrives is still recorded).
 *
 * Not guaranteed: a stall is reported only once the loop runs again, and its
 * start is precise to one heartbeat. While quiet, a stall that begins in
 * work other than HTTP (a timer, another socket) is reported only if it
 * outlasts the threshold plus up to 100 ms, and shorter than it was.
 */
export class StallSource implements Source {
  readonly name = 'stalls'
  #rec: Recording
  #timer: NodeJS.Timeout | undefined
  #beat = 20
  #period = 20
  #last = 0
  #calmBeats = 0
  /** When the current calm stretch (or quiet beat) began: wall and thread CPU time, µs. */
  #calmSinceTs = 0
  #calmSinceCpu = 0
  #tick: () => void = () => {}

  constructor(rec: Recording) {
    this.#rec = rec
  }

  /** The heartbeat's current period, ms: min(20, threshold / 2) while there is work, 100 while quiet. */
  get period(): number {
    return this.#period
  }

  start(): void {
    const rec = this.#rec
    this.#beat = Math.max(1, Math.min(20, rec.options.stallThreshold / 2))
    this.#tick = rec.guard(this, () => {
      this.#check(nowMicros())
      if (this.#period === this.#beat) this.#maybeQuiet()
      else if (this.#busySinceCalm()) this.#arm(this.#beat)
    })
    rec.wakeHeartbeat = rec.guard(this, () => {
      if (this.#timer === undefined || this.#period === this.#beat) return
      this.#check(nowMicros())
      this.#arm(this.#beat)
    })
    this.#arm(this.#beat)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#rec.wakeHeartbeat = noop
  }

  /** Records how late the heartbeat is at `now`, and a stall if it is late by the threshold. */
  #check(now: number): void {
    const rec = this.#rec
    const late = now - this.#last - this.#period * 1000
    if (late > rec.loopDelayMaxMicros) rec.loopDelayMaxMicros = late
    if (late >= rec.options.stallThreshold * 1000) {
      const start = this.#last + this.#period * 1000
      rec.segment(now).push(EventKind.Stall, start, late, -1, 0, 0)
      publishStall({ startMicros: start, durationMs: late / 1000 })
    }
    this.#last = now
  }

  /** Counts calm beats; after {@link CALM_MS} of them with the loop mostly idle, goes quiet. */
  #maybeQuiet(): void {
    const rec = this.#rec
    if (rec.inflightServer + rec.inflightClient > 0) {
      this.#calmBeats = 0
      return
    }
    if (this.#calmBeats++ === 0) {
      this.#markCalm()
      return
    }
    if (this.#calmBeats * this.#beat < CALM_MS) return
    this.#calmBeats = 0
    if (!this.#busySinceCalm()) this.#arm(QUIET_PERIOD_MS)
  }

  /**
   * Whether HTTP is in flight, or the loop's thread spent more than
   * {@link CALM_UTILISATION} of the time on a CPU since {@link #markCalm};
   * marks now as the start of the next stretch.
   */
  #busySinceCalm(): boolean {
    const rec = this.#rec
    const sinceTs = this.#calmSinceTs
    const sinceCpu = this.#calmSinceCpu
    this.#markCalm()
    if (rec.inflightServer + rec.inflightClient > 0) return true
    const wall = this.#calmSinceTs - sinceTs
    return wall <= 0 || this.#calmSinceCpu - sinceCpu > wall * CALM_UTILISATION
  }

  #markCalm(): void {
    this.#calmSinceTs = nowMicros()
    this.#calmSinceCpu = threadCpuMicros()
  }

  #arm(period: number): void {
    clearInterval(this.#timer)
    this.#period = period
    this.#calmBeats = 0
    this.#last = nowMicros()
    this.#markCalm()
    this.#timer = setInterval(this.#tick, period)
    this.#timer.unref()
  }
}

function noop(): void {}
