import type { Configuration, Target } from './configurations.ts'
import type { Machine } from './machine.ts'
import type { BenchSettings } from './settings.ts'
import type { AnalyzerResult } from './suites/analyzer.ts'
import type { SnapshotResult } from './suites/snapshot-cost.ts'
import type { ThroughputRun } from './suites/throughput.ts'
import type { TraceRate } from './suites/trace-rate.ts'

/** Everything one `pnpm bench` measured: written as JSON, rendered as docs/benchmarks.md. */
export interface BenchResults {
  mode: 'full' | 'smoke'
  machine: Machine
  settings: BenchSettings
  /** Iterations of the realistic route's CPU loop (~0.5 ms here). */
  cpuIterations: number
  /** The 1-minute load average before and after: other work on the machine shows here. */
  loadAverage: { before: number; after: number }
  durationSeconds: number
  /** Which flightrec pieces existed when this ran (adapters, causal level, CLI). */
  coverage: string[]
  throughput: ThroughputRun[]
  traceRates: TraceRate[]
  snapshots: Omit<SnapshotResult, 'file'>[]
  analyzer: AnalyzerResult[]
}

/** One configuration of one server route, summarized over its rounds. */
export interface ConfigurationSummary {
  configuration: Configuration['name']
  rounds: number
  requestsPerSecond: number
  latencyP50Ms: number
  latencyP99Ms: number
  cpuMicrosPerRequest: number
  peakRssBytes: number
  /** Median throughput over bare's median throughput, in the same run. */
  throughputRatio: number
  /** The lowest and highest of the per-round ratios (each run over the bare run of its round). */
  throughputRatioRange: [number, number]
  p99Ratio: number
  cpuRatio: number
  /** Median CPU µs per request of each of the server's thread groups. */
  threads: Record<string, number>
  /** Median CPUs' worth of other processes' work during this configuration's runs. */
  otherCpus: number
  evidence: string
  problems: string[]
}

/** All configurations of one server route. */
export interface TargetSummary {
  server: Target['server']
  route: Target['route']
  configurations: ConfigurationSummary[]
}
