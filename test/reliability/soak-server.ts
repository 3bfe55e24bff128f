/**
 * The server soak.ts drives: an express app with @flightrec/express (a
 * snapshot on a slow request at most every 30 s, recording all along), whose
 * one route does a random mix of what services do. Run by soak.ts with an
 * IPC channel; it reports a sample of its memory and window every
 * `sampleMs`, and its final counters when asked.
 *
 * argv: maxBytes sampleMs snapshotDir
 */
import { createServer } from 'node:http'
import express from 'express'
import { FlightRecorder, log, task } from '../../packages/core/src/index.ts'
import { flightRecorder } from '../../packages/express/src/index.ts'
import { listen } from './helpers.ts'

/** A sample of the server's memory and of the recorder's window. */
export interface SoakSample {
  atMs: number
  rss: number
  heapUsed: number
  windowBytes: number
  snapshots: number
}

/** What the server reports at the end. */
export interface SoakFinal {
  stats: {
    requests: number
    snapshots: number
    failed: number
    suppressed: number
    skipped: number
  }
  errorCounts: Record<string, number>
  enabled: boolean
}

export type FromServer =
  | { type: 'ready'; url: string }
  | { type: 'sample'; sample: SoakSample }
  | { type: 'final'; final: SoakFinal }

const [maxBytes, sampleMs] = process.argv.slice(2, 4).map(Number)
const dir = process.argv[4]
const send = (message: FromServer) => process.send?.(message)

const upstream = await listen(
  createServer((_req, res) => {
    setTimeout(() => res.end('{"ok":true}'), Math.random() * 20)
  }),
)

// minAge far above the run: maxBytes, not age, bounds the window, so trimming by size is what runs.
const recorder = new FlightRecorder({ maxBytes, minAge: 3_600_000 })
const middleware = flightRecorder({
  recorder,
  threshold: 100,
  cooldown: 30_000,
  maxSnapshots: Number.POSITIVE_INFINITY,
  keepRecording: true,
  dir,
})
const app = express()
app.use(middleware)
app.get('/mix/:id', async (req, res, next) => {
  const id = req.params.id
  const dice = Math.random()
  try {
    if (dice < 0.6) {
      res.json({ id })
    } else if (dice < 0.8) {
      const body = await task('fetch item', async () => {
        const reply = await fetch(`${upstream.url}/items/${id}?token=t`)
        return reply.text()
      })
      res.type('json').send(body)
    } else if (dice < 0.93) {
      setTimeout(() => res.json({ id, slow: true }), 20 + Math.random() * 130)
    } else if (dice < 0.99) {
      const until = performance.now() + 2
      let spins = 0
      while (performance.now() < until) spins++
      log('cpu', `spun ${spins}`)
      res.json({ id, spins })
    } else {
      throw new Error('planned failure')
    }
  } catch (err) {
    next(err)
  }
})
app.use(
  (_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: 'failed' })
  },
)
const { url } = await listen(app)
const startedAt = performance.now()

setInterval(() => {
  const memory = process.memoryUsage()
  send({
    type: 'sample',
    sample: {
      atMs: Math.round(performance.now() - startedAt),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      windowBytes: recorder.windowBytes,
      snapshots: middleware.flightRecorder.stats.snapshots,
    },
  })
}, sampleMs).unref()

process.on('message', (message: { type: string }) => {
  if (message.type !== 'finish') return
  send({
    type: 'final',
    final: {
      stats: middleware.flightRecorder.stats,
      errorCounts: recorder.errorCounts,
      enabled: recorder.enabled,
    },
  })
  process.disconnect()
  process.exit(0)
})

send({ type: 'ready', url })
