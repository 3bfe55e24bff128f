import { analyzeDefaults } from '../context.ts'
import { type Release, releaseKey } from '../explain.ts'
import { duration, plural, where } from '../format.ts'
import type { CallRecord } from '../model.ts'
import { type Finding, type FindingsInput, ms } from './types.ts'

interface Group {
  micros: number
  requests: Set<number>
  release: Release
  calls: Set<CallRecord>
  releaseTimes: number[]
  flows: boolean
  byRequest: boolean
}

/**
 * Requests that waited until other code let them go: a lock holder
 * releasing, a queue draining, a shared promise resolving. Grouped by the
 * code that released them and what that code was itself waiting on, so "
 * sendReport held the locks during its POST" is one finding however many
 * requests it delayed. Waits nothing explains (the loop idle, no call of
 * their own, nothing ending when they resumed) form one more finding of this
 * kind with no culprit: at the default level that is what a timer or an
 * unobserved release looks like.
 */
export function waitedOnTask({ ctx, explained, totalMicros }: FindingsInput): Finding[] {
  const groups = new Map<string, Group>()
  for (const ex of explained) {
    for (const part of ex.parts) {
      if (part.kind !== 'waited-on-task' || !part.release) continue
      const key = releaseKey(part.release)
      let g = groups.get(key)
      if (!g) {
        g = {
          micros: 0,
          requests: new Set(),
          release: part.release,
          calls: new Set(),
          releaseTimes: [],
          flows: false,
          byRequest: false,
        }
        groups.set(key, g)
      }
      g.micros += part.micros
      g.requests.add(ex.request.id)
      g.releaseTimes.push(part.release.ts)
      if (part.release.call) g.calls.add(part.release.call)
      if (part.release.evidence === 'flow') g.flows = true
      if (part.release.byRequest !== undefined) g.byRequest = true
    }
  }
  const findings: Finding[] = []
  for (const g of groups.values()) findings.push(fromGroup(g))
  const unknown = unexplainedWaits({ ctx, explained, totalMicros })
  if (unknown) findings.push(unknown)
  return findings
}

function fromGroup(g: Group): Finding {
  const r = g.release
  const calls = [...g.calls]
  const longest = calls.length
    ? calls.reduce((a, b) => (b.durationMs > a.durationMs ? b : a))
    : undefined
  const n = g.requests.size
  const who = r.culprit ? where(r.culprit) : 'code the snapshot does not name'
  const lost = `${plural(n, 'slow request')} ${n === 1 ? 'was' : 'were'} held up ${duration(ms(g.micros))} in all`
  let summary: string
  if (longest && !g.byRequest) {
    summary =
      `${who} held what ${plural(n, 'request')} ${n === 1 ? 'was' : 'were'} waiting for ` +
      `(a lock, a queue or a shared promise) while its ${longest.method} ${longest.url} ` +
      `was in flight: they resumed only when that call returned, after ${duration(longest.durationMs)}. ` +
      `${lost}. Release before making the call, not after it.`
  } else if (longest) {
    const holder = r.culprit ? who : `requests to ${r.byRoute ?? 'another route'}`
    summary =
      `${plural(n, 'request')} queued behind other requests: ${holder} held what the next ` +
      `one was waiting for (a lock or a queue) while ${r.culprit ? 'its' : 'their'} own ` +
      `${longest.method} ${longest.url} was in flight (up to ${duration(longest.durationMs)} ` +
      `each). ${lost}. Shorten the critical section: make the call outside the lock.`
  } else if (r.root === 'timer') {
    summary =
      `${plural(n, 'request')} waited on a timer: ${who} let them go together. ${lost}. ` +
      'A batch, debounce or polling interval sets this latency.'
  } else if (r.root === 'task' && r.task) {
    summary =
      `${plural(n, 'request')} waited until the task '${r.task.name}' ended: it held what ` +
      `they were waiting for. ${lost}.`
  } else {
    summary = `${plural(n, 'request')} waited until ${who} released them. ${lost}.`
  }
  return {
    kind: 'waited-on-task',
    summary,
    culprit: r.culprit
      ? { function: r.culprit.function, file: r.culprit.file, line: r.culprit.line }
      : null,
    waitedOn: longest
      ? { method: longest.method, url: longest.url, durationMs: longest.durationMs }
      : null,
    requests: n,
    ms: ms(g.micros),
    evidence: g.flows ? 'flows' : 'timing',
  }
}

/**
 * Waits nothing explains. Requests let go at the same instant were released
 * together (a lock, a batch); releases at a steady period point at a timer.
 */
function unexplainedWaits({ ctx, explained }: FindingsInput): Finding | undefined {
  let micros = 0
  const requests = new Set<number>()
  const ends: number[] = []
  for (const ex of explained) {
    for (const stretch of ex.unexplained) {
      micros += stretch.end - stretch.start
      requests.add(ex.request.id)
      if (!ex.request.inFlight || stretch.end < ex.request.end) ends.push(stretch.end)
    }
  }
  if (micros === 0) return undefined
  const instants = clusters(ends, analyzeDefaults.releaseSlackMs * 1000)
  const together = instants.filter((c) => c.size > 1)
  const period = steadyPeriod(instants.map((c) => c.at))
  const n = requests.size
  let summary =
    `${plural(n, 'slow request')} waited ${duration(ms(micros))} in all with no call of ` +
    'their own in flight and nothing recorded ending when they resumed'
  if (together.length > 0) {
    const largest = Math.max(...together.map((c) => c.size))
    summary += `; up to ${largest} resumed at the same instant, so something released them together (a lock, a batch, a shared promise)`
  }
  summary += period
    ? `; releases came every ${duration(period / 1000)}, which is what a timer looks like.`
    : '.'
  summary +=
    ctx.model.meta.level === 'causal'
      ? ' The causal flows do not reach these waits (a timer or native code resolved them).'
      : " Record with level 'causal' (or causalAfterTrigger) to see which code resolved what they awaited."
  return {
    kind: 'waited-on-task',
    summary,
    culprit: null,
    waitedOn: null,
    requests: n,
    ms: ms(micros),
    evidence: 'timing',
  }
}

function clusters(times: number[], gap: number): Array<{ at: number; size: number }> {
  const sorted = times.slice().sort((a, b) => a - b)
  const out: Array<{ at: number; size: number }> = []
  for (const t of sorted) {
    const last = out[out.length - 1]
    if (last && t - last.at <= gap) last.size++
    else out.push({ at: t, size: 1 })
  }
  return out
}

/** The common spacing of at least three instants, if they come at a steady pace (±15%). */
function steadyPeriod(instants: number[]): number | undefined {
  if (instants.length < 3) return undefined
  const gaps: number[] = []
  for (let i = 1; i < instants.length; i++) gaps.push(instants[i] - instants[i - 1])
  gaps.sort((a, b) => a - b)
  const median = gaps[gaps.length >> 1]
  if (median <= 0) return undefined
  const steady = gaps.filter((g) => Math.abs(g - median) <= median * 0.15).length
  return steady >= Math.ceil(gaps.length * 0.7) ? median : undefined
}
