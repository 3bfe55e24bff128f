import { setTimeout as sleep } from 'node:timers/promises'
import { type BenchContext, measureServerCpu, startServer } from '../context.ts'
import { threadMillisPerSecond } from '../proc-cpu.ts'
import type { ConfigurationName, ServerName } from '../protocol.ts'
import { median, medianByKey } from '../stats.ts'

/** What one configuration's server process cost while it served nothing. */
export interface IdleResult {
  configuration: ConfigurationName
  /** Median over the rounds of the process's CPU, ms per second of wall time. */
  cpuMillisPerSecond: number
  /** The same per thread group (see `readThreads`); 10 ms ticks from /proc, so coarse. Empty off Linux. */
  threads: Record<string, number>
}

/**
 * The standing cost of each configuration: its server process is started,
 * left alone for a settling second and then for `seconds`, with no request
 * at all; CPU is read around that stretch. What a quiet service pays for the
 * timers and threads a configuration keeps running (flightrec: the loop
 * heartbeat, the counters, V8's sampler thread and its signals, the profile
 * roll). The configurations run one after another, in alternating order
 * round by round (A B C, C B A, ...).
 */
export async function measureIdle(
  context: BenchContext,
  server: ServerName,
  configurations: readonly ConfigurationName[],
  rounds: number,
  seconds: number,
): Promise<IdleResult[]> {
  const readings = new Map<ConfigurationName, { cpu: number[]; threads: Record<string, number>[] }>(
    configurations.map((c) => [c, { cpu: [], threads: [] }]),
  )
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? configurations : [...configurations].reverse()
    for (const configuration of order) {
      const handle = await startServer(context, server, configuration)
      try {
        await sleep(1000)
        const measured = await measureServerCpu(handle, async () => {
          const startedAt = performance.now()
          await sleep(seconds * 1000)
          return (performance.now() - startedAt) / 1000
        })
        const elapsed = measured.result
        const reading = readings.get(configuration)
        reading?.cpu.push(measured.cpuMicros / 1000 / elapsed)
        reading?.threads.push(
          threadMillisPerSecond(measured.threadsBefore, measured.threadsAfter, elapsed),
        )
        context.log(
          `  ${server} ${configuration} round ${round + 1}: ${reading?.cpu.at(-1)?.toFixed(2)} ms of CPU per second`,
        )
      } finally {
        await handle.process.close()
      }
    }
  }
  return configurations.map((configuration) => {
    const { cpu, threads } = readings.get(configuration) ?? { cpu: [], threads: [] }
    return { configuration, cpuMillisPerSecond: median(cpu), threads: medianByKey(threads) }
  })
}
