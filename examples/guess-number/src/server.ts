/**
 * The guess-number server of the Go flight recorder blog, ported to Node.js:
 * express, a per-bucket async mutex, pino logs, an undici report POST, and
 * @flightrec/express capturing a snapshot of the seconds before the first
 * request over 100 ms.
 *
 * Run it on its own (the blog's ports) with `node src/server.ts`, and the
 * client with `node src/client.ts`; or let `node src/demo.ts` run both.
 *
 * Variants (--variant or the flags):
 * - default: the blog's bug. sendReport locks every bucket, then POSTs, and
 *   unlocks only after the POST returns (Go's `defer b.mu.Unlock()`).
 * - --fixed: each bucket is unlocked right after its count is copied.
 * - --blocking: no locks held across the POST, but the report is signed with
 *   a key stretched by pbkdf2Sync: synchronous work that blocks the event loop.
 */
import { createHmac, pbkdf2Sync, randomInt } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { FlightRecorder, type RecordingLevel } from '@flightrec/core'
import { type FlightRecorderMiddleware, flightRecorder } from '@flightrec/express'
import { Mutex } from 'async-mutex'
import express from 'express'
import pino, { type Logger } from 'pino'
import { request } from 'undici'
import { formatGoDuration } from './go-duration.ts'
import { isMainModule, withDefaults } from './main-module.ts'

/** What can be wrong with sendReport. */
export type Variant = 'deferred-unlock' | 'fixed' | 'blocking'

/** Options of {@link startServer}; defaults in {@link serverDefaults}. */
export interface ServerOptions {
  variant?: Variant
  /** Port to listen on; 0 picks a free one. Default 8090, as in the blog. */
  port?: number
  /** Where sendReport POSTs. Default http://localhost:8091/guess-number-report. */
  reportUrl?: string
  /** ms between reports. Default 1000 (the blog: one minute). */
  reportInterval?: number
  /** Directory of snapshot files. Default: the working directory. */
  dir?: string
  /** Recorder level: 'default', or 'causal' for flows from the releasing task to the requests it released. */
  level?: RecordingLevel
  logger?: Logger
  /**
   * The @flightrec/express middleware registered before the route, or `false`
   * to run the server without flightrec (no recorder is created). Default:
   * one built from `threshold`, `dir`, the logger and a new recorder at
   * `level` (plus the event-loop stall trigger in the blocking variant).
   * When given, it wins: `dir` and `level` are not used.
   */
  adapter?: FlightRecorderMiddleware | false
}

/** Every default of the server, in one place. */
export const serverDefaults: Readonly<
  Required<Omit<ServerOptions, 'logger' | 'dir' | 'adapter'>>
> & {
  threshold: number
} = Object.freeze({
  variant: 'deferred-unlock',
  port: 8090,
  reportUrl: 'http://localhost:8091/guess-number-report',
  reportInterval: 1000,
  level: 'default',
  /** Requests slower than this (ms) trigger the one snapshot. */
  threshold: 100,
})

/** A guess counter, guarded by its own lock (the Go code's `bucket`). */
interface Bucket {
  mu: Mutex
  guesses: number
}

/**
 * Starts the server and the report loop; resolves once it listens.
 *
 * @example
 * const server = await startServer({ port: 0, variant: 'fixed' })
 * console.log(server.url)
 * await server.close()
 *
 * @example
 * // Without flightrec, e.g. as the baseline of a benchmark.
 * const bare = await startServer({ port: 0, variant: 'fixed', adapter: false })
 */
