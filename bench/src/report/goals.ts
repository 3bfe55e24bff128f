import type { BenchResults, ConfigurationSummary, TargetSummary } from '../results.ts'
import { median } from '../stats.ts'

/** How a goal fared: `inconclusive` when other work on the machine could explain the result. */
export type Verdict = 'met' | 'missed' | 'inconclusive' | 'not measured'

/** One goal from the benchmark issue, with the figure measured for it. */
export interface GoalCheck {
  goal: string
  /** The measured figure(s), as text. */
  measured: string
  verdict: Verdict
}

const frameworks = ['express', 'fastify', 'koa'] as const
const MiB = 1024 * 1024
/** Median CPUs' worth of outside work above which throughput ratios are not trusted. */
export const busyMachineCpus = 0.2
/** The bound on the longest event-loop gap while a 10 MiB window is written, ms. */
const snapshotStallGoalMs = 5

function find(
  summaries: readonly TargetSummary[],
  server: string,
  configuration: string,
): ConfigurationSummary | undefined {
  return summaries
    .find((t) => t.server === server && t.route === 'realistic')
    ?.configurations.find((c) => c.configuration === configuration)
}

function judge(checks: (boolean | undefined)[], busy: boolean): Verdict {
  if (checks.length === 0 || checks.some((c) => c === undefined)) return 'not measured'
  if (busy) return 'inconclusive'
  return checks.every(Boolean) ? 'met' : 'missed'
}

const x = (ratio: number) => `${ratio.toFixed(3)}x`
const pct = (fraction: number) => `${(fraction * 100).toFixed(1)}%`

/**
 * The stall goal's figures: the longest gap (wall clock, what the goal
 * bounds) with the main thread's CPU time in it and its wait for a CPU (the
 * rest of the gap it slept); the turn with the most main-thread CPU time (the
 * code's own longest turn); the main thread's CPU time for the whole write;
 * the idle loop's longest gap over as long (the noise floor).
 */
function describeSnapshotStall(s: BenchResults['snapshots'][number]): string {
  const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a')
  return (
    `${ms(s.stallMs)} ms longest loop gap (main thread CPU ${ms(s.stallCpuMs)} ms in it, ` +
    `${ms(s.stallWaitMs)} ms waiting for a CPU); busiest turn ${ms(s.busiestTurnCpuMs)} ms CPU; ` +
    `main thread CPU ${ms(s.cpuMs)} ms per write (window ${(s.windowBytes / MiB).toFixed(1)} MiB, ` +
    `${s.totalMs.toFixed(0)} ms total); idle loop's longest gap ${ms(s.idleStallMs)} ms`
  )
}

/**
 * Checks the goals against a run's results. Throughput goals are
 * inconclusive when other processes used more than {@link busyMachineCpus}
 * CPUs (median) during the measurements; the snapshot stall goal (judged on
 * the longest wall-clock gap) when the idle loop's own longest gap exceeds
 * the goal (the machine alone stalls the loop that long), or when the gap
 * would be within it but for the main thread's wait for a CPU; the analyzer
 * goal when it missed by less than the share of the CPU it may have lost.
 */
export function checkGoals(
  results: BenchResults,
  summaries: readonly TargetSummary[],
): GoalCheck[] {
  const checks: GoalCheck[] = []
  const other = median(results.throughput.map((r) => r.otherCpus).filter(Number.isFinite))
  const busy = other > busyMachineCpus
  const note = busy
    ? ` [other processes used ${other.toFixed(2)} of ${results.machine.cpus} CPUs meanwhile]`
    : ''

  const defaults = frameworks.map((f) => ({ f, s: find(summaries, f, 'flightrec-default') }))
  checks.push({
    goal: 'Default level: >= 0.97x bare throughput and <= 1.10x bare p99, realistic route, express, fastify and koa',
    measured:
      defaults
        .map(({ f, s }) =>
          s
            ? `${f} ${x(s.throughputRatio)} req/s, ${x(s.p99Ratio)} p99 (CPU/request ${x(s.cpuRatio)})`
            : `${f} not run`,
        )
        .join('; ') + note,
    verdict: judge(
      defaults.map(({ s }) => (s ? s.throughputRatio >= 0.97 && s.p99Ratio <= 1.1 : undefined)),
      busy,
    ),
  })

  const causal = [...frameworks, 'node-http'].map((f) => ({
    f,
    s: find(summaries, f, 'flightrec-causal'),
  }))
  checks.push({
    goal: 'Causal level: >= 0.80x bare throughput, realistic route',
    measured:
      causal
        .map(({ f, s }) =>
          s ? `${f} ${x(s.throughputRatio)} (CPU/request ${x(s.cpuRatio)})` : `${f} not run`,
        )
        .join('; ') + note,
    verdict: judge(
      causal.map(({ s }) => (s ? s.throughputRatio >= 0.8 : undefined)),
      busy,
    ),
  })

  const versus = [...frameworks, 'node-http'].map((f) => ({
    f,
    fr: find(summaries, f, 'flightrec-default'),
    otel: find(summaries, f, 'opentelemetry'),
  }))
  checks.push({
    goal: "Default level's overhead <= 1/3 of the OpenTelemetry SDK's, realistic route (overhead = 1 - throughput ratio)",
    measured:
      versus
        .map(({ f, fr, otel }) =>
          fr && otel
            ? `${f} ${pct(1 - fr.throughputRatio)} vs ${pct(1 - otel.throughputRatio)} (CPU/request +${pct(fr.cpuRatio - 1)} vs +${pct(otel.cpuRatio - 1)})`
            : `${f} not run`,
        )
        .join('; ') + note,
    verdict: judge(
      versus.map(({ fr, otel }) =>
        fr && otel
          ? 1 - fr.throughputRatio <= Math.max(0, 1 - otel.throughputRatio) / 3
          : undefined,
      ),
      busy,
    ),
  })

  const tenMiB = results.snapshots.find((s) => s.targetMiB === 10)
  checks.push({
    goal: `Snapshot stall <= ${snapshotStallGoalMs} ms at a 10 MiB window`,
    measured: tenMiB ? describeSnapshotStall(tenMiB) : 'not run',
    verdict: !tenMiB
      ? 'not measured'
      : tenMiB.stallMs <= snapshotStallGoalMs
        ? 'met'
        : tenMiB.idleStallMs > snapshotStallGoalMs ||
            tenMiB.stallMs - tenMiB.stallWaitMs <= snapshotStallGoalMs
          ? 'inconclusive'
          : 'missed',
  })

  const analyzer = results.analyzer
  const share = busy ? results.machine.cpus / (results.machine.cpus + other) : 1
  checks.push({
    goal: 'Analyzer >= 50 MB/s',
    measured:
      analyzer.length > 0
        ? analyzer
            .map(
              (a) =>
                `${(a.fileBytes / MiB).toFixed(0)} MiB: ${a.megabytesPerSecond.toFixed(1)} MB/s, peak RSS ${(a.peakRssBytes / MiB).toFixed(0)} MiB`,
            )
            .join('; ')
        : 'not run (no CLI in this checkout)',
    verdict:
      analyzer.length === 0
        ? 'not measured'
        : analyzer.every((a) => a.megabytesPerSecond >= 50)
          ? 'met'
          : analyzer.every((a) => a.megabytesPerSecond / share >= 50)
            ? 'inconclusive'
            : 'missed',
  })
  return checks
}
