import {
  Cat,
  CounterName,
  requestIdOfTrack,
  type SnapshotFile,
  type SnapshotMetadata,
  type TraceEvent,
} from '@flightrec/core/trace-format'
import { SnapshotLoadError, streamSnapshotFile } from './load.ts'
import { type CodeLocation, SampleIndex } from './samples.ts'

/** Times in the model are µs on the snapshot's clock (the same base as every `ts`). */
export interface Interval {
  start: number
  end: number
}

/** An HTTP request the process served. */
export interface RequestRecord extends Interval {
  id: number
  method: string
  path: string
  route?: string
  framework?: string
  handler?: string
  status?: number
  durationMs: number
  /** Not finished when the snapshot was taken: `end` is the window's end. */
  inFlight: boolean
  /** Started before the window: `start` is the window's start. */
  truncated: boolean
  aborted: boolean
  errored: boolean
  /** Outgoing calls the recorder attributed to this request (read-only: empty ones are shared). */
  calls: CallRecord[]
  /** Annotations (task/region) inside this request (read-only, as `calls`). */
  tasks: TaskRecord[]
  /** Causal level: the request's waits, each ended by a flow from what released it (read-only, as `calls`). */
  waits: WaitRecord[]
}

/** An outgoing HTTP call (undici, fetch or node:http). */
export interface CallRecord extends Interval {
  id: number
  method: string
  url: string
  status?: number
  error?: string
  durationMs: number
  inFlight: boolean
  /** The request it was made for, when the recorder could tell. */
  requestId?: number
  /** The function that made the call. */
  caller?: CodeLocation
}

/** A `task(name, fn)` or `region(name, fn)` annotation. */
export interface TaskRecord extends Interval {
  kind: 'task' | 'region'
  name: string
  requestId?: number
}

/** A run of busy CPU samples on the loop, or a loop stall, named by the function behind it. */
export interface LoopSlice extends Interval {
  culprit?: CodeLocation
  /** The leaf function most often on CPU (may be native). */
  self?: string
  samples: number
}

export interface GcPause extends Interval {
  kind: string
}

/** Causal level: one async callback run (tid 5). */
export interface AsyncSlice extends Interval {
  name: string
  args: Record<string, unknown>
}

/** Causal level: a request's wait and, through its flow, the callback that released it. */
export interface WaitRecord extends Interval {
  requestId: number
  releasedBy?: unknown
  bindId?: string
  /** When the releasing callback resolved what the request awaited. */
  releaseTs?: number
  /** The callback that did it. */
  releaser?: AsyncSlice
}

export interface CounterSample {
  ts: number
  values: Record<string, number>
}

/** Everything the findings read, rebuilt from a snapshot's events. */
export interface Model {
  meta: SnapshotMetadata
  start: number
  end: number
  requests: RequestRecord[]
  /** The same requests, by id. */
  requestsById: Map<number, RequestRecord>
  /** Every outgoing call, attributed or not, by start time. */
  calls: CallRecord[]
  /** Annotations outside any request, and inside requests. */
  tasks: TaskRecord[]
  /** Busy runs of the loop (from CPU samples), by start time. */
  loop: LoopSlice[]
  stalls: LoopSlice[]
  /** GC pauses perf_hooks reported. */
  gcs: GcPause[]
  /** GC pauses the CPU sampler saw (runs of `(garbage collector)` samples); they overlap `gcs`. */
  gcSampled: Interval[]
  memory: CounterSample[]
  loopCounters: CounterSample[]
  triggers: Array<{ ts: number; reason: string; requestId?: number }>
  asyncSlices: AsyncSlice[]
  waits: WaitRecord[]
  samples: SampleIndex
  /** Whether outgoing calls carry the request they were made for (attribution was on). */
  attributed: boolean
  /** Whether the snapshot holds causal flows (resolver to resumed wait). */
  hasFlows: boolean
}

interface Open {
  kind: 'request' | 'call' | 'task' | 'wait' | 'other'
  record?: RequestRecord | CallRecord | TaskRecord | WaitRecord
}

/**
 * The calls, tasks and waits of a request that has none: one shared, frozen
 * array, as most requests have none (three arrays fewer per request).
 */
const NONE: never[] = Object.freeze([]) as unknown as never[]

/** The arguments of an event that has none. */
const NO_ARGS: Readonly<Record<string, unknown>> = Object.freeze({})

