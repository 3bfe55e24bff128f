/**
 * The blog's client: it keeps guessing numbers against the server, and, to
 * avoid a third process, also plays the remote service that receives the
 * server's reports, answering each a little slowly, as a service across a
 * network would.
 *
 * Run on its own (the blog's ports): `node src/client.ts`.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import pino, { type Logger } from 'pino'
import { Agent, request } from 'undici'
import { isMainModule, withDefaults } from './main-module.ts'

/** Options of {@link startClient}; defaults in {@link clientDefaults}. */
export interface ClientOptions {
  /** The guess-number server. Default http://localhost:8090. */
  server?: string
  /** Port of the report service; 0 picks a free one. Default 8091. */
  reportPort?: number
  /** How long the report service takes to answer, ms. Default 200. */
  reportDelay?: number
  /** Guesses in flight at once. Default 8. */
  concurrency?: number
  /** Pause between two guesses of one worker, ms. Default 5. */
  pause?: number
  logger?: Logger
}

/** Every default of the client, in one place. */
export const clientDefaults: Readonly<Required<Omit<ClientOptions, 'logger'>>> = Object.freeze({
  server: 'http://localhost:8090',
  reportPort: 8091,
  reportDelay: 200,
  concurrency: 8,
  pause: 5,
})

/** Guesses answered before the client runs all its workers. */
const RAMP_UP_GUESSES = 50

/** What the client saw, for the demo's summary. */
export interface ClientSummary {
  guesses: number
  failed: number
  reports: number
  slowestMs: number
}

/**
 * Starts the report service, then the guessing workers.
 *
 * @example
 * const client = await startClient({ server: 'http://localhost:8090', reportPort: 0 })
 * const summary = await client.close()
 */
export async function startClient(options: ClientOptions = {}) {
  const { logger: _logger, ...rest } = options
  const o = withDefaults({ ...clientDefaults }, rest)
  const logger = options.logger ?? pino()
  const summary: ClientSummary = { guesses: 0, failed: 0, reports: 0, slowestMs: 0 }

  // The "remote service": accepts a report, answers after reportDelay ms.
  const reports = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/guess-number-report') {
      res.writeHead(404).end()
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      summary.reports++
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
      }, o.reportDelay)
    })
  })
  reports.listen(o.reportPort)
  await new Promise<void>((resolve, reject) => {
    reports.once('listening', resolve)
    reports.once('error', reject)
  })
  const reportUrl = `http://localhost:${(reports.address() as AddressInfo).port}/guess-number-report`

  const agent = new Agent({ connections: o.concurrency })
  let running = true
  const worker = async () => {
    while (running) {
      const guess = Math.floor(Math.random() * 100)
      const start = performance.now()
      try {
        const res = await request(`${o.server}/guess-number?guess=${guess}`, { dispatcher: agent })
        await res.body.text()
        summary.guesses++
        summary.slowestMs = Math.max(summary.slowestMs, performance.now() - start)
        if (o.pause > 0) await sleep(o.pause)
      } catch {
        // The server is not up yet, or is going away: try again shortly.
        summary.failed++
        if (running) await sleep(100)
      }
    }
  }
  // Ramp up: one worker until the server has answered a few guesses (its
  // code compiled and warm), then all of them.
  const workers = [worker()]
  const rampUp = (async () => {
    while (running && summary.guesses < RAMP_UP_GUESSES) await sleep(20)
    for (let i = 1; running && i < o.concurrency; i++) workers.push(worker())
  })()
  logger.info({ reportUrl, server: o.server }, 'guessing')

  return {
    reportUrl,
    summary,
    async close(): Promise<ClientSummary> {
      running = false
      await rampUp
      await Promise.all(workers)
      await agent.close()
      reports.closeAllConnections()
      await new Promise<void>((resolve) => reports.close(() => resolve()))
      return summary
    },
  }
}

if (isMainModule(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      server: { type: 'string' },
      'report-port': { type: 'string' },
      'report-delay': { type: 'string' },
      concurrency: { type: 'string' },
    },
  })
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v))
  const client = await startClient({
    server: values.server,
    reportPort: num(values['report-port']),
    reportDelay: num(values['report-delay']),
    concurrency: num(values.concurrency),
  })
  process.send?.({ ready: client.reportUrl })
  const stop = () => {
    client.close().then((summary) => {
      if (process.connected && process.send) process.send({ summary }, () => process.exit(0))
      else process.exit(0)
    })
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  // Started by the demo: leave with it.
  process.once('disconnect', stop)
}
