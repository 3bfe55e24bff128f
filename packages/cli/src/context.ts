import type {
  AsyncSlice,
  CallRecord,
  Interval,
  LoopSlice,
  Model,
  RequestRecord,
  TaskRecord,
} from './model.ts'
import type { CodeLocation } from './samples.ts'

/** Options of {@link analyze}; every field optional, defaults in {@link analyzeDefaults}. */
export interface AnalyzeOptions {
  /**
   * A request at least this slow (ms) is explained. Default: the triggering
   * request's duration or 100, whichever is lower, so the trigger always counts.
   */
  slowMs?: number
  /** How many of the slowest requests the report details. Default 5. */
  top?: number
}

/**
 * Every default of the analyzer in one place. `slowMs` and `top` are the
 * defaults of {@link AnalyzeOptions} (an option given wins); the rest are
 * fixed thresholds, documented in docs/analyzer.md.
 *
 * @example
 * analyze(model, { slowMs: analyzeDefaults.slowMs * 2 })
 */
export const analyzeDefaults = Object.freeze({
  slowMs: 100,
  top: 5,
  /** A busy run at least this long (ms) blocked the loop, whatever the recorder's stall threshold. */
  blockMs: 50,
  /** The loop busy at least this share of the slow requests' time means requests queued for the CPU. */
  saturatedShare: 0.5,
  /** How soon after a call or task ended a waiting request must resume to count as released by it (ms). */
  releaseSlackMs: 10,
  /** A wait shorter than this (ms) is not worth explaining. */
  minWaitMs: 2,
})

const GC_FRAME = '(garbage collector)'

/** Something that ended and may have let waiting requests go: a call, a task, a causal callback. */
export interface ReleaseEvent {
  ts: number
  call?: CallRecord
  task?: TaskRecord
}

/** A loop stretch that blocked it: a stall, or a busy run at least `blockMs` long. */
export interface Block extends Interval {
  culprit?: CodeLocation
  self?: string
}

/** What the explanation of each request reads, computed once per snapshot. */
export interface Context {
  model: Model
  /** GC pauses, recorded or sampled, merged. */
  gcs: Interval[]
  blocks: Block[]
  /** Loop busy runs shorter than a block. */
  busy: LoopSlice[]
  /** Outgoing calls each request made: attributed by the recorder, or matched by time. */
  ownCalls: Map<number, CallRecord[]>
  /** Owner request id of each call made on behalf of a request. */
  callOwner: Map<CallRecord, number>
  /** Call and task ends, by time: candidates for what released a waiting request. */
  releases: ReleaseEvent[]
  /** Whether calls were matched to requests by time (the recorder did not attribute them). */
  matchedByTime: boolean
  /** Causal callbacks (tid 5) by start time. */
  asyncSlices: AsyncSlice[]
  requestsById: Map<number, RequestRecord>
}

/** Builds the per-snapshot context the request explanations share. */
export function buildContext(model: Model): Context {
  const blockMicros =
    Math.min(
      analyzeDefaults.blockMs,
      Number(model.meta.options?.stallThreshold ?? analyzeDefaults.blockMs),
    ) * 1000
  const { long, short } = splitAtTurns(model, blockMicros)
  const merged = mergeBlocks([...model.stalls, ...long].sort((a, b) => a.start - b.start))
  // A block most of whose samples are in the collector is a GC pause, whatever the code it interrupted.
  const gcBlocks = merged.filter((b) => b.self === GC_FRAME)
  const blocks: Block[] = []
  const busy = short
  for (const b of merged) {
    if (b.self === GC_FRAME) continue
    if (isQueueing(model, b)) busy.push({ ...b, samples: 0 })
    else blocks.push(b)
  }
  busy.sort((a, b) => a.start - b.start)
  const requestsById = model.requestsById
  const { ownCalls, callOwner } = model.attributed
    ? attributedCalls(model, requestsById)
    : matchCallsByTime(model.requests, model.calls)
  const releases: ReleaseEvent[] = []
  for (const call of model.calls) if (!call.inFlight) releases.push({ ts: call.end, call })
  for (const task of model.tasks) if (task.end > task.start) releases.push({ ts: task.end, task })
  releases.sort((a, b) => a.ts - b.ts)
  return {
    model,
    gcs: mergeIntervals([...model.gcs, ...model.gcSampled, ...gcBlocks]),
    blocks,
    busy,
    ownCalls,
    callOwner,
    releases,
    matchedByTime: !model.attributed,
    asyncSlices: model.asyncSlices,
    requestsById,
  }
}

