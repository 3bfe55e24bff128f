import { performance } from 'node:perf_hooks'

/**
 * The recorder's one clock: monotonic microseconds on the same base as
 * `process.hrtime.bigint() / 1000n`, which is also the base of V8 CPU profile
 * timestamps, so samples and events line up without conversion.
 * `performance.now()` is cheaper than `hrtime.bigint()`, so the offset between
 * the two is measured once and added.
 */
const offsetMicros = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000

/** Monotonic microseconds (fractional), comparable with CPU profile timestamps. */
export function nowMicros(): number {
  return performance.now() * 1000 + offsetMicros
}

/** Wall-clock milliseconds since the epoch that correspond to a {@link nowMicros} value. */
export function toEpochMillis(micros: number): number {
  return Date.now() - (nowMicros() - micros) / 1000
}

/** Converts a perf_hooks timestamp (ms since timeOrigin, e.g. an entry's startTime) to {@link nowMicros}. */
export function perfMillisToMicros(ms: number): number {
  return ms * 1000 + offsetMicros
}

type CpuUsageReader = () => { user: number; system: number }
/** `process.threadCpuUsage` where Node.js has it (22.15+, 23.9+), else the whole process's `cpuUsage`. */
const readThreadCpu: CpuUsageReader =
  (process as { threadCpuUsage?: CpuUsageReader }).threadCpuUsage?.bind(process) ??
  process.cpuUsage.bind(process)

/**
 * CPU time, in µs, the calling thread (the event loop's, for the recorder)
 * has used so far. On Node.js 22 before 22.15, the whole process's instead.
 * Used in place of `performance.eventLoopUtilization()`, which V8's CPU
 * sampler skews: its signals interrupt the loop's wait in `epoll_wait`, and
 * libuv then loses that wait's idle time, so an idle loop reads about 50% busy.
 */
export function threadCpuMicros(): number {
  const usage = readThreadCpu()
  return usage.user + usage.system
}
