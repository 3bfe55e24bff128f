/**
 * The messages the bench's processes exchange over IPC. The harness (main.ts)
 * forks a server process, a load process and an upstream process; every
 * request carries an `id` that its reply repeats.
 */

/** Which app a server process runs. */
export type ServerName = 'node-http' | 'express' | 'fastify' | 'koa' | 'guess-number'

/** What a server process is instrumented with. */
export type ConfigurationName =
  | 'bare'
  | 'flightrec-default'
  | 'flightrec-causal'
  | 'flightrec-sampler-1ms'
  | 'v8-profiler'
  | 'opentelemetry'
  | 'pprof-wall'

/** What a server process is told at fork (argv[2], JSON). */
export interface ServerSpec {
  server: ServerName
  configuration: ConfigurationName
  /** Origin of the loopback upstream the realistic route calls with undici. */
  upstream: string
  /** A small file the realistic route reads. */
  dataFile: string
  /** Iterations of the CPU loop that take ~0.5 ms on this machine (calibrated once by the harness). */
  cpuIterations: number
  /** Recorder options that differ from the defaults (the snapshot suite's window, the sampler). */
  recorder?: { maxBytes?: number; minAge?: number; samplingInterval?: number }
  /** Where adapters write snapshots of slow requests. */
  snapshotDir: string
}

/** Harness -> server process. */
export type ServerRequest =
  | { id: number; type: 'usage' }
  | { id: number; type: 'evidence' }
  /** Write the window to `file`; then probe the idle loop for as long as that took, at least `probeMs`. */
  | { id: number; type: 'snapshot'; file: string; probeMs: number }
  | { id: number; type: 'window' }
  /** Starts or stops the process's recorder (the `--toggle` mode). */
  | { id: number; type: 'recording'; on: boolean }

/** CPU and memory a server process has used so far. */
export interface Usage {
  /** process.cpuUsage(), user + system, µs. */
  cpuMicros: number
  /** process.resourceUsage().maxRSS, bytes. */
  peakRssBytes: number
}

/** Proof that a configuration's instrumentation really ran during a measurement. */
export interface Evidence {
  /** One line a person can read, e.g. '5123 spans exported (express, http)'. */
  summary: string
  /** False when the instrumentation recorded nothing: the run does not count. */
  active: boolean
}

/** What one snapshot of a filled window cost (measured by bench/src/server/snapshot-cost.ts). */
export interface SnapshotCost {
  windowBytes: number
  fileBytes: number
  /** From the writeTo call to its promise settling, ms. */
  totalMs: number
  /** The main thread's CPU time (user + system) for one write of the window, measured on a second write without the loop probe, ms. */
  cpuMs: number
  /** Longest gap between two turns of the event loop while writing, wall clock, ms. */
  stallMs: number
  /** How much of that gap the main thread waited for a CPU (Linux schedstat), ms; NaN where unknown. */
  stallWaitMs: number
  /** The main thread's CPU time within that gap, ms: what the loop itself ran (the rest it waited or slept). */
  stallCpuMs: number
  /** When that gap began and ended, µs on the clock of V8's CPU profiles. */
  stall: { startMicros: number; endMicros: number }
  /** The most CPU time the main thread used within one gap while writing, ms: the loop's own longest turn. */
  busiestTurnCpuMs: number
  /** That gap's wall-clock length, ms. */
  busiestTurnMs: number
  /** When that gap began and ended, µs on the clock of V8's CPU profiles. */
  busiestTurn: { startMicros: number; endMicros: number }
  /** The longest gap of the same probe on the idle loop, for as long as the write took (1-30 s), ms: the noise floor. */
  idleStallMs: number
  /** How much of that idle gap the main thread waited for a CPU, ms. */
  idleStallWaitMs: number
}

/** Server process -> harness. */
export type ServerMessage =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string }
  | { id: number; type: 'usage'; usage: Usage }
  | { id: number; type: 'evidence'; evidence: Evidence }
  | { id: number; type: 'snapshot'; cost: SnapshotCost }
  | { id: number; type: 'window'; windowBytes: number }
  | { id: number; type: 'recording'; enabled: boolean }
  | { id: number; type: 'error'; message: string }

/**
 * The server's reply to a request of type `T`.
 *
 * @example
 * const { usage } = await server.process.ask<ServerReply<'usage'>>({ type: 'usage' }, 10_000)
 */
export type ServerReply<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>

/** One autocannon run the load process is asked for. */
export interface LoadRun {
  /** Origin and path; with `paths`, the origin only. */
  url: string
  /** Paths each connection requests in turn, round robin (a traffic mix). */
  paths?: string[]
  connections: number
  durationSeconds: number
  /** Stop after this many requests instead of after `durationSeconds` (the smoke test's check). */
  amount?: number
  /** Fixed total request rate (autocannon's overallRate); unset = as fast as possible. */
  overallRate?: number
}

/** What one autocannon run measured; latencies from every 2xx response, in ms. */
export interface LoadResult {
  requests: number
  durationSeconds: number
  requestsPerSecond: number
  latencyP50Ms: number
  latencyP99Ms: number
  errors: number
  timeouts: number
  non2xx: number
}

/** Harness -> load process. */
export interface LoadRequest {
  id: number
  type: 'run'
  run: LoadRun
}

/** Load process -> harness. */
export type LoadMessage =
  | { type: 'ready' }
  | { id: number; type: 'result'; result: LoadResult }
  | { id: number; type: 'error'; message: string }