/**
 * Busy runs split where the loop provably turned over: a request started or
 * finished, a call returned, a counter timer fired. Those happen between
 * callbacks, never inside one, so what is left between them ran as one piece
 * of synchronous work; a piece at least `blockMicros` long blocked the loop.
 * A saturated loop (many short tasks back to back) is one busy run with many
 * turns in it; a blocked loop is a busy run with none.
 */
function splitAtTurns(
  model: Model,
  blockMicros: number,
): { long: LoopSlice[]; short: LoopSlice[] } {
  const long: LoopSlice[] = []
  const short: LoopSlice[] = []
  const samples = model.samples
  const longRuns = model.loop.filter((run) => run.end - run.start >= blockMicros)
  const turns =
    longRuns.length > 0 ? turnsWithin(model, mergeIntervals(longRuns)) : new Float64Array(0)
  for (const run of model.loop) {
    if (run.end - run.start < blockMicros) {
      short.push(run)
      continue
    }
    let from = run.start
    const pieces: Interval[] = []
    for (let i = lowerBound(turns, run.start); i < turns.length && turns[i] < run.end; i++) {
      if (turns[i] > from) pieces.push({ start: from, end: turns[i] })
      from = turns[i]
    }
    pieces.push({ start: from, end: run.end })
    if (pieces.length === 1) {
      long.push(run)
      continue
    }
    for (const piece of pieces) {
      if (piece.end - piece.start < blockMicros) {
        short.push({ ...piece, culprit: run.culprit, self: run.self, samples: 0 })
        continue
      }
      const top = samples.topFunctions([[piece.start, piece.end + 1]], 1)[0]
      long.push({
        ...piece,
        culprit: top ? { function: top.function, file: top.file, line: top.line } : run.culprit,
        self: samples.topLeaf(piece.start, piece.end) ?? run.self,
        samples: top?.samples ?? 0,
      })
    }
  }
  return { long, short }
}

/**
 * Whether a long busy stretch is a saturated loop rather than one blocking
 * call. The sampler cannot see where one callback ends and the next begins:
 * a batch of short continuations (Node.js runs every ready immediate, or
 * every ready socket, in one go) looks like one long call. It is queueing
 * when many requests were in flight across it and the loop was as busy
 * around it, with the same function on the CPU: the same short work, for
 * request after request.
 */
function isQueueing(model: Model, block: Block): boolean {
  const { minInFlight, busyShare, aroundMs } = queueingDefaults
  // Requests are sorted by start: those that started before the block ended.
  let inFlight = 0
  const requests = model.requests
  for (let i = 0; i < requests.length && requests[i].start < block.end; i++) {
    if (requests[i].end > block.start && ++inFlight >= minInFlight) break
  }
  if (inFlight < minInFlight) return false
  const around = aroundMs * 1000
  const ranges: Array<[number, number]> = [
    [Math.max(model.start, block.start - around), block.start],
    [block.end, Math.min(model.end, block.end + around)],
  ]
  const span = ranges.reduce((sum, [a, b]) => sum + Math.max(0, b - a), 0)
  if (span < MIN_AROUND_MICROS) return false
  let busy = 0
  for (const [a, b] of ranges) {
    for (const s of overlapping(model.loop, a, b)) busy += Math.min(s.end, b) - Math.max(s.start, a)
  }
  if (busy / span < busyShare) return false
  const top = model.samples.topFunctions(ranges, 1)[0]
  return (
    top !== undefined &&
    top.function === block.culprit?.function &&
    top.file === block.culprit?.file
  )
}

/** Less loop history than this around a block (at the window's edges) tells nothing. */
const MIN_AROUND_MICROS = 100_000

/** When a long busy stretch counts as queueing (see {@link isQueueing}). */
const queueingDefaults = Object.freeze({ minInFlight: 8, busyShare: 0.6, aroundMs: 1000 })

/**
 * When the loop provably turned over (see {@link splitAtTurns}) inside
 * `within` (sorted, disjoint [start, end) intervals), ascending.
 */
function turnsWithin(model: Model, within: Interval[]): Float64Array {
  const starts = within.map((iv) => iv.start)
  const turns = new Float64Array(
    2 * model.requests.length +
      model.calls.length +
      model.memory.length +
      model.loopCounters.length,
  )
  let n = 0
  const add = (t: number) => {
    const i = upperBound(starts, t) - 1
    if (i >= 0 && t < within[i].end) turns[n++] = t
  }
  for (const r of model.requests) {
    if (!r.truncated) add(r.start)
    if (!r.inFlight) add(r.end)
  }
  for (const c of model.calls) if (!c.inFlight) add(c.end)
  for (const c of model.memory) add(c.ts)
  for (const c of model.loopCounters) add(c.ts)
  return turns.subarray(0, n).sort()
}

