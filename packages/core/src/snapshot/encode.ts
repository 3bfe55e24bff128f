import { RequestFlag } from '../events.ts'
import type { ResolvedRecorderOptions } from '../options.ts'
import type { Segment } from '../ring/segment.ts'
import type { CpuProfile } from '../sources/cpu-sampler.ts'
import { VERSION } from '../version.ts'
import { encodeCausal } from './causal-encode.ts'
import { ProfileIndex } from './profile-index.ts'
import {
  Cat,
  type ClientArgs,
  CounterName,
  type RequestArgs,
  SNAPSHOT_FORMAT,
  SNAPSHOT_FORMAT_VERSION,
  type SnapshotMetadata,
  type SnapshotTrigger,
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

  // Requests, with what happened inside them nested on their track.
  const causal = encodeCausal(model, pid, meta)
  const callsByRequest = groupBy([...model.calls.values()], (c) => c.requestId)
  const spansByRequest = groupBy([...model.spans.values()], (s) => s.requestId)
  const logsByRequest = groupBy(model.logs, (l) => l.requestId)
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
    yield* callEvents(call, meta, pid, Cat.Client, `c${call.id}`).map(out)
  }
  for (const span of spansByRequest.get(-1) ?? []) {
    const cat = span.kind === 'task' ? Cat.Task : Cat.Region
    yield* spanEvents(span, meta, pid, cat, `${span.kind === 'task' ? 't' : 'g'}${span.id}`).map(
      out,
    )
  }
  for (const e of causal.threadEvents) {
    yield out(e)
    if (++n % 500 === 0) yield ''
  }

  for (const gc of model.gcs) {
    yield out({
      ph: 'X',
      cat: Cat.Gc,
      name: `GC ${GC_KINDS[gc.kind] ?? gc.kind}`,
      pid,
      tid: Tid.Gc,
      ts: us(gc.ts),
      dur: Math.max(1, us(gc.dur)),
      args: { kind: GC_KINDS[gc.kind] ?? String(gc.kind), durationMs: ms(gc.dur) },
    })
  }
  for (const stall of model.stalls) {
    const culprit = index.culprit(stall.ts, stall.ts + stall.dur) ?? {}
    yield out({
      ph: 'X',
      cat: Cat.Stall,
      name: `loop stall: ${culprit.function ?? culprit.self ?? 'unknown'}`,
      pid,
      tid: Tid.Stalls,
      ts: us(stall.ts),
      dur: Math.max(1, us(stall.dur)),
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
      args: { category: log.category, message: log.message, level: log.level },
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
  const id = `r${r.id}`
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
    inFlight: r.end === undefined ? true : undefined,
    truncated: r.start === undefined ? true : undefined,
    headers: r.headers ? JSON.parse(r.headers) : undefined,
  }
  const label = `${r.method || '?'} ${r.route ?? r.path}${status ? ` ${status}` : ''}${args.aborted ? ' (aborted)' : ''}`
  const events: TraceEvent[] = [
    { ph: 'b', cat: Cat.Request, name: label, pid, id, ts: start, args: { ...args } },
  ]
  const clamp = (t: number) => Math.min(end, Math.max(start, us(t)))
  for (const call of calls ?? [])
    events.push(...callEvents(call, meta, pid, Cat.Request, id, clamp))
  for (const span of spans ?? [])
    events.push(...spanEvents(span, meta, pid, Cat.Request, id, clamp))
  for (const log of logs ?? []) {
    events.push({
      ph: 'n',
      cat: Cat.Request,
      name: truncate(log.message),
      pid,
      id,
      ts: clamp(log.ts),
      args: { type: 'log', category: log.category, message: log.message, level: log.level },
    })
  }
  if (waits) events.push(...waits)
  events.push({ ph: 'e', cat: Cat.Request, name: label, pid, id, ts: end })
  return sortNested(events)
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
  const args: ClientArgs & { type: string } = {
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
): TraceEvent[] {
  const start = clamp(span.start)
  const end = Math.max(start, clamp(span.end ?? meta.endMicros))
  const args = {
    type: span.kind,
    name: span.name,
    inFlight: span.end === undefined ? true : undefined,
  }
  return [
    { ph: 'b', cat, name: span.name, pid, id, ts: start, args },
    { ph: 'e', cat, name: span.name, pid, id, ts: end },
  ]
}

/** Orders one async id's b/e/n events so they nest: by time, ends before begins at the same instant. */
function sortNested(events: TraceEvent[]): TraceEvent[] {
  const [open, ...rest] = events
  const close = rest.pop() as TraceEvent
  const order = (e: TraceEvent) => (e.ph === 'e' ? 0 : e.ph === 'n' ? 1 : 2)
  rest.sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0) || order(a) - order(b))
  return [open, ...rest, close]
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
