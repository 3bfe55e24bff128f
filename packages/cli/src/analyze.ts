import { type AnalyzeOptions, analyzeDefaults, buildContext, type Context } from './context.ts'
import { type Explanation, explainRequest, type Part, type PartKind } from './explain.ts'
import { blockedLoop } from './findings/blocked-loop.ts'
import { cpuSaturated } from './findings/cpu-saturated.ts'
import { type GcSummary, gcPressure, gcSummary } from './findings/gc.ts'
import type { Culprit, Finding, FindingsInput, WaitedOn } from './findings/types.ts'
import { ms } from './findings/types.ts'
import { waitedOnTask } from './findings/waited-on-task.ts'
import { waitedOnUpstream } from './findings/waited-on-upstream.ts'
import { duration, where } from './format.ts'
import type { Model, RequestRecord } from './model.ts'

export type { AnalyzeOptions }

/** At most this many slow requests are explained (the slowest); the rest are counted. */
const MAX_EXPLAINED = 5000
/** A finding explaining less than this share of the slow requests' time is noise. */
const MIN_FINDING_SHARE = 0.02

/** One cause inside one request, for the report. */
export interface RequestCause {
  kind: PartKind
  ms: number
  /** Plain words: what the request waited on, followed to the root. */
  description: string
  culprit: Culprit | null
  waitedOn: WaitedOn | null
}

/** One of the slowest requests. */
export interface RequestReport {
  id: number
  method: string
  route: string | null
  path: string
  status: number | null
  durationMs: number
  /** When it started, ms after the window's start. */
  atMs: number
  inFlight: boolean
  onCpuMs: number
  waitingMs: number
  causes: RequestCause[]
}

export interface CountersAt {
  atMs: number
  values: Record<string, number>
}

/** The whole analysis: what `flightrec analyze --json` prints. */
export interface Analysis {
  snapshot: {
    node: string
    pid: number
    level: string
    recorderVersion: string
    windowMs: number
    /** Wall-clock end of the window, ISO 8601. */
    endedAt: string
    events: number
  }
  trigger: {
    reason: string
    method: string | null
    route: string | null
    durationMs: number | null
    requestId: number | null
    /** ms after the window's start; null if the snapshot does not say. */
    atMs: number | null
    stallMs: number | null
  }
  slowThresholdMs: number
  requests: { total: number; slow: number; inFlight: number; explained: number }
  slowest: RequestReport[]
  stalls: Array<{ atMs: number; durationMs: number; culprit: Culprit | null; self: string | null }>
  gc: GcSummary
  counters: { memory: CountersAt[]; eventLoop: CountersAt[] }
  /** Ranked by `ms`, latency explained, most first. */
  findings: Finding[]
  notes: string[]
}

/**
 * Explains a snapshot: finds the slow requests, splits each one's time by
 * cause (GC, blocked loop, CPU, its own calls, waits released by other code),
 * and groups the causes into findings ranked by the latency they explain.
 *
 * @example
 * const model = buildModel((await loadSnapshot(path)).file)
 * const { findings } = analyze(model)
 */
