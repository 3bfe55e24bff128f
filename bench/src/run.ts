import { existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import type { Target } from './configurations.ts'
import { openContext } from './context.ts'
import { describeMachine } from './machine.ts'
import type { ConfigurationName } from './protocol.ts'
import type { BenchResults } from './results.ts'
import type { BenchSettings } from './settings.ts'
import { type AnalyzerResult, analyzerAvailable, medianAnalyzerRun } from './suites/analyzer.ts'
import {
  measureSnapshots,
  type SnapshotResult,
  snapshotForAnalyzer,
} from './suites/snapshot-cost.ts'
import {
  checkServer,
  measureTarget,
  runProblems,
  startGroup,
  type ThroughputRun,
} from './suites/throughput.ts'
import { measureTraceRate, type TraceRate } from './suites/trace-rate.ts'

/** Every suite, in the order a run measures them. */
export const suites = ['throughput', 'trace-rate', 'snapshot', 'analyzer'] as const

/** What to measure. */
export interface Selection {
  targets: readonly Target[]
  configurations: readonly ConfigurationName[]
  suites: readonly (typeof suites)[number][]
}

/**
 * Runs the selected suites with `settings` and collects their results, and
 * every problem met (a failed suite, a run that does not count, a failed
 * analyzer); a problem never stops the other results from being written.
 */
export async function runBench(
  settings: BenchSettings,
  selection: Selection,
  repo: string,
): Promise<{ results: BenchResults; failures: string[] }> {
  const started = performance.now()
  const loadBefore = loadavg()[0]
  const context = await openContext(settings)
  context.log(
    `flightrec bench (${settings.quickCheck ? 'smoke' : 'full'}): ${settings.rounds} round(s) of ${settings.durationSeconds} s, ` +
      `${settings.connections} connections; CPU loop ${context.cpuIterations} iterations; load average ${loadBefore.toFixed(2)}`,
  )
  const throughput: ThroughputRun[] = []
  const traceRates: TraceRate[] = []
  let snapshots: SnapshotResult[] = []
  const analyzer: AnalyzerResult[] = []
  const failures: string[] = []
  const only = selection.configurations
  const servers = [...new Set(selection.targets.map((t) => t.server))]
  try {
    if (selection.suites.includes('throughput')) {
      context.log('Throughput and latency')
      if (settings.quickCheck) {
        // Each group of server processes starts while the previous one is measured.
        let starting = servers.length ? startGroup(context, servers[0], only) : undefined
        try {
          for (const [i, server] of servers.entries()) {
            const group = (await starting) ?? []
            starting =
              i + 1 < servers.length ? startGroup(context, servers[i + 1], only) : undefined
            const routes = selection.targets.filter((t) => t.server === server)
            throughput.push(...(await checkServer(context, routes, only, group)))
          }
        } finally {
          for (const o of (await starting) ?? []) {
            if (o.status === 'fulfilled') await o.value.process.close()
          }
        }
      } else {
        for (const target of selection.targets) {
          throughput.push(...(await measureTarget(context, target, only)))
        }
      }
    }
    if (selection.suites.includes('trace-rate')) {
      context.log(`Trace bytes per second at ${settings.traceRate} req/s`)
      for (const server of settings.traceRateServers) {
        if (!servers.includes(server)) continue
        for (const level of ['default', 'causal'] as const) {
          traceRates.push(await measureTraceRate(context, server, level))
        }
      }
    }
    if (selection.suites.includes('snapshot') || selection.suites.includes('analyzer')) {
      context.log('Snapshot cost')
      snapshots = await measureSnapshots(context)
    }
    if (selection.suites.includes('analyzer')) {
      context.log('Analyzer')
      if (!analyzerAvailable()) {
        context.log('  skipped: packages/cli/bin/flightrec.js does not exist yet')
      } else {
        for (const mib of settings.analyzerSnapshotsMiB) {
          const snapshot = snapshotForAnalyzer(snapshots, mib)
          if (!snapshot) throw new Error(`no snapshot of ${mib} MiB was written`)
          analyzer.push(await medianAnalyzerRun(context, snapshot, settings.analyzerRuns))
        }
      }
    }
  } catch (err) {
    failures.push(err instanceof Error ? (err.stack ?? err.message) : String(err))
  } finally {
    await context.close()
  }
  for (const run of throughput) {
    const problems = runProblems(run)
    if (problems.length) {
      failures.push(
        `${run.server} ${run.route} ${run.configuration} round ${run.round}: ${problems.join(', ')}`,
      )
    }
  }
  for (const a of analyzer) {
    if (a.exitCode !== 0) failures.push(`flightrec analyze exited with ${a.exitCode}`)
  }
  const has = (path: string) => existsSync(join(repo, path))
  const results: BenchResults = {
    mode: settings.quickCheck ? 'smoke' : 'full',
    machine: describeMachine(),
    settings,
    cpuIterations: context.cpuIterations,
    loadAverage: { before: loadBefore, after: loadavg()[0] },
    durationSeconds: (performance.now() - started) / 1000,
    coverage: [
      `adapters: ${['express', 'fastify', 'koa'].filter((f) => has(`packages/${f}/src/index.ts`)).join(', ')}`,
      analyzerAvailable() ? 'CLI analyzer' : 'no CLI analyzer yet',
      has('examples/guess-number/src/server.ts')
        ? 'guess-number example'
        : 'no guess-number example',
    ],
    throughput,
    traceRates,
    snapshots: snapshots.map(({ file: _file, ...rest }) => rest),
    analyzer,
  }
  return { results, failures }
}
