import {
  analyzeDefaults,
  type Block,
  burstEnd,
  type Context,
  overlapping,
  type ReleaseEvent,
} from './context.ts'
import type { AsyncSlice, CallRecord, Interval, RequestRecord, TaskRecord } from './model.ts'
import type { CodeLocation } from './samples.ts'

/** What a slice of a request's time went to. */
export type PartKind =
  | 'gc'
  | 'blocked-loop'
  | 'cpu'
  | 'waited-on-upstream'
  | 'waited-on-task'
  | 'still-waiting'
  | 'unexplained'

/** What let a waiting request go, followed to its root. */
export interface Release {
  /** When the request was let go (the resolve, or the end it followed). */
  ts: number
  /** 'flow': the causal level recorded who resolved the wait; 'timing': inferred from what ended just before. */
  evidence: 'flow' | 'timing'
  /** The function that released the request, if known. */
  culprit?: CodeLocation
  /** What the releasing code was itself waiting on. */
  root: 'call' | 'timer' | 'task' | 'sync' | 'unknown'
  /** root 'call': the outgoing call whose return let the releasing code run. */
  call?: CallRecord
  /** The request the releasing code ran for, if it ran for one. */
  byRequest?: number
  /** That request's method and route, e.g. 'POST /accounts/:id'. */
  byRoute?: string
  /** The annotated task that released it, if any. */
  task?: TaskRecord
  /** Causal level: the callback that resolved the wait. */
  slice?: AsyncSlice
}

/** A share of one request's time, with its cause. */
export interface Part {
  kind: PartKind
  micros: number
  block?: Block
  /** waited-on-upstream: the request's own call. */
  call?: CallRecord
  /** waited-on-task: what released it. */
  release?: Release
}

/** One slow request, its time split by cause. */
export interface Explanation {
  request: RequestRecord
  /** Largest first; the parts add up to the request's duration. */
  parts: Part[]
  onCpuMicros: number
  waitingMicros: number
  /** Waits nothing in the snapshot explains, merged into stretches. */
  unexplained: Interval[]
}

/**
 * Which cause wins an instant claimed by several, highest first. GC and a
 * blocked loop hold everything up; a wait someone else released outranks
 * the short busy slices of other requests' work around it; a request's own
 * call comes after CPU, because a busy loop also delays the call's reply.
 */
const Layer = {
  Gc: 0,
  Blocked: 1,
  FlowWait: 2,
  TimedWait: 3,
  Cpu: 4,
  OwnCall: 5,
  StillWaiting: 6,
} as const

interface Layered extends Interval {
  layer: number
  key: string
  part: Omit<Part, 'micros'>
}

/**
 * Splits a slow request's time by cause. Each instant goes to the first of
 * (see {@link Layer}): a GC pause; a blocked loop (stall or long busy run); a
 * wait that something else released (a causal flow, else the end of another
 * call or task right before the request resumed); other loop work (CPU); the
 * request's own outgoing call; a wait still open when the snapshot was taken;
 * and otherwise an unexplained wait.
 */