export function analyze(model: Model, options: AnalyzeOptions = {}): Analysis {
  const trigger = model.meta.trigger
  const triggerMs = trigger?.request?.durationMs
  const slowMs =
    options.slowMs ??
    Math.min(
      analyzeDefaults.slowMs,
      typeof triggerMs === 'number' && triggerMs > 0
        ? Math.floor(triggerMs)
        : analyzeDefaults.slowMs,
    )
  const slowMicros = slowMs * 1000
  stretchTriggerRequest(model)
  const ctx = buildContext(model)
  const slow = model.requests
    .filter((r) => r.end - r.start >= slowMicros)
    .sort((a, b) => b.end - b.start - (a.end - a.start))
  const explained = slow.slice(0, MAX_EXPLAINED).map((r) => explainRequest(ctx, r))
  const total = explained.reduce((sum, ex) => sum + ex.request.end - ex.request.start, 0)
  const input: FindingsInput = { ctx, explained, totalMicros: total }
  const findings = [
    ...waitedOnTask(input),
    ...waitedOnUpstream(input),
    ...blockedLoop(input),
    ...gcPressure(input),
    ...cpuSaturated(input),
  ]
    .filter((f) => f.ms > 0 && (total === 0 || f.ms >= (total / 1000) * MIN_FINDING_SHARE))
    .sort((a, b) => b.ms - a.ms || b.requests - a.requests)

  const gcDuringSlow = explained.reduce(
    (sum, ex) => sum + ex.parts.filter((p) => p.kind === 'gc').reduce((s, p) => s + p.micros, 0),
    0,
  )
  const at = (ts: number) => ms(ts - model.start)
  const triggerTs = triggerInstant(model)
  const triggerRequest = model.requests.find((r) => r.id === trigger?.request?.id)
  return {
    snapshot: {
      node: model.meta.node,
      pid: model.meta.pid,
      level: model.meta.level,
      recorderVersion: model.meta.recorderVersion,
      windowMs: ms(model.end - model.start),
      endedAt: new Date(model.meta.epochMillisAtEnd).toISOString(),
      events: model.meta.counts?.events ?? 0,
    },
    trigger: {
      reason: trigger?.reason ?? 'none recorded',
      method: trigger?.request?.method ?? null,
      route: trigger?.request?.route ?? triggerRequest?.route ?? trigger?.request?.path ?? null,
      durationMs: typeof triggerMs === 'number' ? round(triggerMs) : null,
      requestId: trigger?.request?.id ?? null,
      atMs: triggerTs === undefined ? null : at(triggerTs),
      stallMs: trigger?.stallMs ?? null,
    },
    slowThresholdMs: slowMs,
    requests: {
      total: model.requests.length,
      slow: slow.length,
      inFlight: model.requests.filter((r) => r.inFlight).length,
      explained: explained.length,
    },
    slowest: explained
      .slice(0, options.top ?? analyzeDefaults.top)
      .map((ex) => reportRequest(ctx, ex)),
    stalls: model.stalls.map((s) => ({
      atMs: at(s.start),
      durationMs: ms(s.end - s.start),
      culprit: s.culprit ?? null,
      self: s.self ?? null,
    })),
    gc: gcSummary(ctx, gcDuringSlow),
    counters: countersAround(model, triggerTs),
    findings,
    notes: notes(ctx, explained),
  }
}

function reportRequest(ctx: Context, ex: Explanation): RequestReport {
  const r = ex.request
  return {
    id: r.id,
    method: r.method,
    route: r.route ?? null,
    path: r.path,
    status: r.status ?? null,
    durationMs: round(r.durationMs),
    atMs: ms(r.start - ctx.model.start),
    inFlight: r.inFlight,
    onCpuMs: ms(ex.onCpuMicros),
    waitingMs: ms(ex.waitingMicros),
    causes: ex.parts
      .filter((p) => p.micros >= 100)
      .map((p) => ({
        kind: p.kind,
        ms: ms(p.micros),
        description: describePart(ctx, r, p),
        culprit: culpritOf(p),
        waitedOn: p.call ? callRef(p.call) : p.release?.call ? callRef(p.release.call) : null,
      })),
  }
}

function describePart(ctx: Context, request: RequestRecord, part: Part): string {
  switch (part.kind) {
    case 'gc':
      return 'paused by garbage collection'
    case 'blocked-loop': {
      const b = part.block
      const who = b?.culprit ? where(b.culprit) : `native code (${b?.self ?? 'unknown'})`
      return `the event loop was blocked by ${who}`
    }
    case 'cpu':
      return "the event loop was busy running JavaScript (its own or other requests')"
    case 'waited-on-upstream': {
      const c = part.call
      if (!c) return 'waiting on its own outgoing call'
      return `waiting on its own ${c.method} ${c.url} (${c.inFlight ? 'still in flight' : duration(c.durationMs)})`
    }
    case 'waited-on-task': {
      const r = part.release
      if (!r) return 'waiting until other code released it'
      const who = r.culprit ? where(r.culprit) : 'other code'
      const by =
        r.byRequest !== undefined && r.byRequest !== request.id
          ? ` (serving request ${r.byRequest})`
          : ''
      const how = r.evidence === 'flow' ? 'resolved what it awaited' : 'released it'
      let root = ''
      if (r.call) {
        root = `, when ${r.call.method} ${r.call.url} returned after ${duration(r.call.durationMs)}`
      } else if (r.root === 'timer') root = ', from a timer'
      else if (r.root === 'task' && r.task) root = `, when the task '${r.task.name}' ended`
      else if (r.root === 'sync') root = ', after running synchronously'
      return `waiting until ${who}${by} ${how}${root}`
    }
    case 'still-waiting':
      return 'still waiting when the snapshot was taken'
    default:
      return ctx.model.meta.level === 'causal'
        ? 'waiting; no recorded flow reaches this wait (a timer or native code resolved it)'
        : 'waiting on something not recorded at this level (a timer, or a promise resolved by code that made no call)'
  }
}

