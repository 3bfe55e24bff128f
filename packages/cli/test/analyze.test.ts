import { readFile, writeFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { RecordingLevel } from '@flightrec/core'
import { Mutex } from 'async-mutex'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { analyzeFile, renderText } from '../src/index.ts'
import { close, get, record, serve, startRemote, stopRemote } from './record.ts'

let remote: Awaited<ReturnType<typeof startRemote>>

beforeAll(async () => {
  remote = await startRemote(200)
})

afterAll(async () => {
  await stopRemote(remote)
})

/**
 * The blog's bug in miniature: buckets guarded by locks, and a background
 * report that takes every lock and releases them only after its POST to a
 * slow remote service returns. Four clients guess meanwhile.
 */
async function lockedReport(level: RecordingLevel): Promise<string> {
  const buckets = Array.from({ length: 10 }, () => ({ mu: new Mutex(), guesses: 0 }))
  const { url, server } = await serve(async (req, res) => {
    const b = buckets[Number(new URL(req.url ?? '/', 'http://x').searchParams.get('guess')) % 10]
    await b.mu.runExclusive(() => {
      b.guesses++
    })
    res.end('ok')
  })
  async function sendReport(): Promise<void> {
    const unlocks: Array<() => void> = []
    try {
      for (const b of buckets) unlocks.push(await b.mu.acquire())
      const res = await request(`${remote.url}/report`, { method: 'POST', body: '[]' })
      await res.body.dump()
    } finally {
      for (const unlock of unlocks) unlock()
    }
  }
  try {
    return await record(level, async () => {
      // The clients run in this process too: their calls, made outside any
      // request, share the recorder's budget of caller captures (50 a second).
      let guessing = true
      const clients = Array.from({ length: 4 }, async (_, c) => {
        for (let i = 0; guessing; i++) {
          await get(`${url}/guess-number?guess=${c + i}`)
          await sleep(120)
        }
      })
      await sleep(200)
      await sendReport()
      await sleep(30)
      guessing = false
      await Promise.all(clients)
    })
  } finally {
    await close(server)
  }
}

describe('waited-on-task: a background task held what requests waited for', () => {
  it('names sendReport and its POST from timing alone (default level)', async () => {
    const a = await analyzeFile(await lockedReport('default'))
    const top = a.findings[0]
    expect(top.kind).toBe('waited-on-task')
    expect(top.culprit?.function).toBe('sendReport')
    expect(top.waitedOn).toMatchObject({ method: 'POST', url: `${remote.url}/report` })
    expect(top.waitedOn?.durationMs).toBeGreaterThanOrEqual(200)
    expect(top.requests).toBeGreaterThanOrEqual(2)
    expect(top.evidence).toBe('timing')
    const text = renderText(a).replace(/\s+/g, ' ')
    expect(text).toMatch(/sendReport \([^)]*\) held what \d+ requests were waiting for/)
  })

  it('follows the flows at the causal level', async () => {
    const path = await lockedReport('causal')
    const trace = JSON.parse(await readFile(path, 'utf8'))
    expect(trace.traceEvents.some((e: { flow_out?: boolean }) => e.flow_out)).toBe(true)
    const a = await analyzeFile(path)
    const top = a.findings[0]
    expect(top.kind).toBe('waited-on-task')
    expect(top.culprit?.function).toBe('sendReport')
    expect(top.waitedOn).toMatchObject({ method: 'POST', url: `${remote.url}/report` })
    expect(top.evidence).toBe('flows')
  })
})

describe('waited-on-upstream: requests waited on their own calls', () => {
  it('names the upstream and the time it explains', async () => {
    const { url, server } = await serve(async (_req, res) => {
      const upstream = await request(`${remote.url}/quotes/ACME`)
      res.end(await upstream.body.text())
    })
    try {
      const path = await record('default', async () => {
        await Promise.all([get(url), get(url), get(url)])
      })
      const a = await analyzeFile(path)
      const top = a.findings[0]
      expect(top.kind).toBe('waited-on-upstream')
      expect(top.waitedOn).toMatchObject({ method: 'GET', url: `${remote.url}/quotes/ACME` })
      expect(top.requests).toBe(3)
    } finally {
      await close(server)
    }
  })
})

describe('blocked-loop: synchronous work held the loop', () => {
  it('names the function, not the framework around it', async () => {
    function tallyScores(n: number): number {
      let sum = 0
      for (let i = 0; i < n; i++) sum = (sum + Math.sqrt(i) * Math.sin(i)) % 1e9
      return sum
    }
    const { url, server } = await serve((req, res) => {
      if (req.url === '/tally') {
        // Deterministic work, sized to take well over 100 ms on any machine.
        let rounds = 0
        const start = performance.now()
        while (performance.now() - start < 250) {
          tallyScores(200_000)
          rounds++
        }
        res.end(String(rounds))
      } else res.end('ok')
    })
    try {
      const path = await record('default', async () => {
        const fast = (async () => {
          for (let i = 0; i < 20; i++) await get(`${url}/`)
        })()
        await get(`${url}/tally`)
        await fast
      })
      const a = await analyzeFile(path)
      const top = a.findings[0]
      expect(top.kind).toBe('blocked-loop')
      expect(top.culprit?.function).toBe('tallyScores')
      expect(top.culprit?.file).toBe(new URL(import.meta.url).pathname)
    } finally {
      await close(server)
    }
  })
})

describe('a snapshot with nothing slow', () => {
  it('says so, with no findings', async () => {
    const { url, server } = await serve((_req, res) => res.end('ok'))
    try {
      const path = await record('default', async () => {
        for (let i = 0; i < 10; i++) await get(url)
      })
      const a = await analyzeFile(path)
      expect(a.requests.total).toBeGreaterThanOrEqual(10)
      expect(a.requests.slow).toBe(0)
      expect(a.slowest).toEqual([])
      expect(a.findings.filter((f) => f.requests > 0)).toEqual([])
      expect(renderText(a)).toContain('No slow request')
    } finally {
      await close(server)
    }
  })

  it('still reads a snapshot without CPU samples, and says what it cannot tell', async () => {
    const { url, server } = await serve((_req, res) => setTimeout(() => res.end('ok'), 120))
    try {
      const path = await record('default', async () => {
        await get(url)
      })
      const trace = JSON.parse(await readFile(path, 'utf8'))
      trace.traceEvents = trace.traceEvents.filter((e: { ph: string }) => e.ph !== 'P')
      await writeFile(path, JSON.stringify(trace))
      const a = await analyzeFile(path)
      expect(a.requests.slow).toBe(1)
      expect(a.notes.join(' ')).toContain('no CPU samples')
    } finally {
      await close(server)
    }
  })
})
