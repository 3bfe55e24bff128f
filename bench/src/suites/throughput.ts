import { type Configuration, configurations, type Target } from '../configurations.ts'
import { type BenchContext, measureServerCpu, type ServerHandle, startServer } from '../context.ts'
import { otherCpus, readCpu, threadMicrosPerRequest } from '../proc-cpu.ts'
import type { Evidence, LoadResult, LoadRun, ServerReply } from '../protocol.ts'

/** One measurement of one configuration of one server route. */
export interface ThroughputRun {
  server: Target['server']
  route: Target['route']
  configuration: Configuration['name']
  round: number
  load: LoadResult
  /** Server process CPU (user + system) during the measurement, per request served, µs. */
  cpuMicrosPerRequest: number
  /** Server process peak RSS over its life (warm-up included), bytes. */
  peakRssBytes: number
  /** CPUs' worth of work other processes on the machine did during the measurement (NaN off Linux). */
  otherCpus: number
  /** The server's CPU µs per request by thread group (main, CPU profiler, GC helpers, thread pool; Linux). */
  threads: Record<string, number>
  evidence: Evidence
}

/**
 * Measures `targets` (routes of one server) on one running server process:
 * for each, a warm-up, then autocannon for the configured duration with the
 * server's CPU time read just before and after; then asks for evidence that
 * the instrumentation ran, which every run of this process shares.
 */
async function measureRoutes(
  context: BenchContext,
  server: ServerHandle,
  targets: readonly Target[],
  configuration: Configuration['name'],
  round: number,
): Promise<ThroughputRun[]> {
  const { settings } = context
  const connections = settings.connections
  const runs: Omit<ThroughputRun, 'evidence'>[] = []
  for (const target of targets) {
    const requests = requestsOf(server.origin, target)
    if (settings.warmupSeconds > 0) {
      await context.load({ ...requests, connections, durationSeconds: settings.warmupSeconds })
    }
    const pids = [...context.pids, server.process.child.pid ?? -1]
    const measured = await measureServerCpu(server, async () => {
      const machineBefore = readCpu(pids)
      const load = await context.load({
        ...requests,
        connections,
        durationSeconds: settings.durationSeconds,
        ...(settings.quickCheck ? { amount: settings.checkRequests } : {}),
      })
      return { load, otherCpus: otherCpus(machineBefore, readCpu(pids)) }
    })
    const { load } = measured.result
    const { cpuMicros, threadsBefore, threadsAfter } = measured
    runs.push({
      server: target.server,
      route: target.route,
      configuration,
      round,
      load,
      cpuMicrosPerRequest: load.requests > 0 ? cpuMicros / load.requests : Number.NaN,
      peakRssBytes: measured.peakRssBytes,
      otherCpus: measured.result.otherCpus,
      threads: threadMicrosPerRequest(threadsBefore, threadsAfter, load.requests),
    })
  }
  const { evidence } = await server.process.ask<ServerReply<'evidence'>>(
    { type: 'evidence' },
    30_000,
  )
  return runs.map((run) => ({ ...run, evidence }))
}

/** What autocannon requests of `target`: its path, or its `paths` in turn. */
export function requestsOf(origin: string, target: Target): Pick<LoadRun, 'url' | 'paths'> {
  return target.paths
    ? { url: origin, paths: [...target.paths] }
    : { url: `${origin}${target.path}` }
}

/** Problems that make a run not count: failed requests, or instrumentation that recorded nothing. */
export function runProblems(run: ThroughputRun): string[] {
  const problems: string[] = []
  const { load } = run
  if (load.requests === 0) problems.push('no successful request')
  if (load.errors > 0) problems.push(`${load.errors} connection errors`)
  if (load.timeouts > 0) problems.push(`${load.timeouts} timeouts`)
  if (load.non2xx > 0) problems.push(`${load.non2xx} non-2xx responses`)
  if (!run.evidence.active) problems.push(`instrumentation inactive: ${run.evidence.summary}`)
  return problems
}

/**
 * Runs every configuration against `target` in interleaved rounds: round 1
 * in order (bare first), round 2 reversed, and so on, so slow drift of the
 * machine falls evenly on every configuration.
 */
export async function measureTarget(
  context: BenchContext,
  target: Target,
  only: readonly Configuration['name'][] = configurations
    .filter((c) => !c.optional)
    .map((c) => c.name),
): Promise<ThroughputRun[]> {
  const runs: ThroughputRun[] = []
  for (let round = 1; round <= context.settings.rounds; round++) {
    const order = round % 2 === 1 ? [...only] : [...only].reverse()
    for (const configuration of order) {
      const server = await startServer(context, target.server, configuration)
      const [run] = await measureRoutes(context, server, [target], configuration, round).finally(
        () => server.process.close(),
      )
      log(context, run)
      runs.push(run)
    }
  }
  return runs
}

function log(context: BenchContext, run: ThroughputRun): void {
  const problems = runProblems(run)
  context.log(
    `  ${run.server} ${run.route} round ${run.round} ${run.configuration}: ` +
      `${Math.round(run.load.requestsPerSecond)} req/s, p50 ${run.load.latencyP50Ms.toFixed(2)} ms, ` +
      `p99 ${run.load.latencyP99Ms.toFixed(2)} ms, ${run.cpuMicrosPerRequest.toFixed(0)} µs CPU/req, ` +
      `${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB peak RSS, other processes ${run.otherCpus.toFixed(2)} CPUs; ` +
      `${run.evidence.summary}` +
      (problems.length ? `; PROBLEMS: ${problems.join(', ')}` : ''),
  )
}

/** Server processes of every configuration of one server, started at once (some may have failed). */
export type ServerGroup = PromiseSettledResult<ServerHandle>[]

/** Starts one server process per configuration in `only`, all at once. */
export function startGroup(
  context: BenchContext,
  server: Target['server'],
  only: readonly Configuration['name'][],
): Promise<ServerGroup> {
  return Promise.allSettled(only.map((c) => startServer(context, server, c)))
}

/**
 * The smoke test's shortcut: measures all routes of a server on each process
 * of a group started by {@link startGroup}, in turn, then closes them. The
 * next group may be starting meanwhile, so the figures are only a check that
 * every configuration starts, serves and is measured, never a result.
 */
export async function checkServer(
  context: BenchContext,
  routes: readonly Target[],
  only: readonly Configuration['name'][],
  group: ServerGroup,
): Promise<ThroughputRun[]> {
  const runs: ThroughputRun[] = []
  try {
    for (const [i, outcome] of group.entries()) {
      if (outcome.status === 'rejected') throw outcome.reason
      for (const run of await measureRoutes(context, outcome.value, routes, only[i], 1)) {
        log(context, run)
        runs.push(run)
      }
    }
  } finally {
    await Promise.all(
      group.map((o) => (o.status === 'fulfilled' ? o.value.process.close() : undefined)),
    )
  }
  return runs
}
