import type { TraceEvent } from './trace-format.ts'
import { requestTrackId } from './trace-format.ts'

/** A slice to place under a request: its `b` and `e` events (ts already clamped into the request). */
export interface ChildSlice {
  begin: TraceEvent
  end: TraceEvent
  /** Breaks ties between slices with the same start and end: lower ranks enclose higher ones. */
  rank: number
}

/**
 * Lays out one request as nestable async events that nest: the request's own
 * slice, then its children (outgoing calls, tasks, regions, waits) and its
 * instants (log lines) on the request's track, id `r<requestId>`.
 *
 * Nestable async events of one id must nest, but a request's children often
 * overlap without nesting (three fetches under Promise.all). A child that
 * cannot nest on the request's track goes to the first extra lane where it
 * can, id `r<requestId>.<lane>` (see {@link requestTrackId}); viewers show
 * each lane as its own track.
 *
 * Returns the events in the order to write them: per track, `b`/`e` in stack
 * order and instants in time order.
 */
export function layOutRequest(
  requestId: number,
  begin: TraceEvent,
  end: TraceEvent,
  children: ChildSlice[],
  instants: TraceEvent[],
): TraceEvent[] {
  const sorted = [...children].sort(
    (a, b) =>
      (a.begin.ts ?? 0) - (b.begin.ts ?? 0) || (b.end.ts ?? 0) - (a.end.ts ?? 0) || a.rank - b.rank,
  )
  // Per lane, the ends of the slices open at the point reached. The request
  // itself encloses every child (they are clamped into it), so an empty lane fits anything.
  const open: number[][] = [[]]
  const lanes: ChildSlice[][] = [[]]
  for (const child of sorted) {
    const start = child.begin.ts ?? 0
    const stop = child.end.ts ?? 0
    let lane = 0
    for (; lane < open.length; lane++) {
      const stack = open[lane]
      while (stack.length > 0 && closesBefore(stack[stack.length - 1], start, stop)) stack.pop()
      const top = stack[stack.length - 1]
      if (top === undefined || top >= stop) break
    }
    if (lane === open.length) {
      open.push([])
      lanes.push([])
    }
    open[lane].push(stop)
    lanes[lane].push(child)
  }

  const timeOrder = [...instants].sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0))
  const out: TraceEvent[] = [begin, ...mergeByTime(emitLane(lanes[0]), timeOrder), end]
  for (let lane = 1; lane < lanes.length; lane++) {
    const id = requestTrackId(requestId, lane)
    for (const child of lanes[lane]) {
      child.begin.id = id
      child.end.id = id
    }
    out.push(...emitLane(lanes[lane]))
  }
  return out
}

/**
 * Whether an open slice ending at `openEnd` must close before a slice
 * [start, stop] begins: it ended earlier, or it ends at `start` and the new
 * slice goes on past it (a zero-length slice at its very end nests in it).
 */
function closesBefore(openEnd: number, start: number, stop: number): boolean {
  return openEnd < start || (openEnd === start && stop > start)
}

/** One lane's slices (sorted, and known to nest) as b/e events in stack order: time order too. */
function emitLane(slices: ChildSlice[]): TraceEvent[] {
  const out: TraceEvent[] = []
  const stack: ChildSlice[] = []
  for (const slice of slices) {
    const start = slice.begin.ts ?? 0
    const stop = slice.end.ts ?? 0
    while (stack.length > 0 && closesBefore(stack[stack.length - 1].end.ts ?? 0, start, stop)) {
      out.push((stack.pop() as ChildSlice).end)
    }
    out.push(slice.begin)
    stack.push(slice)
  }
  while (stack.length > 0) out.push((stack.pop() as ChildSlice).end)
  return out
}

/** Both lists are in time order; instants go before any event later than they are. */
function mergeByTime(events: TraceEvent[], instants: TraceEvent[]): TraceEvent[] {
  if (instants.length === 0) return events
  const out: TraceEvent[] = []
  let i = 0
  for (const e of events) {
    while (i < instants.length && (instants[i].ts ?? 0) < (e.ts ?? 0)) out.push(instants[i++])
    out.push(e)
  }
  while (i < instants.length) out.push(instants[i++])
  return out
}
