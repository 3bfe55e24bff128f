import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { readThreads } from './proc-cpu.ts'
import { type BenchProcess, forkProcess } from './processes.ts'
import type {
  ConfigurationName,
  LoadMessage,
  LoadRequest,
  LoadResult,
  LoadRun,
  ServerMessage,
  ServerName,
  ServerReply,
  ServerRequest,
  ServerSpec,
} from './protocol.ts'
import { burnCpu } from './server/work.ts'
import type { BenchSettings } from './settings.ts'
import { median } from './stats.ts'

/** Everything the suites share: settings, the load and upstream processes, a temp folder. */
export interface BenchContext {
  settings: BenchSettings
  /** A folder for data, snapshots and results of this run; removed at the end unless kept. */
  workDir: string
  upstream: string
  dataFile: string
  cpuIterations: number
  log(line: string): void
  /** Process ids of the harness, the load and the upstream process (for CPU accounting). */
  pids: number[]
  /** Runs autocannon in the load process. */
  load(run: LoadRun): Promise<LoadResult>
  close(): Promise<void>
}

/** A running server process. */
export interface ServerHandle {
  process: BenchProcess<ServerRequest, ServerMessage>
  origin: string
}

/** What a server process used while an action ran ({@link measureServerCpu}). */
export interface ServerCpu<T> {
  result: T
  /** CPU time of the whole process, µs, as the process itself reports it. */
  cpuMicros: number
  peakRssBytes: number
  /** Ticks per thread group before and after (`readThreads`), for `threadMicrosPerRequest` and the like. */
  threadsBefore: Map<string, number>
  threadsAfter: Map<string, number>
}

/**
 * Runs `action` (a load, or a wait) between two readings of `server`'s CPU:
 * the process's own `cpuUsage` over IPC, and its threads' ticks from /proc
 * just inside them.
 */
export async function measureServerCpu<T>(
  server: ServerHandle,
  action: () => Promise<T>,
): Promise<ServerCpu<T>> {
  const pid = server.process.child.pid ?? -1
  const before = await server.process.ask<ServerReply<'usage'>>({ type: 'usage' }, 10_000)
  const threadsBefore = readThreads(pid)
  const result = await action()
  const threadsAfter = readThreads(pid)
  const after = await server.process.ask<ServerReply<'usage'>>({ type: 'usage' }, 10_000)
  return {
    result,
    cpuMicros: after.usage.cpuMicros - before.usage.cpuMicros,
    peakRssBytes: after.usage.peakRssBytes,
    threadsBefore,
    threadsAfter,
  }
}

const cpuTargetMs = 0.5

/** Finds the iterations of {@link burnCpu} that take ~0.5 ms here, so every server does the same work. */
export function calibrateCpu(): number {
  let iterations = 100_000
  for (let attempt = 0; attempt < 6; attempt++) {
    const times: number[] = []
    for (let i = 0; i < 60; i++) {
      const start = performance.now()
      burnCpu(iterations)
      times.push(performance.now() - start)
    }
    const ms = median(times.slice(10))
    iterations = Math.max(1000, Math.round((iterations * cpuTargetMs) / ms))
  }
  return iterations
}

/** Starts the upstream and load processes and writes the data file. */
export async function openContext(settings: BenchSettings): Promise<BenchContext> {
  const workDir = await mkdtemp(join(tmpdir(), 'flightrec-bench-'))
  const dataFile = join(workDir, 'catalog.txt')
  await writeFile(dataFile, 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(36))
  const upstream = await forkProcess<{ id: number }, { type: string; port?: number }>(
    './upstream/main.ts',
    [],
    30_000,
  )
  const load = await forkProcess<LoadRequest, LoadMessage>('./load/main.ts', [], 30_000)
  const cpuIterations = calibrateCpu()
  return {
    settings,
    workDir,
    upstream: `http://127.0.0.1:${upstream.ready.port}`,
    pids: [process.pid, load.process.child.pid ?? -1, upstream.process.child.pid ?? -1],
    dataFile,
    cpuIterations,
    log: (line) => process.stdout.write(`${line}\n`),
    async load(run) {
      const timeout = (run.durationSeconds + 30) * 1000
      const reply = await load.process.ask<Extract<LoadMessage, { type: 'result' }>>(
        { type: 'run', run },
        timeout,
      )
      // NaN (no 2xx response to take a percentile of) arrives over IPC as null.
      const result = reply.result
      result.latencyP50Ms ??= Number.NaN
      result.latencyP99Ms ??= Number.NaN
      return result
    },
    async close() {
      await Promise.all([load.process.close(), upstream.process.close()])
      await rm(workDir, { recursive: true, force: true })
    },
  }
}

/** Forks a server process running `server` under `configuration` (with Node.js flags `execArgv`) and waits until it listens. */
export async function startServer(
  context: BenchContext,
  server: ServerName,
  configuration: ConfigurationName,
  recorder?: ServerSpec['recorder'],
  execArgv: string[] = [],
): Promise<ServerHandle> {
  const spec: ServerSpec = {
    server,
    configuration,
    upstream: context.upstream,
    dataFile: context.dataFile,
    cpuIterations: context.cpuIterations,
    snapshotDir: context.workDir,
    ...(recorder ? { recorder } : {}),
  }
  const { process, ready } = await forkProcess<ServerRequest, ServerMessage>(
    './server/main.ts',
    [JSON.stringify(spec)],
    60_000,
    execArgv,
  )
  if (ready.type !== 'ready') throw new Error(`server ${server}/${configuration} did not start`)
  return { process, origin: `http://127.0.0.1:${ready.port}` }
}
