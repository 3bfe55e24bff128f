import { RequestFlag } from '../events.ts'
import type { ResolvedRecorderOptions } from '../options.ts'
import type { Segment } from '../ring/segment.ts'
import type { CpuProfile } from '../sources/cpu-sampler.ts'
import { VERSION } from '../version.ts'
import { encodeCausal } from './causal-encode.ts'
import { ProfileIndex } from './profile-index.ts'
import { type ChildSlice, layOutRequest } from './request-track.ts'
import {
  Cat,
  type ClientArgs,
  CounterName,
  type LogArgs,
  type RequestArgs,
  requestTrackId,
  SNAPSHOT_FORMAT,
  SNAPSHOT_FORMAT_VERSION,
  type SnapshotMetadata,
  type SnapshotTrigger,
  type SpanArgs,
  ThreadNames,
  Tid,
  type TraceEvent,
} from './trace-format.ts'
import {
  type CallRecord,
  type RequestRecord,
  type SpanRecord,
  WindowModel,
} from './window-model.ts'

export interface EncodeMeta {
  options: ResolvedRecorderOptions
  startMicros: number
  endMicros: number
  epochMillisAtEnd: number
  level: 'default' | 'causal'
  trigger?: SnapshotTrigger
  errors: Record<string, number>
}

const GC_KINDS: Record<number, string> = {
  1: 'minor',
  2: 'major',
  4: 'major',
  8: 'incremental',
  16: 'weak callbacks',
}

/**
 * Encodes a window as Chrome Trace Event JSON, as a sequence of text chunks.
 * A generator, so the caller can stop after each chunk and let the event loop
 * run: nothing here takes more than a few hundred events' worth of time.
 * Empty chunks are yield points.
 */