/** Index of the first element of `sorted` after `t`. */
function upperBound(sorted: number[], t: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid] <= t) lo = mid + 1
    else hi = mid
  }
  return lo
}

function lowerBound(sorted: ArrayLike<number>, t: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid] < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Sorted, non-overlapping union of intervals. */
function mergeIntervals(intervals: Interval[]): Interval[] {
  const sorted = intervals
    .map((i) => ({ start: i.start, end: i.end }))
    .sort((a, b) => a.start - b.start)
  const out: Interval[] = []
  for (const iv of sorted) {
    const last = out[out.length - 1]
    if (last && iv.start <= last.end) last.end = Math.max(last.end, iv.end)
    else out.push(iv)
  }
  return out
}

/** Stalls and long busy runs overlap (both see the same blockage): merge them, keeping the named culprit. */
function mergeBlocks(sorted: LoopSlice[]): Block[] {
  const out: Block[] = []
  for (const s of sorted) {
    const last = out[out.length - 1]
    if (last && s.start < last.end) {
      last.end = Math.max(last.end, s.end)
      last.culprit ??= s.culprit
      last.self ??= s.self
    } else out.push({ start: s.start, end: s.end, culprit: s.culprit, self: s.self })
  }
  return out
}

function attributedCalls(
  model: Model,
  requests: Map<number, RequestRecord>,
): Pick<Context, 'ownCalls' | 'callOwner'> {
  const ownCalls = new Map<number, CallRecord[]>()
  const callOwner = new Map<CallRecord, number>()
  for (const call of model.calls) {
    if (call.requestId === undefined) continue
    const owner = requests.get(call.requestId)
    // A context can outlive its request (a timer set in a handler): such a call is background work.
    if (owner && call.start > owner.end) continue
    callOwner.set(call, call.requestId)
    const list = ownCalls.get(call.requestId) ?? []
    list.push(call)
    ownCalls.set(call.requestId, list)
  }
  return { ownCalls, callOwner }
}

/**
 * Without attribution (Node.js 22 at the default level), a call belongs to
 * the request whose span holds it most tightly: a handler that awaits a call
 * starts it soon after the request starts and ends soon after it returns.
 * Pairs are taken best first; a call no request holds is background work.
 */
function matchCallsByTime(
  requests: RequestRecord[],
  calls: CallRecord[],
): Pick<Context, 'ownCalls' | 'callOwner'> {
  const pairs: Array<{ score: number; call: CallRecord; request: RequestRecord }> = []
  const byStart = requests.slice().sort((a, b) => a.start - b.start)
  for (const call of calls) {
    // Requests that started before the call: binary search the last one, walk back.
    let lo = 0
    let hi = byStart.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (byStart[mid].start <= call.start) lo = mid + 1
      else hi = mid
    }
    let candidates = 0
    for (let i = lo - 1; i >= 0 && candidates < 64; i--) {
      const r = byStart[i]
      if (r.end < call.end) continue
      candidates++
      pairs.push({ score: call.start - r.start + (r.end - call.end), call, request: r })
    }
  }
  pairs.sort((a, b) => a.score - b.score)
  const ownCalls = new Map<number, CallRecord[]>()
  const callOwner = new Map<CallRecord, number>()
  for (const { call, request } of pairs) {
    if (callOwner.has(call)) continue
    const list = ownCalls.get(request.id) ?? []
    list.push(call)
    ownCalls.set(request.id, list)
    callOwner.set(call, request.id)
  }
  return { ownCalls, callOwner }
}

/**
 * When the loop went quiet again after `ts`: released continuations run in a
 * burst of busy slices right after whatever released them.
 */
export function burstEnd(ctx: Context, ts: number): number {
  const gap = ctx.model.samples.intervalMicros * 2 + 500
  let t = ts
  const loop = ctx.model.loop
  let i = firstEndingAfter(loop, t)
  for (; i < loop.length && loop[i].start <= t + gap; i++) {
    if (loop[i].end > t) t = loop[i].end
  }
  return t
}

/** Index of the first interval (sorted by start, non-overlapping) that ends after `t`. */
function firstEndingAfter<T extends Interval>(list: T[], t: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid].end <= t) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Intervals of a start-sorted, mostly non-overlapping list that overlap [t0, t1). */
export function overlapping<T extends Interval>(list: T[], t0: number, t1: number): T[] {
  const out: T[] = []
  // Lists here may hold a few overlapping entries; walk back a little for safety.
  for (let i = Math.max(0, firstEndingAfter(list, t0) - 4); i < list.length; i++) {
    const s = list[i]
    if (s.start >= t1) break
    if (s.end > t0) out.push(s)
  }
  return out
}
