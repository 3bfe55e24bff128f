import { type BenchContext, startServer } from '../context.ts'
import type { ServerName, ServerReply } from '../protocol.ts'
import { itemPath } from '../server/work.ts'

/** Trace bytes per second at a fixed request rate, for one server and level. */
export interface TraceRate {
  server: ServerName
  level: 'default' | 'causal'
  requestsPerSecond: number
  /** Growth of the in-memory window during the measurement, bytes/s. */
  windowBytesPerSecond: number
  /** The same per request served, bytes. */
  windowBytesPerRequest: number
  /** Size of the snapshot file of the whole window divided by the window's length, bytes/s. */
  snapshotBytesPerSecond: number
}

/**
 * Runs the realistic route of `server` at the fixed rate, with a recorder at
 * `level`, and reads how fast the window grows (after a warm-up at the same
 * rate). Then snapshots the whole window to a file for its size.
 */
export async function measureTraceRate(
  context: BenchContext,
  server: ServerName,
  level: 'default' | 'causal',
): Promise<TraceRate> {
  const { settings } = context
  const handle = await startServer(context, server, `flightrec-${level}`, { minAge: 600_000 })
  try {
    const started = performance.now()
    const url = `${handle.origin}${itemPath}`
    const rate = settings.traceRate
    const connections = settings.connections
    if (settings.warmupSeconds > 0) {
      await context.load({
        url,
        connections,
        durationSeconds: settings.warmupSeconds,
        overallRate: rate,
      })
    }
    const before = await handle.process.ask<ServerReply<'window'>>({ type: 'window' }, 10_000)
    const t0 = performance.now()
    const load = await context.load({
      url,
      connections,
      durationSeconds: settings.traceRateSeconds,
      overallRate: rate,
    })
    const after = await handle.process.ask<ServerReply<'window'>>({ type: 'window' }, 10_000)
    const seconds = (performance.now() - t0) / 1000
    const spanSeconds = (performance.now() - started) / 1000
    const file = `${context.workDir}/trace-rate-${server}-${level}.json`
    const { cost } = await handle.process.ask<ServerReply<'snapshot'>>(
      { type: 'snapshot', file, probeMs: 0 },
      120_000,
    )
    const grown = after.windowBytes - before.windowBytes
    const result: TraceRate = {
      server,
      level,
      requestsPerSecond: load.requestsPerSecond,
      windowBytesPerSecond: grown / seconds,
      windowBytesPerRequest: grown / Math.max(load.requests, 1),
      snapshotBytesPerSecond: cost.fileBytes / spanSeconds,
    }
    context.log(
      `  ${server} ${level}: ${Math.round(result.requestsPerSecond)} req/s -> window ` +
        `${(result.windowBytesPerSecond / 1024).toFixed(0)} KiB/s ` +
        `(${result.windowBytesPerRequest.toFixed(0)} B/request), snapshot ` +
        `${(result.snapshotBytesPerSecond / 1024).toFixed(0)} KiB per second of window`,
    )
    return result
  } finally {
    await handle.process.close()
  }
}
