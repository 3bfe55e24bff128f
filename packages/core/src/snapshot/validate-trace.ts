import { SNAPSHOT_FORMAT, type SnapshotFile, type TraceEvent } from './trace-format.ts'

const PHASES = new Set(['X', 'B', 'E', 'b', 'e', 'n', 'i', 'I', 'C', 'M', 'P', 's', 't', 'f'])

/**
 * Checks a parsed trace against the rules of the Chrome Trace Event format
 * that viewers depend on, and returns every problem found (empty: valid).
 * - every event has a known `ph`, and `pid`; timed events a finite `ts` >= 0;
 * - `X` slices have `dur` >= 0 and nest strictly per thread (no partial overlap);
 * - `B`/`E` balance per thread;
 * - nestable async `b`/`e` pair per (cat, id) in stack order, `n` lies inside an open slice;
 * - every flow `bind_id` has exactly one `flow_out` and at least one `flow_in`;
 * - `C` args are numbers; `M` names a process or thread;
 * - `metadata.flightrec` is present when `requireFlightrec` is set.
 * Not checked: anything a viewer ignores (extra fields, event order across threads).
 */
export function validateTrace(
  file: unknown,
  options: { requireFlightrec?: boolean } = {},
): string[] {
  const problems: string[] = []
  const add = (msg: string) => {
    if (problems.length < 50) problems.push(msg)
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
  const beStack = new Map<string, number>()
  const asyncOpen = new Map<string, Array<{ name: string; ts: number }>>()
  const asyncEvents: TraceEvent[] = []
  const flowsOut = new Map<string, number>()
  const flowsIn = new Map<string, number>()

  for (let i = 0; i < f.traceEvents.length; i++) {
    const e = f.traceEvents[i]
    const where = `event ${i} (${e?.ph} ${e?.name ?? ''})`
    if (e === null || typeof e !== 'object') {
      add(`event ${i} is not an object`)
      continue
    }
    if (typeof e.ph !== 'string' || !PHASES.has(e.ph)) {
      add(`${where}: unknown phase`)
      continue
    }
    if (typeof e.pid !== 'number') add(`${where}: pid missing`)
    if (e.ph !== 'M' && (typeof e.ts !== 'number' || !Number.isFinite(e.ts) || e.ts < 0)) {
      add(`${where}: ts missing or invalid`)
    }
    if (e.bind_id !== undefined) {
      if (e.flow_out) flowsOut.set(e.bind_id, (flowsOut.get(e.bind_id) ?? 0) + 1)
      if (e.flow_in) flowsIn.set(e.bind_id, (flowsIn.get(e.bind_id) ?? 0) + 1)
    }
    const thread = `${e.pid}:${e.tid}`
    switch (e.ph) {
      case 'X': {
        if (typeof e.dur !== 'number' || e.dur < 0) add(`${where}: X without a valid dur`)
        if (typeof e.tid !== 'number') add(`${where}: X without tid`)
        const list = slicesByThread.get(thread) ?? []
        list.push({ ts: e.ts ?? 0, end: (e.ts ?? 0) + (e.dur ?? 0), name: e.name ?? '' })
        slicesByThread.set(thread, list)
        break
      }
      case 'B':
        beStack.set(thread, (beStack.get(thread) ?? 0) + 1)
        break
      case 'E': {
        const depth = (beStack.get(thread) ?? 0) - 1
        if (depth < 0) add(`${where}: E without B`)
        beStack.set(thread, Math.max(0, depth))
        break
      }
      case 'b':
      case 'e':
      case 'n':
        if (e.id === undefined) add(`${where}: async event without id`)
        asyncEvents.push(e)
        break
      case 'C':
        for (const [k, v] of Object.entries(e.args ?? {})) {
          if (typeof v !== 'number' || !Number.isFinite(v))
            add(`${where}: counter ${k} is not a number`)
        }
        break
      case 'M':
        if (
          ![
            'process_name',
            'thread_name',
            'process_sort_index',
            'thread_sort_index',
            'process_labels',
          ].includes(e.name ?? '')
        ) {
          add(`${where}: unknown metadata name`)
        }
        break
      case 'i':
      case 'I':
        if (e.s !== undefined && !['g', 'p', 't'].includes(e.s)) add(`${where}: bad instant scope`)
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
  for (const [thread, depth] of beStack)
    if (depth !== 0) add(`thread ${thread}: ${depth} B without E`)

  // Nestable async events pair per (cat, id) in stack order; sort stably by time first.
  const byKey = new Map<string, TraceEvent[]>()
  for (const e of asyncEvents) {
    const key = `${e.cat}|${e.id}`
    const list = byKey.get(key) ?? []
    list.push(e)
    byKey.set(key, list)
  }
  for (const [key, list] of byKey) {
    const stack: Array<{ name: string; ts: number }> = []
    asyncOpen.set(key, stack)
    for (const e of list) {
      if (e.ph === 'b') stack.push({ name: e.name ?? '', ts: e.ts ?? 0 })
      else if (e.ph === 'e') {
        const top = stack.pop()
        if (!top) add(`async ${key}: 'e' ${e.name} without 'b'`)
        else if ((e.ts ?? 0) < top.ts) add(`async ${key}: '${top.name}' ends before it begins`)
      } else if (stack.length === 0) add(`async ${key}: instant '${e.name}' outside any slice`)
    }
    if (stack.length > 0) add(`async ${key}: ${stack.length} 'b' without 'e'`)
  }

  for (const [id, n] of flowsOut) {
    if (n > 1) add(`flow ${id}: ${n} flow_out events`)
    if (!flowsIn.has(id)) add(`flow ${id}: flow_out without flow_in`)
  }
  for (const id of flowsIn.keys())
    if (!flowsOut.has(id)) add(`flow ${id}: flow_in without flow_out`)
  return problems
}
