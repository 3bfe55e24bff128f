import { closeSync, openSync, readSync } from 'node:fs'

/** One gap between two turns of the event loop. */
export interface Stall {
  /** Its length, wall-clock ms. */
  ms: number
  /**
   * How much of it the main thread spent runnable but waiting for a CPU, ms
   * (Linux schedstat's run_delay; NaN where /proc/thread-self/schedstat is
   * missing): the machine's share of the gap.
   */
  waitMs: number
  /**
   * The main thread's CPU time within it, ms: the loop's own work. The rest
   * of the gap (neither waiting nor running) the thread slept, e.g. on a GC
   * helper thread that itself waited for a CPU. From schedstat, or else from
   * {@link threadCpuMs}.
   */
  cpuMs: number
  /** When it began and ended, µs on the clock of `process.hrtime` (and of V8's CPU profiles). */
  startMicros: number
  endMicros: number
}

/** What a loop probe saw between its start and `stop()`. */
export interface ProbeResult {
  /** The longest gap, wall clock: what a request waiting on the loop felt. */
  longest: Stall
  /** The gap in which the main thread ran longest: the turn the code under test answers for. */
  busiest: Stall
}

/** A running loop probe. */
export interface LoopProbe {
  stop(): ProbeResult
}

/**
 * The calling thread's CPU time (user + system), ms. `process.threadCpuUsage()`
 * alone may lag by a scheduler tick (1-4 ms): the kernel brings a running
 * thread's figure up to date at ticks and context switches, or when the
 * process's CPU time is read, which `process.cpuUsage()` does first.
 */
export function threadCpuMs(): number {
  process.cpuUsage()
  const { user, system } = process.threadCpuUsage()
  return (user + system) / 1000
}

/**
 * The calling thread's scheduler statistics: CPU time and time spent waiting
 * for a CPU, ns, from /proc/thread-self/schedstat ("<on-cpu ns> <waiting ns>
 * <timeslices>"), parsed without allocating. The kernel brings a running
 * thread's CPU time up to date only at ticks and context switches, or when
 * the process's CPU time is read: a read of /proc/self/stat first makes the
 * figure exact (`process.cpuUsage()` would too, but allocates). Both files
 * are kept open and read with pread, about 10 µs in all. Undefined off Linux
 * or without schedstats.
 */
function openSchedstat() {
  let schedstat: number
  let processStat: number
  try {
    schedstat = openSync('/proc/thread-self/schedstat', 'r')
    processStat = openSync('/proc/self/stat', 'r')
  } catch {
    return undefined
  }
  const buffer = Buffer.alloc(1024)
  const fields = [0, 0]
  return {
    /** Reads the two figures into `fields`: [on-CPU ns, waiting ns]. */
    read(): number[] {
      readSync(processStat, buffer, 0, buffer.length, 0)
      const n = readSync(schedstat, buffer, 0, buffer.length, 0)
      let field = 0
      let value = 0
      for (let i = 0; i < n && field < 2; i++) {
        const c = buffer[i]
        if (c >= 48 && c <= 57) {
          value = value * 10 + (c - 48)
        } else {
          fields[field++] = value
          value = 0
        }
      }
      return fields
    },
    close() {
      closeSync(schedstat)
      closeSync(processStat)
    },
  }
}

/**
 * Measures how long the event loop was blocked: a setImmediate chain that
 * runs once per turn of the loop, and the longest gap between two of its
 * callbacks. An idle loop shows a few hundredths of a millisecond on a quiet
 * machine.
 *
 * A long gap is either the loop's own work or the machine not running the
 * main thread (other processes on a shared machine, the process's own
 * threads on few cores); each gap's wait for a CPU, and the main thread's
 * CPU time in it, tell them apart. Start and stop it on the main thread.
 * Each turn's reading allocates nothing (garbage would bring on collections
 * that the code under test would be blamed for), but the chain keeps the
 * main thread busy polling: the thread's CPU time over a probed span says
 * nothing about the code under test.
 */
export function startLoopProbe(): LoopProbe {
  const schedstat = openSchedstat()
  // performance.now() allocates nothing (process.hrtime.bigint() does); this maps it to hrtime µs.
  const hrtimeOffsetMicros = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000
  // The latest reading: the clock (ms), the thread's CPU time and its wait for a CPU (ns).
  let now = 0
  let cpu = 0
  let wait = 0
  const read = () => {
    // The clock and the thread's figures are read one after the other: read
    // again if the thread lost the CPU in between, so they tell the same moment.
    let before: number
    do {
      before = performance.now()
      if (schedstat) {
        const fields = schedstat.read()
        cpu = fields[0]
        wait = fields[1]
      } else {
        cpu = threadCpuMs() * 1e6
        wait = Number.NaN
      }
      now = performance.now()
    } while (now - before > 0.05)
  }
  read()
  let last = now
  let lastCpu = cpu
  let lastWait = wait
  const stall = (): Stall => ({
    ms: now - last,
    waitMs: (wait - lastWait) / 1e6,
    cpuMs: (cpu - lastCpu) / 1e6,
    startMicros: Math.round(last * 1000 + hrtimeOffsetMicros),
    endMicros: Math.round(now * 1000 + hrtimeOffsetMicros),
  })
  let longest = stall()
  let busiest = longest
  let running = true
  const tick = () => {
    if (!running) return
    read()
    if (now - last > longest.ms) longest = stall()
    if ((cpu - lastCpu) / 1e6 > busiest.cpuMs) busiest = stall()
    last = now
    lastCpu = cpu
    lastWait = wait
    setImmediate(tick)
  }
  setImmediate(tick)
  return {
    stop() {
      tick()
      running = false
      schedstat?.close()
      return { longest, busiest }
    },
  }
}
