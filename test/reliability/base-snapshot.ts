/**
 * A real snapshot to mutate: a recorder runs a server whose requests call an
 * upstream, run a task, log, and burn some CPU, and writes its window. Used by
 * the CLI bad-input test and by fuzz.ts.
 */
import { FlightRecorder, log, task } from '../../packages/core/src/index.ts'
import { closeServer, listen, memorySink } from './helpers.ts'

/** Snapshot text of a short, busy window (about 100-300 KB). */
export async function makeBaseSnapshot(): Promise<string> {
  const recorder = new FlightRecorder({ maxBytes: 4 * 1024 * 1024 })
  recorder.start()
  const upstream = await listen((_req, res) => {
    setTimeout(() => res.end('upstream'), 5)
  })
  const app = await listen(async (req, res) => {
    const body = await task('call upstream', async () => {
      const reply = await fetch(`${upstream.url}/data`)
      return reply.text()
    })
    let sum = 0
    for (let i = 0; i < 300_000; i++) sum += i % 7
    log('app', `served ${req.url}`)
    res.end(`${body} ${sum}`)
  })
  try {
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => (await fetch(`${app.url}/item/${i}`)).text()),
    )
    recorder.markTrigger({ reason: 'manual' })
    const sink = memorySink()
    await recorder.writeTo(sink, { reason: 'manual', request: { method: 'GET', path: '/item/1' } })
    return sink.text()
  } finally {
    recorder.stop()
    await closeServer(app.server)
    await closeServer(upstream.server)
  }
}