/** The lists of the model that events fill as they are read. */
type Parts = Pick<
  Model,
  | 'calls'
  | 'tasks'
  | 'loop'
  | 'stalls'
  | 'gcs'
  | 'memory'
  | 'loopCounters'
  | 'triggers'
  | 'asyncSlices'
  | 'waits'
>

/** A wait's flow in, to be joined to the resolve point its flow out came from. */
interface FlowIn {
  ts: number
  requestId?: number
  wait?: WaitRecord
  bindId: string
}

/** A resolve point's flow out (causal level). */
interface Resolve {
  ts: number
  tid: number
  bindId: string
}

/**
 * Rebuilds requests, calls, annotations, loop slices, stalls, GC pauses,
 * counters and causal flows from a snapshot's events, in one pass. Unknown
 * categories are skipped (newer recorders may add some); a flightrec event
 * missing a field this reader relies on makes the file malformed
 * ({@link SnapshotLoadError}). The loop's busy runs are rebuilt from the CPU
 * samples when the file has them, else read from its loop slices. Holds the
 * whole file; {@link loadModel} reads a file into the model a batch of events
 * at a time.
 *
 * @example
 * const model = buildModel((await loadSnapshot(path)).file)
 * console.log(model.requests.length, model.hasFlows)
 */
export function buildModel(file: SnapshotFile): Model {
  const builder = new ModelBuilder()
  builder.add(file.traceEvents, 0)
  return builder.finish(file.metadata?.flightrec as SnapshotMetadata)
}

/**
 * Reads a snapshot file into the analyzer's model, a batch of events at a
 * time: memory holds the model, not the file's events. Refuses what
 * `loadSnapshot` refuses, and what {@link buildModel} refuses, with a
 * {@link SnapshotLoadError} (a file that is not a snapshot is refused as
 * that before its events are).
 *
 * @example
 * const model = await loadModel('flightrec-20250919T165202Z-4242.json')
 * console.log(model.requests.length)
 */
export async function loadModel(path: string): Promise<Model> {
  let builder = new ModelBuilder()
  const { meta } = await streamSnapshotFile(path, () => {
    builder = new ModelBuilder()
    return builder
  })
  return builder.finish(meta)
}

/**
 * The model, built event by event (`add`, in file order), then completed
 * with the file's metadata (`finish`, once).
 */