export function explainRequest(ctx: Context, request: RequestRecord): Explanation {
  const s = request.start
  const e = request.end
  const items: Layered[] = []
  const add = (layer: number, iv: Interval, key: string, part: Omit<Part, 'micros'>) => {
    const start = Math.max(s, iv.start)
    const end = Math.min(e, iv.end)
    if (end > start) items.push({ start, end, layer, key, part })
  }
  for (const gc of overlapping(ctx.gcs, s, e)) add(Layer.Gc, gc, 'gc', { kind: 'gc' })
  for (const block of overlapping(ctx.blocks, s, e)) {
    add(Layer.Blocked, block, `block:${block.start}`, { kind: 'blocked-loop', block })
  }
  for (const busy of overlapping(ctx.busy, s, e)) add(Layer.Cpu, busy, 'cpu', { kind: 'cpu' })
  const own = ctx.ownCalls.get(request.id) ?? []
  for (const call of own) {
    add(Layer.OwnCall, call, `call:${call.id}`, { kind: 'waited-on-upstream', call })
  }
  const byFlow = new Map<CallRecord, Release>()
  for (const wait of request.waits) {
    if (wait.releaseTs === undefined) continue
    const release = releaseFromFlow(ctx, request, wait.releaseTs, wait.releaser, wait.releasedBy)
    if (release.call && ctx.callOwner.get(release.call) === request.id) {
      add(Layer.OwnCall, wait, `call:${release.call.id}`, {
        kind: 'waited-on-upstream',
        call: release.call,
      })
    } else {
      add(Layer.FlowWait, wait, releaseKey(release), { kind: 'waited-on-task', release })
      if (release.call) byFlow.set(release.call, release)
    }
  }
  for (const { stretch, release: timed } of releasesByTiming(ctx, request, own)) {
    // The edges of a wait the flows already explain: the same release, better named.
    const release = (timed.call && byFlow.get(timed.call)) || timed
    add(Layer.TimedWait, stretch, releaseKey(release), { kind: 'waited-on-task', release })
  }
  if (request.inFlight) {
    // Still waiting when the snapshot was taken: nothing can say yet what will release it.
    const tail = gaps(request, own, true).pop()
    if (tail) add(Layer.StillWaiting, tail, 'still-waiting', { kind: 'still-waiting' })
  }

  const { parts, unexplained } = sweep(items, s, e)
  let onCpu = 0
  const handler = request.handler
  for (const item of items) {
    if (item.layer !== Layer.Blocked && item.layer !== Layer.Cpu) continue
    if (!handler) {
      if (item.layer === Layer.Cpu) onCpu += item.end - item.start
      continue
    }
    const { busy, own: mine } = ctx.model.samples.busyWith(item.start, item.end, handler)
    if (busy > 0) onCpu += ((item.end - item.start) * mine) / busy
  }
  // Overlaps between layers were counted once by the sweep; keep on-CPU within the total.
  const cpuParts = parts
    .filter((p) => p.kind === 'cpu' || p.kind === 'blocked-loop')
    .reduce((sum, p) => sum + p.micros, 0)
  onCpu = Math.min(onCpu, cpuParts)
  const total = Math.max(0, e - s)
  return {
    request,
    parts,
    onCpuMicros: onCpu,
    waitingMicros: Math.max(0, total - onCpu),
    unexplained,
  }
}

/** Walks the elementary intervals between item boundaries, labelling each with its top layer. */
function sweep(items: Layered[], s: number, e: number): { parts: Part[]; unexplained: Interval[] } {
  const points: Array<{ t: number; item: Layered; open: boolean }> = []
  for (const item of items) {
    points.push({ t: item.start, item, open: true }, { t: item.end, item, open: false })
  }
  points.sort((a, b) => a.t - b.t || Number(a.open) - Number(b.open))
  const active: Array<Set<Layered>> = Object.values(Layer).map(() => new Set())
  const totals = new Map<string, Part>()
  const unexplained: Interval[] = []
  const credit = (from: number, to: number) => {
    if (to <= from) return
    const layer = active.find((set) => set.size > 0)
    if (!layer) {
      const last = unexplained[unexplained.length - 1]
      if (last && last.end === from) last.end = to
      else unexplained.push({ start: from, end: to })
      return
    }
    let top: Layered | undefined
    for (const item of layer) top = item
    const chosen = top as Layered
    const part = totals.get(chosen.key)
    if (part) part.micros += to - from
    else totals.set(chosen.key, { ...chosen.part, micros: to - from })
  }
  let t = s
  for (const p of points) {
    credit(t, p.t)
    t = Math.max(t, p.t)
    if (p.open) active[p.item.layer].add(p.item)
    else active[p.item.layer].delete(p.item)
  }
  credit(t, e)
  const parts = [...totals.values()]
  const unexplainedMicros = unexplained.reduce((sum, iv) => sum + iv.end - iv.start, 0)
  if (unexplainedMicros > 0) parts.push({ kind: 'unexplained', micros: unexplainedMicros })
  parts.sort((a, b) => b.micros - a.micros)
  return { parts, unexplained }
}

/**
 * Default level: a request that waited (no call of its own in flight) and
 * resumed right after another call or an annotated task ended was let go by
 * the code that ran then, the way a lock holder releases its waiters when its
 * own call returns. "Right after": within the burst of loop work that
 * followed the end, plus a few ms.
 */
