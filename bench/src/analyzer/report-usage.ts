/**
 * Preloaded (`node --import`) into the analyzer's process: when it exits,
 * writes its peak RSS, its CPU time (user + system, every thread) and how
 * long it ran after start-up to the file named by FLIGHTREC_BENCH_USAGE_FILE,
 * as JSON.
 */
import { writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

const target = process.env.FLIGHTREC_BENCH_USAGE_FILE
const loadedAt = performance.now()
process.on('exit', () => {
  if (!target) return
  const usage = process.resourceUsage()
  writeFileSync(
    target,
    JSON.stringify({
      peakRssBytes: usage.maxRSS * 1024,
      cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
      runMs: performance.now() - loadedAt,
    }),
  )
})