class ModelBuilder {
  readonly #parts: Parts = {
    calls: [],
    tasks: [],
    loop: [],
    stalls: [],
    gcs: [],
    memory: [],
    loopCounters: [],
    triggers: [],
    asyncSlices: [],
    waits: [],
  }
  /** Requests in the order they began (a repeated id's last record wins, in the first's place). */
  readonly #requests: RequestRecord[] = []
  readonly #open = new Map<string, Open[]>()
  readonly #resolves: Resolve[] = []
  readonly #flowIns: FlowIn[] = []
  /** The CPU profile's events (`P`), indexed once the sampling interval is known. */
  readonly #profile: TraceEvent[] = []

  /** Reads `events`, the snapshot's `traceEvents` from index `firstIndex` on. */
  add(events: unknown[], firstIndex: number): void {
    for (let i = 0; i < events.length; i++) {
      this.#event(events[i] as TraceEvent, firstIndex + i)
    }
  }

  #event(e: TraceEvent, i: number): void {
    if (e === null || typeof e !== 'object' || typeof e.ph !== 'string') {
      throw new SnapshotLoadError(`malformed snapshot: traceEvents[${i}] is not a trace event`)
    }
    if (e.ph === 'P') this.#profile.push(e)
    const cat = e.cat
    if (cat === undefined || !cat.startsWith('flightrec.')) return
    if (e.ph !== 'M' && typeof e.ts !== 'number') {
      throw new SnapshotLoadError(`malformed snapshot: traceEvents[${i}] (${cat}) has no ts`)
    }
    const ts = e.ts as number
    const args = (e.args ?? NO_ARGS) as Record<string, unknown>
    const parts = this.#parts
    switch (e.ph) {
      case 'b': {
        const key = asyncKey(cat, e.id)
        let stack = this.#open.get(key)
        if (!stack) {
          stack = []
          this.#open.set(key, stack)
        }
        const entry = begin(parts, e, ts, args, cat, stack.length === 0, i)
        stack.push(entry)
        if (entry.kind === 'request') this.#requests.push(entry.record as RequestRecord)
        if (e.flow_in && e.bind_id && entry.kind === 'wait') {
          this.#flowIns.push({ ts, wait: entry.record as WaitRecord, bindId: e.bind_id })
        }
        break
      }
      case 'e': {
        const key = asyncKey(cat, e.id)
        const stack = this.#open.get(key)
        const entry = stack?.pop()
        if (!entry) {
          throw new SnapshotLoadError(
            `malformed snapshot: traceEvents[${i}] ends a slice never begun`,
          )
        }
        if (stack?.length === 0) this.#open.delete(key)
        if (entry.record) entry.record.end = Math.max(entry.record.start, ts)
        if (e.flow_in && e.bind_id) {
          this.#flowIns.push({
            ts,
            wait: entry.kind === 'wait' ? (entry.record as WaitRecord) : undefined,
            requestId: requestIdOf(e.id),
            bindId: e.bind_id,
          })
        }
        break
      }
      case 'n':
        if (e.flow_in && e.bind_id) {
          this.#flowIns.push({ ts, requestId: requestIdOf(e.id), bindId: e.bind_id })
        }
        break
      case 'X':
        readSlice(parts, e, ts, cat, args, i, this.#resolves)
        break
      case 'C':
        if (e.name === CounterName.Memory) parts.memory.push({ ts, values: numbers(args) })
        else if (e.name === CounterName.Loop) parts.loopCounters.push({ ts, values: numbers(args) })
        break
      case 'i':
      case 'I':
        if (cat === Cat.Trigger) {
          parts.triggers.push({
            ts,
            reason: typeof args.reason === 'string' ? args.reason : 'unknown',
            requestId: typeof args.requestId === 'number' ? args.requestId : undefined,
          })
        }
        break
    }
  }

  /** The model, from the events read and the file's metadata. */
  finish(meta: SnapshotMetadata): Model {
    for (const [key, stack] of this.#open) {
      if (stack.length > 0) {
        throw new SnapshotLoadError(`malformed snapshot: slice ${key} begins but never ends`)
      }
    }
    const requests = new Map<number, RequestRecord>()
    for (const r of this.#requests) requests.set(r.id, r)
    const model: Model = {
      meta,
      start: meta.startMicros,
      end: meta.endMicros,
      requests: [],
      requestsById: requests,
      ...this.#parts,
      gcSampled: [],
      samples: new SampleIndex(this.#profile, numberOr(meta.options?.samplingInterval, 1000)),
      attributed: false,
      hasFlows: false,
    }
    for (const r of requests.values()) {
      if (Number.isFinite(r.durationMs) && !r.inFlight)
        r.end = Math.max(r.end, r.start + r.durationMs * 1000)
      else r.durationMs = (r.end - r.start) / 1000
    }
    // Calls and annotations nested in requests belong to them; the rest are background.
    // A nested call's slice is clipped to its request for display: its own duration is the truth.
    for (const call of model.calls) {
      if (Number.isFinite(call.durationMs) && !call.inFlight)
        call.end = call.start + call.durationMs * 1000
      else call.durationMs = (call.end - call.start) / 1000
      if (call.requestId !== undefined) {
        model.attributed = true
        const r = requests.get(call.requestId)
        if (r) {
          if (r.calls === NONE) r.calls = []
          r.calls.push(call)
        }
      }
    }
    for (const task of model.tasks) {
      const r = task.requestId === undefined ? undefined : requests.get(task.requestId)
      if (r) {
        if (r.tasks === NONE) r.tasks = []
        r.tasks.push(task)
      }
    }
    for (const wait of model.waits) {
      const r = requests.get(wait.requestId)
      if (r) {
        if (r.waits === NONE) r.waits = []
        r.waits.push(wait)
      }
    }
    model.attributed ||= attributionWasOn(meta)

    if (model.samples.size > 0) {
      model.loop = loopFromSamples(model.samples)
      model.gcSampled = model.samples.gcRuns().map((run) => ({ start: run.start, end: run.end }))
    }
    linkFlows(model, requests, this.#resolves, this.#flowIns)
    model.requests = [...requests.values()].sort((a, b) => a.start - b.start)
    model.calls.sort((a, b) => a.start - b.start)
    model.loop.sort((a, b) => a.start - b.start)
    model.stalls.sort((a, b) => a.start - b.start)
    model.gcs.sort((a, b) => a.start - b.start)
    model.memory.sort((a, b) => a.ts - b.ts)
    model.loopCounters.sort((a, b) => a.ts - b.ts)
    model.asyncSlices.sort((a, b) => a.start - b.start)
    return model
  }
}

function begin(
  parts: Parts,
  e: TraceEvent,
  ts: number,
  args: Record<string, unknown>,
  cat: string,
  outermost: boolean,
  index: number,
): Open {
  const type = args.type
  if (cat === Cat.Request && outermost && type === undefined) {
    const id = args.requestId
    if (typeof id !== 'number') {
      throw new SnapshotLoadError(
        `malformed snapshot: traceEvents[${index}] is a request without requestId`,
      )
    }
    const record: RequestRecord = {
      id,
      start: ts,
      end: ts,
      method: stringOr(args.method, '?'),
      path: stringOr(args.path, ''),
      route: optionalString(args.route),
      framework: optionalString(args.framework),
      handler: functionName(args.handler),
      status: optionalNumber(args.status),
      durationMs: numberOr(args.durationMs, Number.NaN),
      inFlight: args.inFlight === true,
      truncated: args.truncated === true,
      aborted: args.aborted === true,
      errored: args.errored === true,
      calls: NONE,
      tasks: NONE,
      waits: NONE,
    }
    return { kind: 'request', record }
  }
  if (type === 'http-client' || (cat === Cat.Client && type === undefined)) {
    const record = readCall(args, ts, requestIdOf(e.id), index)
    parts.calls.push(record)
    return { kind: 'call', record }
  }
  if (type === 'task' || type === 'region' || cat === Cat.Task || cat === Cat.Region) {
    const kind = type === 'region' || cat === Cat.Region ? 'region' : 'task'
    const record: TaskRecord = {
      kind,
      name: stringOr(args.name, e.name ?? kind),
      start: ts,
      end: ts,
      requestId: requestIdOf(e.id),
    }
    parts.tasks.push(record)
    return { kind: 'task', record }
  }
  if (type === 'wait' || cat === Cat.Wait) {
    const requestId = requestIdOf(e.id)
    if (requestId === undefined) return { kind: 'other' }
    const record: WaitRecord = { requestId, start: ts, end: ts, releasedBy: args.releasedBy }
    parts.waits.push(record)
    return { kind: 'wait', record }
  }
  return { kind: 'other' }
}

function readCall(
  args: Record<string, unknown>,
  ts: number,
  nestedIn: number | undefined,
  index: number,
): CallRecord {
  if (typeof args.callId !== 'number') {
    throw new SnapshotLoadError(
      `malformed snapshot: traceEvents[${index}] is a call without callId`,
    )
  }
  const requestId = optionalNumber(args.requestId) ?? nestedIn
  const fn = optionalString(args.callerFunction)
  return {
    id: args.callId,
    start: ts,
    end: ts,
    method: stringOr(args.method, '?'),
    url: stringOr(args.url, ''),
    status: optionalNumber(args.status),
    error: optionalString(args.error),
    durationMs: numberOr(args.durationMs, Number.NaN),
    inFlight: args.inFlight === true,
    requestId,
    caller: fn
      ? {
          function: fn,
          file: stringOr(args.callerFile, '').replace(/^file:\/\//, ''),
          line: numberOr(args.callerLine, 0),
        }
      : undefined,
  }
}

function readSlice(
  model: Parts,
  e: TraceEvent,
  ts: number,
  cat: string,
  args: Record<string, unknown>,
  index: number,
  resolves: Resolve[],
): void {
  if (typeof e.dur !== 'number') {
    throw new SnapshotLoadError(`malformed snapshot: traceEvents[${index}] (${cat}) has no dur`)
  }
  const end = ts + Math.max(0, e.dur)
  switch (cat) {
    case Cat.LoopTask:
    case Cat.Stall: {
      const fn = optionalString(args.function)
      const slice: LoopSlice = {
        start: ts,
        end,
        culprit: fn
          ? {
              function: fn,
              file: stringOr(args.url, '').replace(/^file:\/\//, ''),
              line: numberOr(args.line, 0),
            }
          : undefined,
        self: optionalString(args.self),
        samples: numberOr(args.samples, 0),
      }
      if (cat === Cat.Stall) {
        const ms = optionalNumber(args.durationMs)
        if (ms !== undefined) slice.end = ts + ms * 1000
        model.stalls.push(slice)
      } else model.loop.push(slice)
      break
    }
    case Cat.Gc:
      model.gcs.push({ start: ts, end, kind: stringOr(args.kind, 'unknown') })
      break
    case Cat.AsyncTask:
      model.asyncSlices.push({ start: ts, end, name: e.name ?? '', args })
      break
    case Cat.Resolve:
      if (e.flow_out && e.bind_id) resolves.push({ ts, tid: e.tid ?? 0, bindId: e.bind_id })
      break
  }
}

/**
 * The loop's busy runs, rebuilt from the CPU samples rather than read from
 * the file's loop slices: the reader joins runs across gaps in sampling (see
 * {@link SampleIndex.busyRuns}), which the writer splits.
 */
function loopFromSamples(samples: SampleIndex): LoopSlice[] {
  return samples.busyRuns().map((run) => {
    const top = samples.topFunctions([[run.start, run.end + 1]], 1)[0]
    return {
      start: run.start,
      end: Math.max(run.end, run.start + 1),
      culprit: top ? { function: top.function, file: top.file, line: top.line } : undefined,
      self: samples.topLeaf(run.start, run.end),
      samples: run.samples,
    }
  })
}

/** Joins each wait's flow in to the resolve point (and callback) its flow out came from. */
function linkFlows(
  model: Model,
  requests: Map<number, RequestRecord>,
  resolves: Resolve[],
  flowIns: FlowIn[],
): void {
  if (resolves.length === 0 || flowIns.length === 0) return
  const byBind = new Map(resolves.map((r) => [r.bindId, r]))
  const slices = model.asyncSlices.slice().sort((a, b) => a.start - b.start)
  for (const flow of flowIns) {
    const resolve = byBind.get(flow.bindId)
    if (!resolve) continue
    let wait = flow.wait
    if (!wait && flow.requestId !== undefined) {
      const request = requests.get(flow.requestId)
      const waits = request?.waits ?? model.waits.filter((w) => w.requestId === flow.requestId)
      wait = nearest(waits, flow.ts)
    }
    if (!wait) continue
    model.hasFlows = true
    wait.bindId = flow.bindId
    wait.releaseTs = resolve.ts
    wait.releaser = innermost(slices, resolve.ts)
  }
}

/**
 * Whether the recorder tagged outgoing calls with their request: always at the
 * causal level, and at the default level where AsyncLocalStorage is cheap
 * (Node.js >= 24). A snapshot may also say so itself (`attribution`).
 */
function attributionWasOn(meta: SnapshotMetadata): boolean {
  const stated = (meta as { attribution?: unknown }).attribution
  if (typeof stated === 'boolean') return stated
  if (meta.level === 'causal') return true
  const major = Number(/^v?(\d+)/.exec(meta.node ?? '')?.[1] ?? 0)
  return major >= 24
}

function nearest(waits: WaitRecord[], ts: number): WaitRecord | undefined {
  let best: WaitRecord | undefined
  let distance = Number.POSITIVE_INFINITY
  for (const w of waits) {
    const d =
      ts >= w.start && ts <= w.end ? 0 : Math.min(Math.abs(ts - w.start), Math.abs(ts - w.end))
    if (d < distance) {
      best = w
      distance = d
    }
  }
  return best
}

/**
 * The innermost slice containing `ts`. Slices on one thread nest, so it is the
 * latest-starting one that has not ended; `slices` is sorted by start.
 */
function innermost(slices: AsyncSlice[], ts: number): AsyncSlice | undefined {
  let lo = 0
  let hi = slices.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (slices[mid].start <= ts) lo = mid + 1
    else hi = mid
  }
  for (let i = lo - 1, steps = 0; i >= 0 && steps < 256; i--, steps++) {
    if (slices[i].end >= ts) return slices[i]
  }
  return undefined
}

/** The request a `r<id>` track (or one of its `r<id>.<lane>` lanes) belongs to. */
function requestIdOf(id: string | undefined): number | undefined {
  if (typeof id !== 'string' || id.charCodeAt(0) !== 114 /* r */) return undefined
  const n = Number(id.slice(1))
  return Number.isInteger(n) && n >= 0 ? n : requestIdOfTrack(id)
}

/** The key nestable async events pair on: (cat, id); request tracks, the most common, by id alone. */
function asyncKey(cat: string, id: string | undefined): string {
  return cat === Cat.Request ? `${id}` : `${cat}|${id}`
}

function numbers(args: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(args)) if (typeof v === 'number') out[k] = v
  return out
}

/** A handler's function name as adapters report it, without `bound ` and never empty or anonymous. */
function functionName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  const name = value.replace(/^(bound\s+)+/, '').trim()
  return name === '' || name === 'anonymous' || name === '(anonymous)' ? undefined : name
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback
}
