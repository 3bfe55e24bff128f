import { active } from './active.ts'
import { nowMicros } from './clock.ts'
import { EventKind } from './events.ts'

let nextTaskId = 1
let nextRegionId = 1

/**
 * Records `fn` as a named task (Go: `trace.NewTask`), attributed to the
 * current request where attribution is on. Returns what `fn` returns; a
 * returned promise ends the task when it settles. Costs nothing measurable
 * when no recorder runs.
 *
 * @example
 * import { task } from '@flightrec/core'
 * await task('sendReport', () => sendReport(buckets))
 */
export function task<T>(name: string, fn: () => T): T {
  return span(EventKind.TaskBegin, EventKind.TaskEnd, nextTaskId++, name, fn)
}

/**
 * Records `fn` as a named region inside the current task or request (Go:
 * `trace.WithRegion`). Same rules as {@link task}.
 *
 * @example
 * import { region } from '@flightrec/core'
 * const counts = region('copy counts', () => buckets.map((b) => b.guesses))
 */
export function region<T>(name: string, fn: () => T): T {
  return span(EventKind.RegionBegin, EventKind.RegionEnd, nextRegionId++, name, fn)
}

/**
 * Records a log line (Go: `trace.Log`) as an instant in the trace, attributed
 * to the current request where attribution is on. `level` is a pino level
 * number (default 30, info). Like every string in the trace, the message is
 * cut at 2048 characters (MAX_STRING_LENGTH). A no-op
 * when no recorder runs. See {@link pinoDestination} to record a pino logger's lines.
 *
 * @example
 * import { log } from '@flightrec/core'
 * log('report', `sent ${counts.length} buckets`)
 */
export function log(category: string, message: string, level = 30): void {
  const rec = active.recording
  if (!rec) return
  const ts = nowMicros()
  const seg = rec.segment(ts)
  seg.push(
    EventKind.Log,
    ts,
    seg.strings.intern(String(category)),
    seg.strings.intern(String(message)),
    rec.currentRequestId(),
    level,
  )
}

function span<T>(begin: number, end: number, id: number, name: string, fn: () => T): T {
  const rec = active.recording
  if (!rec) return fn()
  const ts = nowMicros()
  const seg = rec.segment(ts)
  seg.push(begin, ts, id, seg.strings.intern(String(name)), rec.currentRequestId(), -1)
  const close = () => {
    const r = active.recording
    if (r === rec) {
      const t = nowMicros()
      r.segment(t).push(end, t, id, 0, 0, 0)
    }
  }
  let result: T
  try {
    result = fn()
  } catch (err) {
    close()
    throw err
  }
  if (result instanceof Promise) {
    result.then(close, close)
  } else {
    close()
  }
  return result
}
