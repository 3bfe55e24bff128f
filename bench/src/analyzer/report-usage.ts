/**
 * Preloaded (`node --import`) into the analyzer's process: when it exits,
 * writes its peak RSS and how long it ran after start-up to the file named by
 * FLIGHTREC_BENCH_USAGE_FILE, as JSON.
 */
import { writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

const target = process.env.FLIGHTREC_BENCH_USAGE_FILE
const loadedAt = performance.now()
process.on('exit', () => {
  if (!target) return
  writeFileSync(
    target,
    JSON.stringify({
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      runMs: performance.now() - loadedAt,
    }),
  )
})
