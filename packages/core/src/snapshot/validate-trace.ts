import { SNAPSHOT_FORMAT, type SnapshotFile, type TraceEvent } from './trace-format.ts'

const PHASES = new Set(['X', 'B', 'E', 'b', 'e', 'n', 'i', 'I', 'C', 'M', 'P', 's', 't', 'f'])
const METADATA_NAMES = new Set([
  'process_name',
  'thread_name',
  'process_sort_index',
  'thread_sort_index',
  'process_labels',
])
/** At most this many problems are listed. */
const MAX_PROBLEMS = 50

/**
 * Checks a parsed trace against the rules of the Chrome Trace Event format
 * that viewers depend on, and returns every problem found (empty: valid).
 * Events are replayed the way Perfetto replays them: per track, sorted by
 * `ts`, ties kept in file order.
 * - every event has a known `ph`, a `pid`, and (but `e`/`E`) a `name`; timed
 *   events a finite `ts` >= 0;
 * - `X` slices have `dur` >= 0 and a `tid`, and nest strictly per thread (no partial overlap);
 * - `B`/`E` balance per thread, and an `E` with a name closes the `B` of that name;
 * - nestable async `b`/`e` pair per (cat, id) in stack order, an `e` with a
 *   name closes the `b` of that name, and an `n` lies inside an open slice;
 * - every flow `bind_id` has exactly one `flow_out` and at least one `flow_in`;
 * - `C` args are finite numbers; `M` names a process or thread property;
 * - `P` events have an `id`; a ProfileChunk has as many time deltas as samples;
 * - `metadata.flightrec` is present when `requireFlightrec` is set.
 * Not checked: what viewers ignore (extra fields, event order across tracks).
 *
 * @example
 * const problems = validateTrace(JSON.parse(readFileSync('snapshot.json', 'utf8')), { requireFlightrec: true })
 * if (problems.length > 0) console.error(problems.join('\n'))
 */
export function validateTrace(
  file: unknown,
  options: { requireFlightrec?: boolean } = {},
): string[] {
  const problems: string[] = []
  const add = (msg: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(msg)
  }
  if (
    file === null ||
    typeof file !== 'object' ||
    !Array.isArray((file as SnapshotFile).traceEvents)
  ) {
    return ['not a trace: no traceEvents array']
  }
  const f = file as SnapshotFile
  if (options.requireFlightrec && f.metadata?.flightrec?.format !== SNAPSHOT_FORMAT) {
    add('metadata.flightrec is missing or not a flightrec snapshot')
  }
  const slicesByThread = new Map<string, Array<{ ts: number; end: number; name: string }>>()
  const syncByThread = new Map<string, TraceEvent[]>()
  const asyncByKey = new Map<string, TraceEvent[]>()
  const flowsOut = new Map<string, number>()
  const flowsIn = new Map<string, number>()
  const push = <T>(map: Map<string, T[]>, key: string, value: T) => {
    const list = map.get(key)
    if (list) list.push(value)
    else map.set(key, [value])
  }

  for (let i = 0; i < f.traceEvents.length; i++) {
    const e = f.traceEvents[i]
    if (e === null || typeof e !== 'object') {
      add(`event ${i} is not an object`)
      continue
    }
    const where = `event ${i} (${e.ph} ${e.name ?? ''})`
    if (typeof e.ph !== 'string' || !PHASES.has(e.ph)) {
      add(`${where}: unknown phase`)
      continue
    }
    if (typeof e.pid !== 'number') add(`${where}: pid missing`)
    if (e.ph !== 'e' && e.ph !== 'E' && typeof e.name !== 'string') add(`${where}: name missing`)
    if (e.ph !== 'M' && (typeof e.ts !== 'number' || !Number.isFinite(e.ts) || e.ts < 0)) {
      add(`${where}: ts missing or invalid`)
      continue
    }
    if (e.bind_id !== undefined) {
      if (e.flow_out) flowsOut.set(e.bind_id, (flowsOut.get(e.bind_id) ?? 0) + 1)
      if (e.flow_in) flowsIn.set(e.bind_id, (flowsIn.get(e.bind_id) ?? 0) + 1)
    }
    const thread = `${e.pid}:${e.tid}`
    switch (e.ph) {
      case 'X':
        if (typeof e.dur !== 'number' || !Number.isFinite(e.dur) || e.dur < 0) {
          add(`${where}: X without a valid dur`)
        }
        if (typeof e.tid !== 'number') add(`${where}: X without tid`)
        push(slicesByThread, thread, {
          ts: e.ts ?? 0,
          end: (e.ts ?? 0) + (e.dur ?? 0),
          name: e.name ?? '',
        })
        break
      case 'B':
      case 'E':
        push(syncByThread, thread, e)
        break
      case 'b':
      case 'e':
      case 'n':
        if (e.id === undefined) add(`${where}: async event without id`)
        else push(asyncByKey, `${e.cat}|${e.id}`, e)
        break
      case 'C': {
        const entries = Object.entries(e.args ?? {})
        if (entries.length === 0) add(`${where}: counter without values`)
        for (const [k, v] of entries) {
          if (typeof v !== 'number' || !Number.isFinite(v)) {
            add(`${where}: counter ${k} is not a number`)
          }
        }
        break
      }
      case 'M':
        if (!METADATA_NAMES.has(e.name ?? '')) add(`${where}: unknown metadata name`)
        break
      case 'i':
      case 'I':
        if (e.s !== undefined && !['g', 'p', 't'].includes(e.s)) add(`${where}: bad instant scope`)
        break
      case 'P':
        checkProfileEvent(e, where, add)
        break
    }
  }

  for (const [thread, slices] of slicesByThread) {
    slices.sort((a, b) => a.ts - b.ts || b.end - a.end)
    const open: Array<{ ts: number; end: number; name: string }> = []
    for (const s of slices) {
      while (open.length > 0 && open[open.length - 1].end <= s.ts) open.pop()
      const parent = open[open.length - 1]
      if (parent && s.end > parent.end) {
        add(`thread ${thread}: '${s.name}' at ${s.ts} overlaps '${parent.name}' without nesting`)
      }
      open.push(s)
    }
  }
  for (const [thread, events] of syncByThread) {
    checkStack(`thread ${thread}`, byTime(events), 'B', 'E', add)
  }
  for (const [key, events] of asyncByKey) checkStack(`async ${key}`, byTime(events), 'b', 'e', add)

  for (const [id, n] of flowsOut) {
    if (n > 1) add(`flow ${id}: ${n} flow_out events`)
    if (!flowsIn.has(id)) add(`flow ${id}: flow_out without flow_in`)
  }
  for (const id of flowsIn.keys()) {
    if (!flowsOut.has(id)) add(`flow ${id}: flow_in without flow_out`)
  }
  return problems
}

