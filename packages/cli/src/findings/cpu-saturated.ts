import { analyzeDefaults } from '../context.ts'
import { duration, percent, plural, where } from '../format.ts'
import type { Interval } from '../model.ts'
import { type Finding, type FindingsInput, ms } from './types.ts'

/**
 * The loop busy most of the time slow requests were in progress, with many
 * short tasks rather than one long block: requests queued for the CPU. The
 * culprit is the user function most CPU samples point at then.
 */
export function cpuSaturated({ ctx, explained, totalMicros }: FindingsInput): Finding[] {
  let micros = 0
  const requests = new Set<number>()
  for (const ex of explained) {
    for (const part of ex.parts) {
      if (part.kind !== 'cpu') continue
      micros += part.micros
      requests.add(ex.request.id)
    }
  }
  if (micros === 0 || totalMicros === 0) return []
  const spans = union(explained.map((ex) => ex.request))
  const covered = spans.reduce((sum, s) => sum + s.end - s.start, 0)
  let busy = 0
  const overlap = (s: Interval) => {
    let sum = 0
    for (const span of spans)
      sum += Math.max(0, Math.min(s.end, span.end) - Math.max(s.start, span.start))
    return sum
  }
  for (const s of union([...ctx.busy, ...ctx.blocks, ...ctx.gcs])) busy += overlap(s)
  const share = covered > 0 ? busy / covered : 0
  if (share < analyzeDefaults.saturatedShare) return []
  const top = ctx.model.samples.topFunctions(
    spans.map((s) => [s.start, s.end]),
    1,
  )[0]
  const culprit = top ? { function: top.function, file: top.file, line: top.line } : null
  const n = requests.size
  return [
    {
      kind: 'cpu-saturated',
      summary:
        `The event loop was busy ${percent(share)} of the time ${plural(n, 'slow request')} ` +
        `${n === 1 ? 'was' : 'were'} in progress, running the same short work for request ` +
        `after request: requests queued for the CPU, ${duration(ms(micros))} in all.` +
        `${top ? ` Most samples point at ${where(top)} (${percent(top.share)}).` : ''} ` +
        'Do less per request, cache, or run more processes.',
      culprit,
      waitedOn: null,
      requests: n,
      ms: ms(micros),
      evidence: 'samples',
    },
  ]
}

function union(intervals: Interval[]): Interval[] {
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
