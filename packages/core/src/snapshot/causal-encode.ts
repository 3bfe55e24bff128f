import { EventKind } from '../events.ts'
import type { EncodeMeta } from './encode.ts'
import { Cat, Tid, type TraceEvent } from './trace-format.ts'
import type { WindowModel } from './window-model.ts'

/** What the causal level adds to a snapshot. */
export interface CausalOutput {
  /** Events on Tid.AsyncTasks: async callback slices and the resolve points inside them (flow out). */
  threadEvents: TraceEvent[]
  /**
   * Per request id, events for the request's track: `wait` slices (b/e pairs, to nest with
   * its other children) and `resume` instants (n) carrying the flows in.
   */
  requestChildren: Map<number, TraceEvent[]>
}

/** Who released a wait, as the wait's `args.releasedBy` says it. */
export interface ReleasedBy {
  /** The releasing callback's id (its slice's `args.asyncId`). */
  asyncId: number
  /** Always 'PROMISE' (async_hooks' name for a promise reaction). */
  type: string
  /** The request the releasing callback ran for; absent for background code. */
  requestId?: number
  /** The function the releasing callback belongs to, `fn (file:line)`, when it was captured. */
  function?: string
}

const RUN_TYPE = 'PROMISE'

interface Run {
  id: number
  start: number
  end: number
  requestId: number
  name?: string
  /** Whole µs as written, so that runs never overlap. */
  ts: number
  endTs: number
}

interface Release {
  ts: number
  runId: number
}

interface Wait {
  runId: number
  requestId: number
  start: number
  end: number
  release: Release
  /** Placed on the request's track, whole µs. */
  ts: number
  endTs: number
  /** The resolve point (tid AsyncTasks) and the resume instant (request track) of its flow. */
  resolveTs: number
  resumeTs: number
  /** The end of its request's slice: the resume instant may not pass it. */
  limit: number
}

interface Interval {
  start: number
  end: number
}

/**
 * Builds the causal level's slices and flows from the window's causal events:
 * - on Tid.AsyncTasks, one X slice per recorded callback run and, inside it,
 *   one 1 µs resolve slice per waiter it released, with `bind_id` and `flow_out`;
 * - on the released request's track, a `wait` slice (args.type 'wait') from
 *   when it began waiting to when it resumed, then an instant (args.type
 *   'resume') at the resume with the same `bind_id` and `flow_in`.
 * The flow ends on an instant, not on the wait's `b`, because viewers bind
 * flows in order of time (Perfetto drops a flow whose `flow_in` comes before
 * its `flow_out`), and a wait begins before its release. A wait whose request
 * or releasing callback is not in the window is left out, so every flow has
 * both ends.
 */
export function encodeCausal(model: WindowModel, pid: number, meta: EncodeMeta): CausalOutput {
  const runs = new Map<number, Run>()
  const releases = new Map<number, Release>()
  const waits: Wait[] = []
  for (const e of model.causal) {
    if (e.kind === EventKind.AsyncRun) {
      const end = e.ts + e.b
      runs.set(e.a, { id: e.a, start: e.ts, end, requestId: e.c, name: e.type, ts: 0, endTs: 0 })
    } else if (e.kind === EventKind.PromiseResolve) {
      releases.set(e.a, { ts: e.ts, runId: e.b })
    }
  }
  for (const e of model.causal) {
    if (e.kind !== EventKind.AsyncWait) continue
    // The releasing run ended before the waiter resumed, so it is written before the wait.
    const release = releases.get(e.d)
    if (!release || !runs.has(release.runId) || !model.requests.has(e.b)) continue
    waits.push({
      runId: e.a,
      requestId: e.b,
      start: e.c,
      end: e.ts,
      release,
      ts: 0,
      endTs: 0,
      resolveTs: 0,
      resumeTs: 0,
      limit: 0,
    })
  }

  placeRuns(runs)
  const placed = placeWaits(model, waits, meta).filter((w) => {
    // The flow's start strictly before its end, inside the releasing run.
    const run = runs.get(w.release.runId) as Run
    const latest = Math.min(run.endTs - 1, w.endTs - 1)
    w.resolveTs = Math.max(run.ts, Math.min(latest, us(w.release.ts)))
    w.resumeTs = Math.max(w.endTs, w.resolveTs + 1)
    return w.resumeTs <= w.limit
  })
  return {
    threadEvents: threadEvents(runs, placed, pid),
    requestChildren: requestChildren(placed, runs, pid),
  }
}

/** Whole-µs bounds for every run; runs never overlap, but rounding (and the 1 µs minimum) may make them. */
function placeRuns(runs: Map<number, Run>): void {
  const sorted = [...runs.values()].sort((a, b) => a.start - b.start)
  let previousEnd = 0
  for (const run of sorted) {
    run.ts = Math.max(us(run.start), previousEnd)
    run.endTs = Math.max(us(run.end), run.ts + 1)
    previousEnd = run.endTs
  }
}