export function* encodeSnapshot(segments: Segment[], meta: EncodeMeta): Generator<string> {
  const pid = process.pid
  const model = new WindowModel()
  for (const _ of model.collect(segments)) yield ''
  const index = new ProfileIndex(model.profiles, meta.options.samplingInterval)
  yield ''

  let first = true
  const out = (e: TraceEvent): string => {
    const text = JSON.stringify(e)
    if (first) {
      first = false
      return text
    }
    return `,\n${text}`
  }
  yield '{"traceEvents":[\n'

  yield out({ ph: 'M', name: 'process_name', pid, args: { name: `node ${pid} (flightrec)` } })
  for (const [tid, name] of Object.entries(ThreadNames)) {
    yield out({ ph: 'M', name: 'thread_name', pid, tid: Number(tid), args: { name } })
    yield out({
      ph: 'M',
      name: 'thread_sort_index',
      pid,
      tid: Number(tid),
      args: { sort_index: Number(tid) },
    })
  }

  // What the event loop ran: busy runs of CPU samples, named by the function behind them.
  let n = 0
  for (const run of index.busyRuns()) {
    const culprit = index.culprit(run.start, run.end + 1) ?? {}
    const start = us(run.start)
    yield out({
      ph: 'X',
      cat: Cat.LoopTask,
      name: culprit.function ?? culprit.self ?? '(busy)',
      pid,
      tid: Tid.Loop,
      ts: start,
      dur: Math.max(1, us(run.end) - start),
      args: { ...culprit },
    })
    if (++n % 500 === 0) yield ''
  }
  for (let p = 0; p < model.profiles.length; p++) {
    yield* profileEvents(model.profiles[p], p + 1, pid).map(out)
  }

  // Requests, with what happened inside them on their track. Children of a
  // request that is not in the window (trimmed away) are shown on their own.
  const causal = encodeCausal(model, pid, meta)
  const known = (requestId: number) => (model.requests.has(requestId) ? requestId : -1)
  const callsByRequest = groupBy(model.calls.values(), (c) => known(c.requestId))
  const spansByRequest = groupBy(model.spans.values(), (s) => known(s.requestId))
  const logsByRequest = groupBy(model.logs, (l) => known(l.requestId))
  for (const r of model.requests.values()) {
    yield* requestEvents(
      r,
      meta,
      pid,
      callsByRequest.get(r.id),
      spansByRequest.get(r.id),
      logsByRequest.get(r.id),
      causal.requestChildren.get(r.id),
    ).map(out)
    if (++n % 200 === 0) yield ''
  }
  for (const call of callsByRequest.get(-1) ?? []) {
    const [begin, end] = callEvents(call, meta, pid, Cat.Client, `c${call.id}`)
    yield out(begin) + out(end)
  }
  for (const span of spansByRequest.get(-1) ?? []) {
    const cat = span.kind === 'task' ? Cat.Task : Cat.Region
    const id = `${span.kind === 'task' ? 't' : 'g'}${span.id}`
    const [begin, end] = spanEvents(span, meta, pid, cat, id)
    yield out(begin) + out(end)
  }
  for (const e of causal.threadEvents) {
    yield out(e)
    if (++n % 500 === 0) yield ''
  }

  // GC pauses and stalls each run one at a time; whole µs could make neighbours overlap.
  const gcTrack = new SequentialTrack()
  for (const gc of [...model.gcs].sort((a, b) => a.ts - b.ts)) {
    const { ts, dur } = gcTrack.place(us(gc.ts), Math.max(1, us(gc.dur)))
    yield out({
      ph: 'X',
      cat: Cat.Gc,
      name: `GC ${GC_KINDS[gc.kind] ?? gc.kind}`,
      pid,
      tid: Tid.Gc,
      ts,
      dur,
      args: { kind: GC_KINDS[gc.kind] ?? String(gc.kind), durationMs: ms(gc.dur) },
    })
  }
  const stallTrack = new SequentialTrack()
  for (const stall of [...model.stalls].sort((a, b) => a.ts - b.ts)) {
    const culprit = index.culprit(stall.ts, stall.ts + stall.dur) ?? {}
    const { ts, dur } = stallTrack.place(us(stall.ts), Math.max(1, us(stall.dur)))
    yield out({
      ph: 'X',
      cat: Cat.Stall,
      name: `loop stall: ${culprit.function ?? culprit.self ?? 'unknown'}`,
      pid,
      tid: Tid.Stalls,
      ts,
      dur,
      args: { durationMs: ms(stall.dur), ...culprit },
    })
  }
  for (const log of logsByRequest.get(-1) ?? []) {
    yield out({
      ph: 'i',
      s: 't',
      cat: Cat.Log,
      name: truncate(log.message),
      pid,
      tid: Tid.Logs,
      ts: us(log.ts),
      args: { category: log.category, message: log.message, level: log.level } satisfies LogArgs,
    })
  }
  for (const t of model.triggers) {
    yield out({
      ph: 'i',
      s: 'g',
      cat: Cat.Trigger,
      name: `trigger: ${t.reason}${t.label ? ` ${t.label}` : ''}`,
      pid,
      tid: Tid.Loop,
      ts: us(t.ts),
      args: {
        reason: t.reason,
        requestId: t.requestId >= 0 ? t.requestId : undefined,
        durationMs: t.durationMicros >= 0 ? ms(t.durationMicros) : undefined,
        request: t.label,
      },
    })
  }
  for (const m of model.memory) {
    yield out({
      ph: 'C',
      cat: Cat.Counter,
      name: CounterName.Memory,
      pid,
      ts: us(m.ts),
      args: { heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external },
    })
  }
  for (const l of model.loop) {
    yield out({
      ph: 'C',
      cat: Cat.Counter,
      name: CounterName.Loop,
      pid,
      ts: us(l.ts),
      args: {
        delayMaxMs: round3(l.delayMaxMs),
        utilization: round3(l.utilization),
        activeHandles: l.handles,
        inflightRequests: l.inflight,
      },
    })
  }

  const metadata: SnapshotMetadata = {
    format: SNAPSHOT_FORMAT,
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    recorderVersion: VERSION,
    node: process.version,
    pid,
    platform: `${process.platform}-${process.arch}`,
    level: meta.level,
    options: {
      minAge: meta.options.minAge,
      maxBytes: meta.options.maxBytes,
      level: meta.options.level,
      samplingInterval: meta.options.samplingInterval,
      stallThreshold: meta.options.stallThreshold,
    },
    startMicros: us(meta.startMicros),
    endMicros: us(meta.endMicros),
    epochMillisAtEnd: Math.round(meta.epochMillisAtEnd),
    trigger: meta.trigger,
    errors: meta.errors,
    counts: {
      segments: segments.length,
      events: model.events,
      requests: model.requests.size,
      outgoingCalls: model.calls.size,
      cpuProfiles: model.profiles.length,
    },
  }
  yield `\n],"displayTimeUnit":"ms","metadata":{"flightrec":${JSON.stringify(metadata)}}}\n`
}

