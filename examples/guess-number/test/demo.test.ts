import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { promisify } from 'node:util'
import type { Analysis } from '@flightrec/cli'
import { validateTrace } from '@flightrec/core'
import type { SnapshotFile, TraceEvent } from '@flightrec/core/trace-format'
import { describe, expect, it } from 'vitest'

const demo = new URL('../src/demo.ts', import.meta.url).pathname

/** Runs `demo.ts` with `args` into a fresh directory; returns the directory and what it printed. */
async function runDemo(args: string[]): Promise<{ dir: string; stdout: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'flightrec-demo-test-'))
  const { stdout } = await promisify(execFile)(process.execPath, [demo, '--dir', dir, ...args], {
    maxBuffer: 64 * 1024 * 1024,
  })
  return { dir, stdout }
}

async function snapshots(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => /^flightrec-.*\.json$/.test(name))
}

/** Every finding, one a line: the message of a failed expectation on the ranking. */
function listing(analysis: Analysis): string {
  return analysis.findings
    .map((f) => `${f.kind} ${f.ms} ms (${f.requests} req, ${f.evidence}): ${f.summary}`)
    .join('\n')
}

function overlap(e: TraceEvent, start: number, end: number): number {
  const s = e.ts ?? 0
  return Math.max(0, Math.min(s + (e.dur ?? 0), end) - Math.max(s, start))
}

describe('guess-number demo, the blog bug (locks held across the report POST)', () => {
  it('writes one snapshot whose top finding is sendReport holding the locks during its POST', async () => {
    const { dir, stdout } = await runDemo(['--json'])
    const files = await snapshots(dir)
    expect(files).toHaveLength(1)
    const { snapshot, analysis } = JSON.parse(stdout) as { snapshot: string; analysis: Analysis }
    expect(snapshot).toBe(join(dir, files[0]))

    expect(analysis.trigger).toMatchObject({ method: 'GET', route: '/guess-number' })
    expect(analysis.trigger.durationMs).toBeGreaterThan(100)
    const top = analysis.findings[0]
    expect(top.kind, listing(analysis)).toBe('waited-on-task')
    expect(top.culprit?.function, listing(analysis)).toBe('sendReport')
    expect(top.culprit?.file).toMatch(/examples\/guess-number\/src\/server\.ts$/)
    expect(top.waitedOn?.method).toBe('POST')
    expect(top.waitedOn?.url).toMatch(/^http:\/\/localhost:\d+\/guess-number-report$/)
    expect(top.evidence).toBe('flows')

    // What a user sees in Perfetto UI, checked on the file's structure.
    const trace = JSON.parse(await readFile(snapshot, 'utf8')) as SnapshotFile
    expect(validateTrace(trace, { requireFlightrec: true })).toEqual([])
    const events = trace.traceEvents
    // The request slices: the slow /guess-number requests, on their own async tracks.
    const slow = events.filter(
      (e) =>
        e.ph === 'b' &&
        e.cat === 'flightrec.request' &&
        (e.args as { route?: string; durationMs?: number })?.route === '/guess-number' &&
        ((e.args as { durationMs?: number }).durationMs ?? 0) > 100,
    )
    expect(slow.length).toBeGreaterThanOrEqual(1)
    // The flows: from resolve points inside sendReport's callback to waits on those requests.
    const callbacks = events.filter(
      (e) => e.cat === 'flightrec.async' && String(e.args?.function ?? '').startsWith('sendReport'),
    )
    expect(callbacks.length).toBeGreaterThanOrEqual(1)
    const outs = events.filter((e) => e.cat === 'flightrec.resolve' && e.flow_out && e.bind_id)
    const fromSendReport = outs.filter((o) =>
      callbacks.some((c) => overlap(c, o.ts ?? 0, (o.ts ?? 0) + 1) > 0),
    )
    const ins = new Map(events.filter((e) => e.flow_in && e.bind_id).map((e) => [e.bind_id, e]))
    const released = fromSendReport.map((o) => ins.get(o.bind_id))
    // Every arrow out of sendReport lands on a wait in a slow request; most slow requests get one.
    const slowTracks = new Set(slow.map((e) => e.id))
    expect(released.length).toBeGreaterThanOrEqual(1)
    for (const end of released) {
      // The arrow ends in the request's wait, or at the instant it resumed.
      expect(['wait', 'resume']).toContain(end?.args?.type)
      expect(slowTracks.has(end?.id)).toBe(true)
    }
    const releasedTracks = new Set(released.map((end) => end?.id))
    expect(releasedTracks.size).toBeGreaterThanOrEqual(Math.ceil(slow.length / 2))
    // The gap: while the POST was in flight, the event loop was mostly idle.
    const post = events.find(
      (e) =>
        e.ph === 'b' &&
        e.cat === 'flightrec.http-client' &&
        String(e.args?.url).endsWith('/guess-number-report'),
    ) as TraceEvent
    const postStart = post.ts ?? 0
    const postEnd = postStart + Number(post.args?.durationMs) * 1000
    const busy = events
      .filter((e) => e.cat === 'flightrec.loop')
      .reduce((sum, e) => sum + overlap(e, postStart, postEnd), 0)
    expect(busy / (postEnd - postStart)).toBeLessThan(0.5)
  })

  it('names the same culprit from timing alone at the default level', async () => {
    const { dir, stdout } = await runDemo(['--json', '--level', 'default'])
    expect(await snapshots(dir)).toHaveLength(1)
    const { analysis } = JSON.parse(stdout) as { analysis: Analysis }
    const top = analysis.findings[0]
    expect(top.kind, listing(analysis)).toBe('waited-on-task')
    expect(top.culprit?.function, listing(analysis)).toBe('sendReport')
    expect(top.waitedOn?.url).toMatch(/\/guess-number-report$/)
    expect(top.evidence).toBe('timing')
  })

  it('prints the analysis and the snapshot path on a line of its own', async () => {
    const { dir, stdout } = await runDemo([])
    const [file] = await snapshots(dir)
    const lines = stdout.split('\n').filter((line) => line.startsWith('snapshot: '))
    expect(lines).toHaveLength(1)
    const path = lines[0].slice('snapshot: '.length)
    expect(isAbsolute(path)).toBe(true)
    expect(path).toBe(join(dir, file))
  })
})

describe('guess-number demo --blocking', () => {
  it('is a blocked loop, naming the function that built the report', async () => {
    const { dir, stdout } = await runDemo(['--blocking', '--json'])
    expect(await snapshots(dir)).toHaveLength(1)
    const { analysis } = JSON.parse(stdout) as { analysis: Analysis }
    const top = analysis.findings[0]
    expect(top.kind, listing(analysis)).toBe('blocked-loop')
    expect(top.culprit?.function, listing(analysis)).toBe('buildReport')
    expect(top.culprit?.file).toMatch(/examples\/guess-number\/src\/server\.ts$/)
  })
})

describe('guess-number demo --fixed', () => {
  it('writes no snapshot: no request takes over 100 ms', async () => {
    const { dir, stdout } = await runDemo(['--fixed', '--json'])
    expect(await snapshots(dir)).toEqual([])
    expect(JSON.parse(stdout)).toMatchObject({ snapshot: null })
  })
})