function culpritOf(part: Part): Culprit | null {
  const loc =
    part.kind === 'blocked-loop'
      ? part.block?.culprit
      : part.kind === 'waited-on-task'
        ? part.release?.culprit
        : part.kind === 'waited-on-upstream'
          ? part.call?.caller
          : undefined
  return loc ? { function: loc.function, file: loc.file, line: loc.line } : null
}

function callRef(call: { method: string; url: string; durationMs: number }): WaitedOn {
  return { method: call.method, url: call.url, durationMs: round(call.durationMs) }
}

/**
 * The adapter times a request to its response's 'close', the recorder to its
 * 'finish': what runs between the two (a GC pause, a blocked loop) made the
 * request slow for the adapter only. The triggering request is explained over
 * the adapter's span, so what triggered the snapshot is always explained.
 */
function stretchTriggerRequest(model: Model): void {
  const t = model.meta.trigger?.request
  if (t?.id === undefined || typeof t.durationMs !== 'number') return
  const request = model.requests.find((r) => r.id === t.id)
  if (!request || request.inFlight) return
  const end = Math.min(model.end, request.start + t.durationMs * 1000)
  if (end > request.end) request.end = end
}

/** When the trigger fired: its instant, else the end of the triggering request, else the window's end. */
function triggerInstant(model: Model): number | undefined {
  const instant = model.triggers[model.triggers.length - 1]
  if (instant) return instant.ts
  const id = model.meta.trigger?.request?.id
  const request = id === undefined ? undefined : model.requests.find((r) => r.id === id)
  if (request) return request.end
  return model.meta.trigger ? model.end : undefined
}

/** The counter samples on each side of the trigger (or the last two of the window). */
function countersAround(model: Model, ts: number | undefined): Analysis['counters'] {
  const pick = (samples: Model['memory']): CountersAt[] => {
    if (samples.length === 0) return []
    let i = samples.length - 1
    if (ts !== undefined) {
      const after = samples.findIndex((s) => s.ts > ts)
      i = after === -1 ? samples.length - 1 : after
    }
    return samples
      .slice(Math.max(0, i - 1), i + 1)
      .map((s) => ({ atMs: ms(s.ts - model.start), values: s.values }))
  }
  return { memory: pick(model.memory), eventLoop: pick(model.loopCounters) }
}

function notes(ctx: Context, explained: Explanation[]): string[] {
  const out: string[] = []
  const m = ctx.model
  if (ctx.matchedByTime && m.calls.length > 0) {
    out.push(
      'Outgoing calls carry no request id in this snapshot (Node.js 22 at the default level): they were matched to requests by time.',
    )
  }
  if (m.samples.size === 0) {
    out.push('The snapshot has no CPU samples: what ran on the loop cannot be named.')
  }
  const byTiming = explained.some((ex) =>
    ex.parts.some((p) => p.kind === 'waited-on-task' && p.release?.evidence === 'timing'),
  )
  if (byTiming && !m.hasFlows) {
    out.push(
      "Who released waiting requests was inferred from timing (what ended right before they resumed); level 'causal' records it.",
    )
  }
  const errors = Object.entries(m.meta.errors ?? {})
  if (errors.length > 0) {
    out.push(`The recorder reported errors: ${errors.map(([k, v]) => `${k} x${v}`).join(', ')}.`)
  }
  return out
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}