function requestEvents(
  r: RequestRecord,
  meta: EncodeMeta,
  pid: number,
  calls: CallRecord[] | undefined,
  spans: SpanRecord[] | undefined,
  logs: WindowModel['logs'] | undefined,
  waits: TraceEvent[] | undefined,
): TraceEvent[] {
  const start = us(r.start ?? meta.startMicros)
  const end = Math.max(start, us(r.end ?? meta.endMicros))
  const id = requestTrackId(r.id)
  const status = r.end !== undefined ? r.status : undefined
  const args: RequestArgs = {
    requestId: r.id,
    method: r.method,
    path: r.path,
    route: r.route,
    framework: r.framework,
    handler: r.handler,
    status,
    durationMs: r.start !== undefined && r.end !== undefined ? ms(r.end - r.start) : undefined,
    aborted: r.flags & RequestFlag.Aborted ? true : undefined,
    errored: r.flags & RequestFlag.Errored ? true : undefined,
    error: r.error,
    inFlight: r.end === undefined ? true : undefined,
    truncated: r.start === undefined ? true : undefined,
    headers: r.headers,
  }
  const label = `${r.method || '?'} ${r.route ?? r.path}${status ? ` ${status}` : ''}${args.aborted ? ' (aborted)' : ''}`
  const clamp = (t: number) => Math.min(end, Math.max(start, us(t)))
  const children: ChildSlice[] = []
  for (const span of spans ?? []) {
    const [begin, finish] = spanEvents(span, meta, pid, Cat.Request, id, clamp, r.id)
    children.push({ begin, end: finish, rank: span.kind === 'task' ? 0 : 1 })
  }
  const causal = causalChildren(waits)
  for (const [begin, finish] of causal.pairs) children.push({ begin, end: finish, rank: 2 })
  for (const call of calls ?? []) {
    const [begin, finish] = callEvents(call, meta, pid, Cat.Request, id, clamp)
    children.push({ begin, end: finish, rank: 3 })
  }
  const logInstants: TraceEvent[] = (logs ?? []).map((log) => ({
    ph: 'n',
    cat: Cat.Request,
    name: truncate(log.message),
    pid,
    id,
    ts: clamp(log.ts),
    args: {
      type: 'log',
      category: log.category,
      message: log.message,
      level: log.level,
      requestId: r.id,
    } satisfies LogArgs,
  }))
  return layOutRequest(
    r.id,
    { ph: 'b', cat: Cat.Request, name: label, pid, id, ts: start, args: { ...args } },
    { ph: 'e', cat: Cat.Request, name: label, pid, id, ts: end },
    children,
    [...logInstants, ...causal.instants],
  )
}

/**
 * The causal level's events on a request's track: `b`/`e` pairs (waits)
 * become children, `n` events (resume points, which carry the flows) instants.
 */