function releasesByTiming(
  ctx: Context,
  request: RequestRecord,
  own: CallRecord[],
): Array<{ stretch: Interval; release: Release }> {
  const out: Array<{ stretch: Interval; release: Release }> = []
  const minWait = analyzeDefaults.minWaitMs * 1000
  for (const stretch of gaps(request, own)) {
    if (stretch.end - stretch.start < minWait) continue
    // A request queued behind a busy loop was not waiting for anyone to let it go.
    if (busyShare(ctx, stretch) >= 0.5) continue
    const event = lastReleaseBefore(ctx, request, stretch)
    if (!event) continue
    out.push({ stretch, release: releaseOf(ctx, event) })
  }
  return out
}

/**
 * The share of `iv` the loop spent in short busy runs: a request queued for
 * the CPU. Blocks do not count: a request can wait on a lock through a stall.
 */
function busyShare(ctx: Context, iv: Interval): number {
  let busy = 0
  for (const s of overlapping(ctx.busy, iv.start, iv.end)) {
    busy += Math.min(s.end, iv.end) - Math.max(s.start, iv.start)
  }
  return busy / Math.max(1, iv.end - iv.start)
}

function lastReleaseBefore(
  ctx: Context,
  request: RequestRecord,
  stretch: Interval,
): ReleaseEvent | undefined {
  const releases = ctx.releases
  const slack = analyzeDefaults.releaseSlackMs * 1000
  // Binary search the last event at or before the stretch's end, then walk back.
  let lo = 0
  let hi = releases.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (releases[mid].ts <= stretch.end) lo = mid + 1
    else hi = mid
  }
  for (let i = lo - 1; i >= 0; i--) {
    const event = releases[i]
    if (event.ts <= stretch.start) break
    if (stretch.end - event.ts > slack + 50_000) break
    if (event.call && ctx.callOwner.get(event.call) === request.id) continue
    if (event.task && event.task.requestId === request.id) continue
    if (event.task && event.task.start > stretch.start) continue
    if (stretch.end <= burstEnd(ctx, event.ts) + slack) return event
  }
  return undefined
}

/** The request's time not covered by its own calls; an in-flight request's open end only if `open`. */
function gaps(request: RequestRecord, own: CallRecord[], open = false): Interval[] {
  const calls = own.slice().sort((a, b) => a.start - b.start)
  const out: Interval[] = []
  let t = request.start
  for (const call of calls) {
    if (call.start > t) out.push({ start: t, end: call.start })
    t = Math.max(t, call.end)
  }
  if (request.end > t && (open || !request.inFlight)) out.push({ start: t, end: request.end })
  return out
}

function releaseOf(ctx: Context, event: ReleaseEvent): Release {
  if (event.call) {
    const byRequest = ctx.callOwner.get(event.call)
    return {
      ts: event.ts,
      evidence: 'timing',
      culprit: event.call.caller ?? handlerOf(ctx, byRequest),
      root: 'call',
      call: event.call,
      byRequest,
      byRoute: routeOf(ctx, byRequest),
    }
  }
  const task = event.task as TaskRecord
  const call = callEndingNear(ctx, task.end, task)
  return {
    ts: event.ts,
    evidence: 'timing',
    culprit: { function: task.name, file: '', line: 0 },
    root: call ? 'call' : 'task',
    call,
    byRequest: task.requestId,
    task,
  }
}