export async function startServer(options: ServerOptions = {}) {
  const { logger: _logger, adapter: _adapter, ...rest } = options
  const o = withDefaults({ ...serverDefaults, dir: undefined as string | undefined }, rest)
  // Asynchronous log writes: a synchronous write to a slow pipe would block the loop.
  const logger = options.logger ?? pino(pino.destination({ sync: false }))
  // One bucket per number a client may guess: the guess indexes the array.
  const buckets: Bucket[] = Array.from({ length: 100 }, () => ({ mu: new Mutex(), guesses: 0 }))
  // The number to be guessed.
  const answer = randomInt(buckets.length)

  const app = express()
  app.disable('x-powered-by')
  // Like the Go server: no ETag (express would hash every body with SHA-1).
  app.disable('etag')
  // Capture a snapshot the first time a response takes more than 100 ms. A
  // blocked loop delays the requests that arrive meanwhile, but their clocks
  // start only once it is free again; so the blocking variant also captures
  // on the stall itself.
  const adapter =
    options.adapter ??
    flightRecorder({
      threshold: o.threshold,
      eventLoopStall: o.variant === 'blocking' ? o.threshold : undefined,
      dir: o.dir,
      logger,
      recorder: new FlightRecorder({ level: o.level }),
    })
  if (adapter) app.use(adapter)
  app.get('/guess-number', async function guessNumber(req, res) {
    const start = performance.now()
    // Fetch the guess from the query and validate it.
    const guess = parseGuess(req.query.guess)
    if (guess === undefined || guess < 0 || guess >= buckets.length) {
      res.status(400).type('text/plain').send("invalid 'guess' value\n")
      return
    }
    // Select the bucket and safely increment its count.
    const b = buckets[guess]
    await b.mu.runExclusive(() => {
      b.guesses++
    })
    // Tell the client the guess and whether it was right.
    res.type('text/plain').send(`guess: ${guess}, correct: ${guess === answer}`)
    logger.info(
      {
        endpoint: '/guess-number',
        guess,
        duration: formatGoDuration(performance.now() - start),
      },
      'HTTP request',
    )
  })

  const send = {
    'deferred-unlock': sendReport,
    fixed: sendReportFixed,
    blocking: sendReportBlocking,
  }[o.variant]
  // Every interval, send a report of how many times each number was guessed.
  let reporting = Promise.resolve()
  const timer = setInterval(() => {
    reporting = send(buckets, o.reportUrl, logger)
  }, o.reportInterval)

  const server = app.listen(o.port)
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const url = `http://localhost:${(server.address() as AddressInfo).port}`
  logger.info({ url, variant: o.variant, level: o.level }, 'listening')
  return {
    url,
    async close(): Promise<void> {
      clearInterval(timer)
      await reporting
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * The blog's bug: every bucket is locked while its count is copied, but the
 * locks are released only when sendReport returns, after the POST (in Go,
 * `defer b.mu.Unlock()` inside the loop runs at function exit).
 */
async function sendReport(buckets: Bucket[], url: string, logger: Logger): Promise<void> {
  const unlocks: Array<() => void> = []
  try {
    const counts: number[] = []
    for (const b of buckets) {
      unlocks.push(await b.mu.acquire())
      counts.push(b.guesses)
    }
    // Marshal the report and post it, as the Go code does with http.Post.
    const res = await request(url, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(counts),
    })
    await res.body.dump()
  } catch (err) {
    logger.error({ err }, 'failed to send report')
  } finally {
    for (const unlock of unlocks) unlock()
  }
}

/** The fix: unlock each bucket as soon as its count is copied. */
async function sendReportFixed(buckets: Bucket[], url: string, logger: Logger): Promise<void> {
  try {
    const counts: number[] = []
    for (const b of buckets) {
      counts.push(await b.mu.runExclusive(() => b.guesses))
    }
    const res = await request(url, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(counts),
    })
    await res.body.dump()
  } catch (err) {
    logger.error({ err }, 'failed to send report')
  }
}

/** No lock held across the POST, but the report is signed synchronously first. */
async function sendReportBlocking(buckets: Bucket[], url: string, logger: Logger): Promise<void> {
  try {
    const res = await request(url, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: buildReport(buckets),
    })
    await res.body.dump()
  } catch (err) {
    logger.error({ err }, 'failed to send report')
  }
}

const JSON_HEADERS = { 'content-type': 'application/json' }
const SIGNING_SECRET = 'guess-number-report'

/**
 * Builds the report and signs it with a key stretched from a secret by
 * PBKDF2-HMAC-SHA256 at OWASP's recommended 600 000 iterations, on every
 * call and synchronously: a few hundred ms during which the event loop
 * serves nobody.
 */
function buildReport(buckets: Bucket[]): string {
  const counts = buckets.map((b) => b.guesses)
  const key = pbkdf2Sync(SIGNING_SECRET, 'report-signing', 600_000, 64, 'sha256')
  const signature = createHmac('sha256', key).update(JSON.stringify(counts)).digest('base64url')
  return JSON.stringify({ counts, signature })
}

function parseGuess(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^[+-]?\d+$/.test(value)) return undefined
  return Number(value)
}

function parseVariant(values: { fixed?: boolean; blocking?: boolean; variant?: string }): Variant {
  if (values.fixed && values.blocking) throw new Error('--fixed and --blocking exclude each other')
  if (values.fixed) return 'fixed'
  if (values.blocking) return 'blocking'
  const v = values.variant ?? serverDefaults.variant
  if (v !== 'deferred-unlock' && v !== 'fixed' && v !== 'blocking') {
    throw new Error(`unknown variant '${v}' (deferred-unlock, fixed, blocking)`)
  }
  return v
}

if (isMainModule(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string' },
      fixed: { type: 'boolean' },
      blocking: { type: 'boolean' },
      port: { type: 'string' },
      'report-url': { type: 'string' },
      'report-interval': { type: 'string' },
      dir: { type: 'string' },
      level: { type: 'string' },
    },
  })
  const level = values.level ?? serverDefaults.level
  if (level !== 'default' && level !== 'causal') throw new Error(`unknown level '${level}'`)
  const server = await startServer({
    variant: parseVariant(values),
    port: values.port === undefined ? serverDefaults.port : Number(values.port),
    reportUrl: values['report-url'],
    reportInterval:
      values['report-interval'] === undefined ? undefined : Number(values['report-interval']),
    dir: values.dir,
    level,
  })
  process.send?.({ ready: server.url })
  const stop = () => {
    server.close().then(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  // Started by the demo: leave with it.
  process.once('disconnect', stop)
}