function causalChildren(events: TraceEvent[] | undefined): {
  pairs: Array<[TraceEvent, TraceEvent]>
  instants: TraceEvent[]
} {
  const pairs: Array<[TraceEvent, TraceEvent]> = []
  const instants: TraceEvent[] = []
  const open: TraceEvent[] = []
  for (const e of events ?? []) {
    if (e.ph === 'b') open.push(e)
    else if (e.ph === 'e') {
      const begin = open.pop()
      if (begin) pairs.push([begin, e])
    } else instants.push(e)
  }
  return { pairs, instants }
}

function callEvents(
  call: CallRecord,
  meta: EncodeMeta,
  pid: number,
  cat: string,
  id: string,
  clamp: (t: number) => number = us,
): TraceEvent[] {
  const start = clamp(call.start ?? meta.startMicros)
  const end = Math.max(start, clamp(call.end ?? meta.endMicros))
  const args: ClientArgs = {
    type: 'http-client',
    callId: call.id,
    method: call.method,
    url: call.url,
    status: call.status,
    error: call.error,
    durationMs:
      call.start !== undefined && call.end !== undefined ? ms(call.end - call.start) : undefined,
    requestId: call.requestId >= 0 ? call.requestId : undefined,
    callerFunction: call.callerFunction,
    callerFile: call.callerFile,
    callerLine: call.callerLine,
    inFlight: call.end === undefined ? true : undefined,
  }
  const name = `${call.method} ${call.url}${call.status ? ` ${call.status}` : call.error ? ' failed' : ''}`
  return [
    { ph: 'b', cat, name, pid, id, ts: start, args: { ...args } },
    { ph: 'e', cat, name, pid, id, ts: end },
  ]
}

function spanEvents(
  span: SpanRecord,
  meta: EncodeMeta,
  pid: number,
  cat: string,
  id: string,
  clamp: (t: number) => number = us,
  requestId?: number,
): TraceEvent[] {
  const start = clamp(span.start)
  const end = Math.max(start, clamp(span.end ?? meta.endMicros))
  const args: SpanArgs = {
    type: span.kind,
    name: span.name,
    requestId,
    inFlight: span.end === undefined ? true : undefined,
  }
  return [
    { ph: 'b', cat, name: span.name, pid, id, ts: start, args: { ...args } },
    { ph: 'e', cat, name: span.name, pid, id, ts: end },
  ]
}

function profileEvents(profile: CpuProfile, n: number, pid: number): TraceEvent[] {
  const id = `0x${n.toString(16)}`
  const parents = new Map<number, number>()
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parents.set(child, node.id)
  const nodes = profile.nodes.map((node) => ({
    id: node.id,
    callFrame: node.callFrame,
    parent: parents.get(node.id),
  }))
  return [
    {
      ph: 'P',
      name: 'Profile',
      pid,
      tid: Tid.Loop,
      id,
      ts: us(profile.startTime),
      args: { data: { startTime: us(profile.startTime) } },
    },
    {
      ph: 'P',
      name: 'ProfileChunk',
      pid,
      tid: Tid.Loop,
      id,
      ts: us(profile.endTime),
      args: {
        data: { cpuProfile: { nodes, samples: profile.samples }, timeDeltas: profile.timeDeltas },
      },
    },
  ]
}

/**
 * X slices on one thread track that never overlap (GC pauses, stalls): each
 * starts no earlier than the previous one ended.
 */
class SequentialTrack {
  #end = 0

  place(ts: number, dur: number): { ts: number; dur: number } {
    const start = Math.max(ts, this.#end)
    const placed = { ts: start, dur: Math.max(1, ts + dur - start) }
    this.#end = placed.ts + placed.dur
    return placed
  }
}

function groupBy<T>(items: Iterable<T>, key: (t: T) => number): Map<number, T[]> {
  const map = new Map<number, T[]>()
  for (const item of items) {
    const k = key(item)
    const list = map.get(k)
    if (list) list.push(item)
    else map.set(k, [item])
  }
  return map
}

/** Trace timestamps are whole µs: rounding both ends keeps nesting intact. */
function us(micros: number): number {
  return Math.round(micros)
}

function ms(micros: number): number {
  return Math.round(micros) / 1000
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
