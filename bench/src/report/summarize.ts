import { configurations } from '../configurations.ts'
import type { ConfigurationSummary, TargetSummary } from '../results.ts'
import { median, medianByKey, range } from '../stats.ts'
import { runProblems, type ThroughputRun } from '../suites/throughput.ts'

/**
 * Summarizes throughput runs per server route and configuration: medians over
 * the rounds, and ratios to bare's medians from the same run.
 */
export function summarizeThroughput(runs: readonly ThroughputRun[]): TargetSummary[] {
  const keys = [...new Set(runs.map((r) => `${r.server} ${r.route}`))]
  return keys.map((key) => {
    const ofTarget = runs.filter((r) => `${r.server} ${r.route}` === key)
    const { server, route } = ofTarget[0]
    const bare = ofTarget.filter((r) => r.configuration === 'bare')
    const bareRps = median(bare.map((r) => r.load.requestsPerSecond))
    const bareP99 = median(bare.map((r) => r.load.latencyP99Ms))
    const bareCpu = median(bare.map((r) => r.cpuMicrosPerRequest))
    const summaries: ConfigurationSummary[] = []
    for (const { name } of configurations) {
      const mine = ofTarget.filter((r) => r.configuration === name)
      if (mine.length === 0) continue
      const rps = median(mine.map((r) => r.load.requestsPerSecond))
      const p99 = median(mine.map((r) => r.load.latencyP99Ms))
      const cpu = median(mine.map((r) => r.cpuMicrosPerRequest))
      const perRound = mine.map((run) => {
        const pair = bare.find((b) => b.round === run.round)
        return pair ? run.load.requestsPerSecond / pair.load.requestsPerSecond : Number.NaN
      })
      summaries.push({
        configuration: name,
        rounds: mine.length,
        requestsPerSecond: rps,
        latencyP50Ms: median(mine.map((r) => r.load.latencyP50Ms)),
        latencyP99Ms: p99,
        cpuMicrosPerRequest: cpu,
        peakRssBytes: Math.max(...mine.map((r) => r.peakRssBytes)),
        throughputRatio: rps / bareRps,
        throughputRatioRange: range(perRound),
        p99Ratio: p99 / bareP99,
        cpuRatio: cpu / bareCpu,
        threads: medianByKey(mine.map((r) => r.threads ?? {})),
        otherCpus: median(mine.map((r) => r.otherCpus)),
        evidence: mine[mine.length - 1].evidence.summary,
        problems: [...new Set(mine.flatMap(runProblems))],
      })
    }
    return { server, route, configurations: summaries }
  })
}
