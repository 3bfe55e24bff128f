import { BlobKind, EventKind, RequestFlag } from '../events.ts'
import type { Segment } from '../ring/segment.ts'
import type { CpuProfile } from '../sources/cpu-sampler.ts'

/** A request as rebuilt from its events; any part may be missing at the window's edges. */
export interface RequestRecord {
  id: number
  start?: number
  end?: number
  method: string
  path: string
  headers?: Record<string, string>
  status?: number
  flags: number
  framework?: string
  route?: string
  handler?: string
  error?: string
}

export interface CallRecord {
  id: number
  start?: number
  end?: number
  method: string
  url: string
  requestId: number
  status?: number
  error?: string
  callerFunction?: string
  callerFile?: string
  callerLine?: number
}

export interface SpanRecord {
  kind: 'task' | 'region'
  id: number
  name: string
  requestId: number
  start: number
  end?: number
}

export interface InstantRecord {
  ts: number
  kind: number
  values: [number, number, number, number]
  strings: Array<string | undefined>
}

/**
 * The window rebuilt into records: requests and calls joined across segments
 * by id (their start and end may lie in different segments), everything else
 * kept as it came. Built in one pass; yields every `every` events so the
 * encoder can run in slices.
 */
export class WindowModel {
  readonly requests = new Map<number, RequestRecord>()
  readonly calls = new Map<number, CallRecord>()
  readonly spans = new Map<string, SpanRecord>()
  readonly gcs: Array<{ ts: number; kind: number; dur: number }> = []
  readonly stalls: Array<{ ts: number; dur: number; requestId: number }> = []
  readonly logs: Array<{
    ts: number
    category: string
    message: string
    requestId: number
    level: number
  }> = []
  readonly triggers: Array<{
    ts: number
    reason: string
    requestId: number
    durationMicros: number
    label?: string
  }> = []
  readonly memory: Array<{
    ts: number
    heapUsed: number
    heapTotal: number
    rss: number
    external: number
  }> = []
  readonly loop: Array<{
    ts: number
    delayMaxMs: number
    utilization: number
    handles: number
    inflight: number
  }> = []
  readonly profiles: CpuProfile[] = []
  /** Causal-level events, in order, for the causal encoder. */
  readonly causal: Array<{
    kind: number
    ts: number
    a: number
    b: number
    c: number
    d: number
    type?: string
  }> = []
  events = 0;

  *collect(segments: Segment[], every = 2000): Generator<void> {
    let n = 0
    for (const seg of segments) {
      for (const blob of seg.blobs) {
        if (blob.kind === BlobKind.CpuProfile) this.profiles.push(blob.data as CpuProfile)
      }
      for (let i = 0; i < seg.count; i++) {
        this.#one(seg, i)
        if (++n % every === 0) yield
      }
      this.events += seg.count
    }
  }

  #one(seg: Segment, i: number): void {
    const ts = seg.ts(i)
    const a = seg.field(i, 1)
    const b = seg.field(i, 2)
    const c = seg.field(i, 3)
    const d = seg.field(i, 4)
    const str = (id: number) => (id < 0 ? undefined : seg.strings.get(id))
    switch (seg.kind(i)) {
      case EventKind.RequestStart: {
        const r = this.#request(a)
        r.start = ts
        r.method = str(b) ?? r.method
        r.path = str(c) ?? r.path
        break
      }
      case EventKind.RequestHeader: {
        const r = this.#request(a)
        const name = str(b)
        if (name !== undefined) {
          r.headers ??= {}
          r.headers[name] = str(c) ?? ''
        }
        break
      }
      case EventKind.RequestEnd: {
        const r = this.#request(a)
        r.end = ts
        r.status = b
        r.flags |= c
        break
      }
      case EventKind.RequestRoute: {
        const r = this.#request(a)
        r.framework = str(b) ?? r.framework
        r.route = str(c) ?? r.route
        r.handler = str(d) ?? r.handler
        break
      }
      case EventKind.RequestError: {
        const r = this.#request(a)
        r.flags |= RequestFlag.Errored
        r.error = str(b)
        break
      }
      case EventKind.ClientStart: {
        const call = this.#call(a)
        call.start = ts
        call.method = str(b) ?? ''
        call.url = str(c) ?? ''
        call.requestId = d
        break
      }
      case EventKind.ClientCaller: {
        const call = this.#call(a)
        call.callerFunction = str(b)
        call.callerFile = str(c)
        call.callerLine = d
        break
      }
      case EventKind.ClientEnd: {
        const call = this.#call(a)
        call.end = ts
        call.status = b || undefined
        call.error = str(c)
        break
      }
      case EventKind.Gc:
        this.gcs.push({ ts, kind: a, dur: b })
        break
      case EventKind.Stall:
        this.stalls.push({ ts, dur: a, requestId: b })
        break
      case EventKind.Log:
        this.logs.push({
          ts,
          category: str(a) ?? '',
          message: str(b) ?? '',
          requestId: c,
          level: d,
        })
        break
      case EventKind.Trigger:
        this.triggers.push({
          ts,
          reason: str(a) ?? '',
          requestId: b,
          durationMicros: c,
          label: str(d),
        })
        break
      case EventKind.MemoryCounters:
        this.memory.push({ ts, heapUsed: a, heapTotal: b, rss: c, external: d })
        break
      case EventKind.LoopCounters:
        this.loop.push({ ts, delayMaxMs: a, utilization: b, handles: c, inflight: d })
        break
      case EventKind.TaskBegin:
      case EventKind.RegionBegin: {
        const kind = seg.kind(i) === EventKind.TaskBegin ? 'task' : 'region'
        this.spans.set(`${kind}${a}`, { kind, id: a, name: str(b) ?? '', requestId: c, start: ts })
        break
      }
      case EventKind.TaskEnd:
      case EventKind.RegionEnd: {
        const span = this.spans.get(`${seg.kind(i) === EventKind.TaskEnd ? 'task' : 'region'}${a}`)
        if (span) span.end = ts
        break
      }
      case EventKind.AsyncRun:
        this.causal.push({ kind: EventKind.AsyncRun, ts, a, b, c, d, type: str(d) })
        break
      case EventKind.AsyncWait:
      case EventKind.PromiseResolve:
        this.causal.push({ kind: seg.kind(i), ts, a, b, c, d })
        break
    }
  }

  #request(id: number): RequestRecord {
    let r = this.requests.get(id)
    if (!r) {
      r = { id, method: '', path: '', flags: 0 }
      this.requests.set(id, r)
    }
    return r
  }

  #call(id: number): CallRecord {
    let call = this.calls.get(id)
    if (!call) {
      call = { id, method: '', url: '', requestId: -1 }
      this.calls.set(id, call)
    }
    return call
  }
}
