import type { ServerMessage, ServerRequest, ServerSpec } from '../protocol.ts'
import type { StartApp } from './apps/app.ts'
import { instrument } from './instrument.ts'
import { measureSnapshot } from './snapshot-cost.ts'

/**
 * A server process: applies one configuration, then starts one app on a free
 * loopback port, tells the harness the port, and answers its questions
 * (CPU and memory used, evidence, snapshot cost) over IPC.
 */
const spec = JSON.parse(process.argv[2] ?? '{}') as ServerSpec

function send(message: ServerMessage): void {
  process.send?.(message)
}

async function main(): Promise<void> {
  const instrumentation = await instrument(spec)
  const apps: Record<ServerSpec['server'], () => Promise<{ start: StartApp }>> = {
    'node-http': () => import('./apps/node-http.ts'),
    express: () => import('./apps/express.ts'),
    fastify: () => import('./apps/fastify.ts'),
    koa: () => import('./apps/koa.ts'),
    'guess-number': () => import('./apps/guess-number.ts'),
  }
  const { start } = await apps[spec.server]()
  const app = await start({
    work: { upstream: spec.upstream, dataFile: spec.dataFile, cpuIterations: spec.cpuIterations },
    flightrec: instrumentation.recorder && {
      recorder: instrumentation.recorder,
      snapshotDir: spec.snapshotDir,
    },
  })
  process.on('message', (raw) => {
    const request = raw as ServerRequest
    answer(request).then(send, (err: unknown) =>
      send({ id: request.id, type: 'error', message: String(err) }),
    )
  })
  process.on('disconnect', () => {
    app.close().finally(() => process.exit(0))
  })
  send({ type: 'ready', port: app.port })

  async function answer(request: ServerRequest): Promise<ServerMessage> {
    switch (request.type) {
      case 'usage': {
        const cpu = process.cpuUsage()
        return {
          id: request.id,
          type: 'usage',
          usage: {
            cpuMicros: cpu.user + cpu.system,
            peakRssBytes: process.resourceUsage().maxRSS * 1024,
          },
        }
      }
      case 'evidence': {
        const evidence = await instrumentation.evidence()
        const stats = app.captureStats?.()
        if (stats) {
          evidence.summary += `; adapter timed ${stats.requests} requests, wrote ${stats.snapshots} snapshot(s)`
          evidence.active &&= stats.requests > 0 && stats.failed === 0
        }
        return { id: request.id, type: 'evidence', evidence }
      }
      case 'window': {
        const recorder = required(instrumentation.recorder)
        return {
          id: request.id,
          type: 'window',
          windowBytes: recorder.windowBytes,
        }
      }
      case 'recording': {
        const recorder = required(instrumentation.recorder)
        if (request.on && !recorder.enabled) recorder.start()
        else if (!request.on && recorder.enabled) recorder.stop()
        return { id: request.id, type: 'recording', enabled: recorder.enabled }
      }
      case 'snapshot': {
        const recorder = required(instrumentation.recorder)
        const cost = await measureSnapshot(recorder, request.file, request.probeMs)
        return { id: request.id, type: 'snapshot', cost }
      }
    }
  }
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error(`configuration ${spec.configuration} has no recorder`)
  return value
}

main().catch((err: unknown) => {
  send({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) })
  process.exitCode = 1
  process.disconnect?.()
})
