import type { ServerName } from './protocol.ts'

/** How much the bench measures; `pnpm bench` uses {@link fullSettings}, `--smoke` {@link smokeSettings}. */
export interface BenchSettings {
  /** Interleaved rounds per server and route: every configuration once per round. */
  rounds: number
  /** autocannon warm-up before each measurement, s (results discarded). */
  warmupSeconds: number
  /** autocannon measurement, s. */
  durationSeconds: number
  /** With {@link quickCheck}: each check sends this many requests instead of running for a duration. */
  checkRequests: number
  /** autocannon connections, fixed for every run. */
  connections: number
  /** The fixed request rate, req/s, at which trace bytes per second are measured. */
  traceRate: number
  /** How long the fixed-rate load runs for the trace-rate figure, s. */
  traceRateSeconds: number
  /** Servers whose realistic route the trace rate is measured on. */
  traceRateServers: ServerName[]
  /** Window sizes, MiB, whose snapshot is timed. */
  snapshotWindowsMiB: number[]
  /** Snapshot file sizes, MiB, that `flightrec analyze` is timed on. */
  analyzerSnapshotsMiB: number[]
  /** Timed runs of `flightrec analyze` per snapshot; the run with the median wall time is reported. */
  analyzerRuns: number
  /** `--idle`: how long each server process is left without a request, s (unless `--idle S/T` says). */
  idleSeconds: number
  /** Where results go: the docs page and its chart (full run), or a temp folder (smoke). */
  writeDocs: boolean
  /**
   * Start all configurations of a server at once and measure all its routes
   * on each process: a check that everything runs, not a measurement.
   */
  quickCheck: boolean
}

/** `pnpm bench`: about 15-20 minutes on a 2-core machine. */
export const fullSettings: Readonly<BenchSettings> = Object.freeze<BenchSettings>({
  rounds: 3,
  warmupSeconds: 1,
  durationSeconds: 5,
  checkRequests: 0,
  connections: 20,
  traceRate: 1000,
  traceRateSeconds: 5,
  traceRateServers: ['node-http', 'express'],
  snapshotWindowsMiB: [1, 10, 50],
  analyzerSnapshotsMiB: [10, 50],
  analyzerRuns: 3,
  idleSeconds: 10,
  writeDocs: true,
  quickCheck: false,
})

/** `pnpm bench --smoke`: every configuration starts, serves and is measured once; well under a minute. */
export const smokeSettings: Readonly<BenchSettings> = Object.freeze<BenchSettings>({
  rounds: 1,
  warmupSeconds: 0,
  durationSeconds: 0.3,
  checkRequests: 50,
  connections: 4,
  traceRate: 200,
  traceRateSeconds: 0.5,
  traceRateServers: ['node-http'],
  snapshotWindowsMiB: [0.25],
  analyzerSnapshotsMiB: [0.25],
  analyzerRuns: 1,
  idleSeconds: 0.5,
  writeDocs: false,
  quickCheck: true,
})
