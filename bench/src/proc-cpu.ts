import { readdirSync, readFileSync } from 'node:fs'

/** A reading of the machine's busy CPU time and of the bench's own processes' CPU time. */
export interface CpuReading {
  at: number
  machineTicks: number
  ownTicks: number
}

/** Linux's USER_HZ: /proc reports CPU time in these ticks per second. */
const ticksPerSecond = 100

/** utime + stime of /proc/<path>/stat: a process (`1234`) or a thread (`1234/task/1240`). */
function processTicks(path: number | string): number {
  const stat = readFileSync(`/proc/${path}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12]) // utime, stime
}

/**
 * Reads /proc: the machine's busy ticks (all CPUs) and the ticks used by the
 * bench's processes `pids`. Undefined where /proc is missing (not Linux).
 */
export function readCpu(pids: readonly number[]): CpuReading | undefined {
  try {
    const [, ...cpu] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
    const [user, nice, system, , , irq, softirq, steal] = cpu.map(Number)
    const machineTicks = user + nice + system + irq + softirq + (steal || 0)
    let ownTicks = 0
    for (const pid of pids) ownTicks += processTicks(pid)
    return { at: performance.now(), machineTicks, ownTicks }
  } catch {
    return undefined
  }
}

/**
 * CPUs' worth of work that other processes did between two readings: the
 * machine's busy time minus the bench's own. Near 0 on a quiet machine.
 */
export function otherCpus(before: CpuReading | undefined, after: CpuReading | undefined): number {
  if (!before || !after) return Number.NaN
  const seconds = (after.at - before.at) / 1000
  const other = after.machineTicks - before.machineTicks - (after.ownTicks - before.ownTicks)
  return Math.max(0, other / ticksPerSecond / seconds)
}

/**
 * A process's CPU ticks per thread group: threads named alike are summed
 * ('MainThread', 'v8:ProfEvntProc' (V8's CPU profiler), 'V8Worker' (GC and
 * compiler helpers), 'libuv-worker' (the thread pool), ...). Empty off Linux.
 */
export function readThreads(pid: number): Map<string, number> {
  const ticks = new Map<string, number>()
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const name = readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8')
        .trim()
        .replace(/[\s#]*\d+$/, '')
      ticks.set(name, (ticks.get(name) ?? 0) + processTicks(`${pid}/task/${task}`))
    }
  } catch {
    // Not Linux, or the process is gone.
  }
  return ticks
}

/**
 * CPU time of each thread group between two {@link readThreads} readings, in
 * seconds divided by `per` (e.g. µs per request: `per` = requests / 1e6).
 * Groups that used no time are left out.
 */
function threadTimePer(
  before: Map<string, number>,
  after: Map<string, number>,
  per: number,
): Record<string, number> {
  const result: Record<string, number> = {}
  if (!(per > 0)) return result
  for (const [name, ticks] of after) {
    const used = ticks - (before.get(name) ?? 0)
    if (used > 0) result[name] = used / ticksPerSecond / per
  }
  return result
}

/** CPU µs per request of each thread group between two {@link readThreads} readings. */
export function threadMicrosPerRequest(
  before: Map<string, number>,
  after: Map<string, number>,
  requests: number,
): Record<string, number> {
  return threadTimePer(before, after, requests / 1e6)
}

/** CPU ms per second of wall time of each thread group between two {@link readThreads} readings `seconds` apart. */
export function threadMillisPerSecond(
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
): Record<string, number> {
  return threadTimePer(before, after, seconds / 1000)
}