/** Causal level: the wait ended by a flow from `slice`; what was that callback itself waiting on? */
function releaseFromFlow(
  ctx: Context,
  request: RequestRecord,
  ts: number,
  slice: AsyncSlice | undefined,
  releasedBy: unknown,
): Release {
  const from = slice?.start ?? ts
  const by = (releasedBy ?? {}) as { requestId?: unknown; function?: unknown }
  const sliceRequest = slice?.args.requestId ?? by.requestId
  const requestId = typeof sliceRequest === 'number' ? sliceRequest : undefined
  const named = locationOfSlice(slice) ?? parseLocation(by.function)
  const call = callEndingNear(ctx, from, undefined) ?? lastCallBy(ctx, named, from)
  if (call) {
    // The code that released the wait is the code that made the call: a
    // request's, if a request made it, else background work (whatever
    // context the callback inherited).
    const byRequest = ctx.callOwner.get(call)
    return {
      ts,
      evidence: 'flow',
      culprit: call.caller ?? named ?? handlerOf(ctx, byRequest),
      root: 'call',
      call,
      byRequest,
      byRoute: routeOf(ctx, byRequest),
      slice,
    }
  }
  const task = ctx.model.tasks.find(
    (t) => t.requestId !== request.id && t.start <= from && t.end >= from,
  )
  const timer =
    slice && /timeout|timer|interval|immediate/i.test(`${slice.name} ${slice.args.type ?? ''}`)
  const busy = slice ? ctx.model.samples.topFunctions([[slice.start, slice.end]], 1)[0] : undefined
  return {
    ts,
    evidence: 'flow',
    culprit: named ?? (task ? { function: task.name, file: '', line: 0 } : busy),
    root: timer ? 'timer' : task ? 'task' : busy ? 'sync' : 'unknown',
    byRequest: requestId,
    byRoute: routeOf(ctx, requestId),
    task,
    slice,
  }
}

/** The call whose end most closely precedes `ts` and whose aftermath `ts` lies in. */
function callEndingNear(
  ctx: Context,
  ts: number,
  within: Interval | undefined,
): CallRecord | undefined {
  const slack = analyzeDefaults.releaseSlackMs * 1000
  const releases = ctx.releases
  let lo = 0
  let hi = releases.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (releases[mid].ts <= ts) lo = mid + 1
    else hi = mid
  }
  for (let i = lo - 1; i >= 0; i--) {
    const event = releases[i]
    if (ts - event.ts > slack + 50_000) break
    if (!event.call) continue
    if (within && (event.call.start < within.start || event.call.end > within.end)) continue
    if (ts <= burstEnd(ctx, event.ts) + slack) return event.call
  }
  return undefined
}

/**
 * The last call the releasing function itself made that returned before it
 * ran again: what a callback named `sendReport` was awaiting, however late the
 * loop got to it.
 */
function lastCallBy(
  ctx: Context,
  fn: CodeLocation | undefined,
  before: number,
): CallRecord | undefined {
  if (!fn) return undefined
  let best: CallRecord | undefined
  for (const call of ctx.model.calls) {
    if (call.inFlight || call.end > before || call.caller?.function !== fn.function) continue
    if (!best || call.end > best.end) best = call
  }
  return best
}

/** A request's route handler, named by its adapter, as the code that held things up. */
function handlerOf(ctx: Context, requestId: number | undefined): CodeLocation | undefined {
  if (requestId === undefined) return undefined
  const handler = ctx.requestsById.get(requestId)?.handler
  return handler ? { function: handler, file: '', line: 0 } : undefined
}

function routeOf(ctx: Context, requestId: number | undefined): string | undefined {
  const r = requestId === undefined ? undefined : ctx.requestsById.get(requestId)
  return r ? `${r.method} ${r.route ?? r.path}` : undefined
}

/** The function a causal callback belongs to, from its `function` arg: `fn (file:line)` or a bare name. */
function locationOfSlice(slice: AsyncSlice | undefined): CodeLocation | undefined {
  return parseLocation(slice?.args.function)
}

/** Parses `fn (file:line)` (or a bare function name) into a location. */
export function parseLocation(text: unknown): CodeLocation | undefined {
  if (typeof text !== 'string' || text === '') return undefined
  const m = /^(.*) \((.+):(\d+)(?::\d+)?\)$/.exec(text)
  if (!m) return { function: text, file: '', line: 0 }
  return {
    function: m[1] || '(anonymous)',
    file: m[2].replace(/^file:\/\//, ''),
    line: Number(m[3]),
  }
}

/** Releases by the same code, for the same reason, add up. */
export function releaseKey(release: Release): string {
  const c = release.culprit
  const who = c
    ? `${c.function}@${c.file}:${c.line}`
    : release.byRoute
      ? `route:${release.byRoute}`
      : 'unknown'
  const what = release.call ? `${release.call.method} ${release.call.url}` : release.root
  return `task:${who}:${what}`
}