/**
 * Places each wait on its request's track, clamped to the request's slice,
 * and returns those that got one (a wait shorter than 1 µs gets none). The
 * encoder nests them with the request's other children, in lanes if need be.
 */
function placeWaits(model: WindowModel, waits: Wait[], meta: EncodeMeta): Wait[] {
  const placed: Wait[] = []
  for (const w of waits) {
    const bounds = requestBounds(model, w.requestId, meta)
    if (!bounds) continue
    const clamp = (t: number) => Math.min(bounds.end, Math.max(bounds.start, us(t)))
    w.endTs = clamp(w.end)
    w.ts = Math.min(w.endTs, clamp(w.start))
    w.limit = bounds.end
    if (w.ts < w.endTs) placed.push(w)
  }
  return placed
}

/** Callback slices, each holding the resolve slices of the waiters it released. */
function threadEvents(runs: Map<number, Run>, waits: Wait[], pid: number): TraceEvent[] {
  const released = new Map<number, Wait[]>()
  for (const w of waits) {
    const list = released.get(w.release.runId)
    if (list) list.push(w)
    else released.set(w.release.runId, [w])
  }
  const events: TraceEvent[] = []
  for (const run of [...runs.values()].sort((a, b) => a.ts - b.ts)) {
    const mine = released.get(run.id) ?? []
    events.push({
      ph: 'X',
      cat: Cat.AsyncTask,
      name: runLabel(run),
      pid,
      tid: Tid.AsyncTasks,
      ts: run.ts,
      dur: run.endTs - run.ts,
      args: {
        asyncId: run.id,
        type: RUN_TYPE,
        requestId: run.requestId >= 0 ? run.requestId : undefined,
        function: run.name,
        durationMs: ms(run.end - run.start),
        released: mine.length > 0 ? mine.length : undefined,
      },
    })
    mine.sort((a, b) => a.resolveTs - b.resolveTs)
    for (const w of mine) {
      events.push({
        ph: 'X',
        cat: Cat.Resolve,
        name: `release r${w.requestId}`,
        pid,
        tid: Tid.AsyncTasks,
        ts: w.resolveTs,
        dur: 1,
        bind_id: bindId(w),
        flow_out: true,
        args: { requestId: w.requestId, asyncId: run.id },
      })
    }
  }
  return events
}

/** Each released request's wait slices, and the resume instants where their flows end. */
function requestChildren(
  waits: Wait[],
  runs: Map<number, Run>,
  pid: number,
): Map<number, TraceEvent[]> {
  const out = new Map<number, TraceEvent[]>()
  for (const w of waits) {
    const releaser = runs.get(w.release.runId) as Run
    const releasedBy: ReleasedBy = {
      asyncId: releaser.id,
      type: RUN_TYPE,
      requestId: releaser.requestId >= 0 ? releaser.requestId : undefined,
      function: releaser.name,
    }
    const id = `r${w.requestId}`
    const name = `wait (released by ${runLabel(releaser)})`
    const events = out.get(w.requestId) ?? []
    events.push(
      {
        ph: 'b',
        cat: Cat.Request,
        name,
        pid,
        id,
        ts: w.ts,
        args: { type: 'wait', releasedBy, durationMs: ms(w.end - w.start) },
      },
      { ph: 'e', cat: Cat.Request, name, pid, id, ts: w.endTs },
      {
        ph: 'n',
        cat: Cat.Request,
        name: `resumed (released by ${runLabel(releaser)})`,
        pid,
        id,
        ts: w.resumeTs,
        bind_id: bindId(w),
        flow_in: true,
        args: { type: 'resume', releasedBy },
      },
    )
    out.set(w.requestId, events)
  }
  return out
}

/** A request's slice bounds as the encoder writes them (whole µs). */
function requestBounds(
  model: WindowModel,
  requestId: number,
  meta: EncodeMeta,
): Interval | undefined {
  const r = model.requests.get(requestId)
  if (!r) return undefined
  const start = us(r.start ?? meta.startMicros)
  return { start, end: Math.max(start, us(r.end ?? meta.endMicros)) }
}

function runLabel(run: Run): string {
  const who = run.name ?? 'continuation'
  return run.requestId >= 0 ? `${who} [r${run.requestId}]` : who
}

/** Flow ids are hex strings: viewers read a string `bind_id` as a hexadecimal number. */
function bindId(w: Wait): string {
  return `0x${w.runId.toString(16)}`
}

function us(micros: number): number {
  return Math.round(micros)
}

function ms(micros: number): number {
  return Math.round(micros) / 1000
}
