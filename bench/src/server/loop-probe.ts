/** The longest stall a loop probe saw. */
export interface Stall {
  /** Its length, ms. */
  ms: number
  /** When it began and ended, µs on the clock of `process.hrtime` (and of V8's CPU profiles). */
  startMicros: number
  endMicros: number
}

/** A running loop probe; `stop()` returns the longest stall seen. */
export interface LoopProbe {
  stop(): Stall
}

const micros = () => Number(process.hrtime.bigint() / 1000n)

/**
 * Measures how long the event loop was blocked: a setImmediate chain that
 * runs once per turn of the loop, and the longest gap between two of its
 * callbacks. An idle loop shows a few hundredths of a millisecond.
 */
export function startLoopProbe(): LoopProbe {
  let last = micros()
  const worst: Stall = { ms: 0, startMicros: last, endMicros: last }
  let running = true
  const tick = () => {
    const now = micros()
    if (now - last > worst.ms * 1000) {
      worst.ms = (now - last) / 1000
      worst.startMicros = last
      worst.endMicros = now
    }
    last = now
    if (running) setImmediate(tick)
  }
  setImmediate(tick)
  return {
    stop() {
      running = false
      tick()
      return { ...worst }
    },
  }
}
