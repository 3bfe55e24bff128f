import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { BenchContext } from '../context.ts'
import type { SnapshotResult } from './snapshot-cost.ts'

/** `flightrec analyze --json` timed on one snapshot file. */
export interface AnalyzerResult {
  fileBytes: number
  /** Process start to exit, ms: what a user waits for. */
  wallMs: number
  /** From the first module loaded to exit, ms: without Node.js's own start-up. */
  runMs: number
  /** User + system CPU time of the process, ms: less sensitive to other load on the machine than wall time. */
  cpuMs: number
  /** fileBytes / wallMs, in MB/s (10^6 bytes). */
  megabytesPerSecond: number
  peakRssBytes: number
  exitCode: number
}

/** The CLI's entry point; it may not exist yet in a checkout. */
export const cliEntry = fileURLToPath(
  new URL('../../../packages/cli/bin/flightrec.js', import.meta.url),
)
const preload = fileURLToPath(new URL('../analyzer/report-usage.ts', import.meta.url))

/**
 * Runs `flightrec analyze <file> --json` in a child process (with Node.js
 * flags `execArgv`) and measures its wall time, CPU time and peak RSS; the
 * JSON report must parse, or the run fails. `flightrec --version` runs first,
 * untimed: it fills Node.js's compile cache as any earlier run of the command
 * would, so the timed run starts the way a user's second run does.
 */
export async function measureAnalyzer(
  context: BenchContext,
  snapshot: SnapshotResult,
  execArgv: string[] = [],
): Promise<AnalyzerResult> {
  const usageFile = `${snapshot.file}.usage.json`
  const warmUp = spawn(process.execPath, [cliEntry, '--version'], { stdio: 'ignore' })
  await once(warmUp, 'exit')
  const started = performance.now()
  const child = spawn(
    process.execPath,
    [...execArgv, '--import', preload, cliEntry, 'analyze', snapshot.file, '--json'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FLIGHTREC_BENCH_USAGE_FILE: usageFile },
    },
  )
  const chunks: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
  const [code] = (await once(child, 'exit')) as [number | null]
  const wallMs = performance.now() - started
  const report = Buffer.concat(chunks).toString('utf8')
  try {
    JSON.parse(report)
  } catch {
    throw new Error(
      `flightrec analyze printed no JSON report (exit ${code}): ${report.slice(0, 200)}`,
    )
  }
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as {
    peakRssBytes: number
    cpuMs: number
    runMs: number
  }
  const result: AnalyzerResult = {
    fileBytes: snapshot.fileBytes,
    wallMs,
    runMs: usage.runMs,
    cpuMs: usage.cpuMs,
    megabytesPerSecond: snapshot.fileBytes / 1e6 / (wallMs / 1000),
    peakRssBytes: usage.peakRssBytes,
    exitCode: code ?? -1,
  }
  context.log(
    `  analyze ${(result.fileBytes / 2 ** 20).toFixed(1)} MiB: ${result.wallMs.toFixed(0)} ms ` +
      `(${result.megabytesPerSecond.toFixed(1)} MB/s), CPU ${result.cpuMs.toFixed(0)} ms, ` +
      `peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB, exit ${result.exitCode}`,
  )
  return result
}

/**
 * Times `flightrec analyze` on `snapshot` `runs` times, one after the other,
 * and returns the run with the median wall time, with the highest peak RSS
 * of all runs: one run's wall time moves with whatever else the machine did
 * during it.
 */
export async function medianAnalyzerRun(
  context: BenchContext,
  snapshot: SnapshotResult,
  runs: number,
): Promise<AnalyzerResult> {
  const results: AnalyzerResult[] = []
  for (let i = 0; i < runs; i++) results.push(await measureAnalyzer(context, snapshot))
  results.sort((a, b) => a.wallMs - b.wallMs)
  const median = results[Math.floor((results.length - 1) / 2)]
  return { ...median, peakRssBytes: Math.max(...results.map((r) => r.peakRssBytes)) }
}

/** Whether the CLI exists in this checkout. */
export function analyzerAvailable(): boolean {
  return existsSync(cliEntry)
}
