/**
 * The Go flight recorder blog's guess-number bug, ported to Node.js, at the
 * causal level: 100 buckets each guarded by an async mutex; a background
 * sendReport locks every bucket, POSTs the counts with undici to a real
 * server, and unlocks only after the POST returns (Go's deferred Unlock).
 * Requests that guess meanwhile wait on their bucket's lock; the snapshot must
 * show flows from the sendReport continuation after the POST to each of them.
 */
import { createServer, type Server } from 'node:http'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { FlightRecorder } from '../src/index.ts'
import { Cat, type TraceEvent } from '../src/snapshot/trace-format.ts'
import { closeAll, flowsInto, listen, snapshot } from './causal-helpers.ts'

/** A first-come first-served async mutex; unlock hands the lock to the next waiter. */
class Mutex {
  #locked = false
  #waiters: Array<() => void> = []

  async lock(): Promise<void> {
    if (this.#locked) await new Promise<void>((resolve) => this.#waiters.push(resolve))
    this.#locked = true
  }

  unlock(): void {
    const next = this.#waiters.shift()
    if (next) next()
    else this.#locked = false
  }
}

const GUESSES = 20

let recorder: FlightRecorder | undefined
const servers: Server[] = []

afterEach(async () => {
  recorder?.stop()
  recorder = undefined
  await closeAll(servers)
})

describe('causal level: the guess-number bug', () => {
  it('draws a flow from the sendReport continuation after the POST to every request it released', async () => {
    recorder = new FlightRecorder({ level: 'causal' })
    recorder.start()

    const buckets = Array.from({ length: 100 }, () => ({ mu: new Mutex(), guesses: 0 }))
    // The report server answers once every guess waits on its lock, so the
    // requests are blocked by sendReport for sure, with nothing else to run.
    let waiting = 0
    let everyoneWaits = () => {}
    const allWaiting = new Promise<void>((resolve) => {
      everyoneWaits = resolve
    })
    const reportUrl = await listen(
      createServer(async (req, res) => {
        for await (const _ of req);
        await allWaiting
        res.end('ok')
      }),
      servers,
    )
    const appUrl = await listen(
      createServer(async (req, res) => {
        const guess = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('guess'))
        const bucket = buckets[guess]
        if (++waiting === GUESSES) everyoneWaits()
        await bucket.mu.lock()
        bucket.guesses++
        bucket.mu.unlock()
        res.end(`guess: ${guess}`)
      }),
      servers,
    )

    async function sendReport(): Promise<void> {
      const counts: number[] = []
      for (const bucket of buckets) {
        await bucket.mu.lock()
        counts.push(bucket.guesses)
      }
      let response: Awaited<ReturnType<typeof request>>
      try {
        response = await request(`${reportUrl}/guess-number-report`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(counts),
        })
      } finally {
        // The bug: the locks are held until the POST returns.
        for (const bucket of buckets) bucket.mu.unlock()
      }
      await response.body.dump()
    }

    const report = sendReport()
    const answers = await Promise.all(
      Array.from({ length: GUESSES }, (_, i) =>
        request(`${appUrl}/guess-number?guess=${(i * 7) % 100}`).then((r) => r.body.text()),
      ),
    )
    await report
    expect(answers).toHaveLength(GUESSES)
    const file = await snapshot(recorder)
    expect(file.metadata?.flightrec?.level).toBe('causal')
    const events = file.traceEvents

    const guessRequests = events.filter(
      (e) => e.ph === 'b' && e.cat === Cat.Request && e.args?.path === '/guess-number',
    )
    expect(guessRequests).toHaveLength(GUESSES)
    const post = events.find(
      (e) => e.ph === 'e' && e.cat === Cat.Client && e.name?.startsWith('POST '),
    ) as TraceEvent
    expect(post).toBeDefined()

    const releasers = new Set<TraceEvent>()
    for (const r of guessRequests) {
      const flows = flowsInto(events, r.args?.requestId as number)
      expect(flows, `${r.id} was released once`).toHaveLength(1)
      const [{ wait, waitEnd, resolve, releaser }] = flows
      expect(releaser.name).toMatch(/^sendReport \(causal-guess-number\.test\.ts:\d+\)$/)
      expect(wait.args?.releasedBy).toMatchObject({ type: 'PROMISE', function: releaser.name })
      expect(resolve.args?.requestId).toBe(r.args?.requestId)
      // The request began waiting before sendReport released it, and resumed after.
      expect(wait.ts).toBeLessThan(resolve.ts ?? 0)
      expect(waitEnd.ts).toBeGreaterThanOrEqual(resolve.ts ?? 0)
      releasers.add(releaser)
    }
    // One continuation released them all: the one that ran once the POST had its response.
    expect(releasers.size).toBe(1)
    const [releaser] = releasers
    expect(releaser.ts).toBeGreaterThanOrEqual(post.ts ?? 0)
    expect(releaser.args?.released).toBe(GUESSES)
    expect(releaser.args?.requestId).toBeUndefined()
  })
})
