import { type BenchContext, startServer } from '../context.ts'
import type { ServerReply, SnapshotCost } from '../protocol.ts'
import { helloPath, itemPath } from '../server/work.ts'

/** One snapshot written by the suite: its cost, and the file (in the run's temp folder). */
export interface SnapshotResult extends SnapshotCost {
  /** The window size it was taken at, MiB, when it is one of the timed sizes. */
  targetMiB: number | undefined
  file: string
}

const MiB = 1024 * 1024
const fillLimitSeconds = 420
/** Each connection asks for the realistic route, then the hello route nine times. */
const trafficMix = [itemPath, ...Array.from({ length: 9 }, () => helloPath)]

/**
 * Fills one recorder's window with a traffic mix on the node:http server, in
 * short bursts of full load. Each time the window passes the next size in
 * `settings.snapshotWindowsMiB` the load stops and a snapshot is written while
 * the event loop is probed. Snapshots for the analyzer are written the same
 * way once the window is big enough for a file of each size in
 * `settings.analyzerSnapshotsMiB` (estimated from the first snapshot's ratio
 * of file to window bytes). The recorder's `maxBytes` is above the largest
 * size and `minAge` long, so nothing is evicted while the window fills.
 * `execArgv`: Node.js flags of the server process (e.g. `--cpu-prof`).
 */
export async function measureSnapshots(
  context: BenchContext,
  execArgv: string[] = [],
): Promise<SnapshotResult[]> {
  const { settings } = context
  const windows = [...settings.snapshotWindowsMiB].sort((a, b) => a - b)
  const files = [...settings.analyzerSnapshotsMiB].sort((a, b) => a - b)
  const handle = await startServer(
    context,
    'node-http',
    'flightrec-default',
    { maxBytes: Math.ceil(Math.max(...windows, ...files) * 1.5 * MiB), minAge: 3_600_000 },
    execArgv,
  )
  const results: SnapshotResult[] = []
  const started = performance.now()
  let windowBytes = 0
  const fillTo = async (bytes: number) => {
    while (windowBytes < bytes) {
      if (performance.now() - started > fillLimitSeconds * 1000) {
        throw new Error(
          `window reached only ${(windowBytes / MiB).toFixed(1)} MiB in ${fillLimitSeconds} s`,
        )
      }
      await context.load({
        url: handle.origin,
        paths: trafficMix,
        connections: settings.connections,
        durationSeconds: Math.min(1, Math.max(0.25, settings.durationSeconds)),
      })
      windowBytes = (await handle.process.ask<ServerReply<'window'>>({ type: 'window' }, 10_000))
        .windowBytes
    }
  }
  const snapshot = async (targetMiB: number | undefined) => {
    const file = `${context.workDir}/snapshot-${results.length + 1}.json`
    const { cost } = await handle.process.ask<ServerReply<'snapshot'>>(
      { type: 'snapshot', file, probeMs: 1000 },
      300_000,
    )
    results.push({ ...cost, targetMiB, file })
    context.log(
      `  window ${(cost.windowBytes / MiB).toFixed(1)} MiB -> file ${(cost.fileBytes / MiB).toFixed(1)} MiB: ` +
        `total ${cost.totalMs.toFixed(0)} ms (main thread CPU ${cost.cpuMs.toFixed(1)} ms), ` +
        `longest loop gap ${cost.stallMs.toFixed(2)} ms (CPU ${cost.stallCpuMs.toFixed(2)} ms, ` +
        `waiting for a CPU ${cost.stallWaitMs.toFixed(2)} ms), busiest turn ${cost.busiestTurnCpuMs.toFixed(2)} ms CPU ` +
        `(idle loop ${cost.idleStallMs.toFixed(2)} ms, waiting ${cost.idleStallWaitMs.toFixed(2)} ms)`,
    )
    return cost
  }
  try {
    // Timed windows and analyzer inputs, in the order the growing window reaches them.
    let ratio: number | undefined
    const pendingFiles = [...files]
    const pendingWindows = [...windows]
    while (pendingWindows.length > 0 || pendingFiles.length > 0) {
      const nextWindow = pendingWindows[0]
      const nextFile = ratio && pendingFiles.length > 0 ? pendingFiles[0] / ratio : undefined
      if (nextWindow !== undefined && (nextFile === undefined || nextWindow <= nextFile)) {
        await fillTo(nextWindow * MiB)
        pendingWindows.shift()
        const cost = await snapshot(nextWindow)
        ratio ??= cost.fileBytes / cost.windowBytes
      } else if (nextFile !== undefined) {
        await fillTo(nextFile * 1.03 * MiB)
        pendingFiles.shift()
        await snapshot(undefined)
      } else {
        // No ratio yet (no timed window): fill a little and take the first snapshot.
        await fillTo(0.25 * MiB)
        const cost = await snapshot(undefined)
        ratio = cost.fileBytes / cost.windowBytes
      }
      while (pendingFiles.length > 0 && results.some((r) => r.fileBytes >= pendingFiles[0] * MiB)) {
        pendingFiles.shift()
      }
    }
  } finally {
    await handle.process.close()
  }
  return results
}

/** The smallest snapshot file of at least `mib` MiB among `results`. */
export function snapshotForAnalyzer(
  results: readonly SnapshotResult[],
  mib: number,
): SnapshotResult | undefined {
  return [...results]
    .sort((a, b) => a.fileBytes - b.fileBytes)
    .find((r) => r.fileBytes >= mib * MiB * 0.97)
}