/** Events of one track in the order a viewer replays them: by ts, ties in file order. */
function byTime(events: TraceEvent[]): TraceEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.ts ?? 0) - (b.e.ts ?? 0) || a.i - b.i)
    .map(({ e }) => e)
}

/** Begin/end events of one track close in stack order; instants (`n`) need an open slice. */
function checkStack(
  track: string,
  events: TraceEvent[],
  begin: string,
  end: string,
  add: (msg: string) => void,
): void {
  const stack: TraceEvent[] = []
  for (const e of events) {
    if (e.ph === begin) stack.push(e)
    else if (e.ph === end) {
      const top = stack.pop()
      if (!top) add(`${track}: '${end}' ${e.name ?? ''} at ${e.ts} without '${begin}'`)
      else if (e.name !== undefined && e.name !== top.name) {
        add(`${track}: '${e.name}' ends at ${e.ts} while '${top.name}' is the innermost open slice`)
      }
    } else if (stack.length === 0) add(`${track}: instant '${e.name}' at ${e.ts} outside any slice`)
  }
  if (stack.length > 0) add(`${track}: ${stack.length} '${begin}' without '${end}'`)
}

function checkProfileEvent(e: TraceEvent, where: string, add: (msg: string) => void): void {
  if (e.id === undefined) add(`${where}: profile event without id`)
  if (e.name !== 'ProfileChunk') return
  const data = e.args?.data as
    | { cpuProfile?: { samples?: unknown }; timeDeltas?: unknown }
    | undefined
  const samples = data?.cpuProfile?.samples
  const deltas = data?.timeDeltas
  if (samples !== undefined && (!Array.isArray(samples) || !Array.isArray(deltas))) {
    add(`${where}: samples without timeDeltas`)
  } else if (Array.isArray(samples) && Array.isArray(deltas) && samples.length !== deltas.length) {
    add(`${where}: ${samples.length} samples but ${deltas.length} time deltas`)
  }
}
