import type { Context } from '../context.ts'
import { bytes, duration, percent, plural } from '../format.ts'
import type { Model } from '../model.ts'
import { type Finding, type FindingsInput, ms } from './types.ts'

/** GC takes at least this share of the slow requests' time (or of the window) to be a finding. */
const SIGNIFICANT_SHARE = 0.05

/** GC in numbers: the window's share, and the pauses inside slow requests. */
export interface GcSummary {
  count: number
  totalMs: number
  longestMs: number
  /** Share of the window spent in GC pauses. */
  share: number
  /** GC pause time inside slow requests, summed over them. */
  duringSlowMs: number
}

export function gcSummary(ctx: Context, duringSlowMicros: number): GcSummary {
  let total = 0
  let longest = 0
  for (const gc of ctx.gcs) {
    total += gc.end - gc.start
    longest = Math.max(longest, gc.end - gc.start)
  }
  const window = Math.max(1, ctx.model.end - ctx.model.start)
  return {
    count: ctx.gcs.length,
    totalMs: ms(total),
    longestMs: ms(longest),
    share: total / window,
    duringSlowMs: ms(duringSlowMicros),
  }
}

/**
 * Garbage collection pauses that held slow requests up: a finding when they
 * take a significant share of the slow requests' time, or of the window.
 */
export function gcPressure({ ctx, explained, totalMicros }: FindingsInput): Finding[] {
  let micros = 0
  const requests = new Set<number>()
  for (const ex of explained) {
    for (const part of ex.parts) {
      if (part.kind !== 'gc') continue
      micros += part.micros
      requests.add(ex.request.id)
    }
  }
  const summary = gcSummary(ctx, micros)
  const slowShare = totalMicros > 0 ? micros / totalMicros : 0
  // With slow requests, GC matters only if it held them up; without, if it took much of the window.
  if (
    explained.length > 0 ? slowShare < SIGNIFICANT_SHARE : summary.share < SIGNIFICANT_SHARE * 2
  ) {
    return []
  }
  const heap = heapGrowth(ctx.model)
  const kinds = new Map<string, number>()
  for (const gc of ctx.model.gcs) kinds.set(gc.kind, (kinds.get(gc.kind) ?? 0) + gc.end - gc.start)
  const mostly = [...kinds.entries()].sort((a, b) => b[1] - a[1])[0]?.[0]
  const seen = ctx.model.gcs.length === 0 ? ' (seen by the CPU sampler)' : ''
  const text =
    requests.size > 0
      ? `Garbage collection paused ${plural(requests.size, 'slow request')} for ${duration(ms(micros))} ` +
        `in all (${percent(slowShare)} of their time)`
      : `Garbage collection took ${percent(summary.share)} of the window`
  return [
    {
      kind: 'gc',
      summary:
        `${text}: ${plural(summary.count, 'pause')}${seen} in the window, ${duration(summary.totalMs)} ` +
        `in all (${percent(summary.share)}), the longest ${duration(summary.longestMs)}` +
        `${mostly && mostly !== 'unknown' ? `, mostly ${mostly}` : ''}${heap}. ` +
        'Allocate less per request, or keep less alive (caches, buffers, closures).',
      culprit: null,
      waitedOn: null,
      requests: requests.size,
      ms: requests.size > 0 ? ms(micros) : summary.totalMs,
      evidence: 'gc',
    },
  ]
}

function heapGrowth(model: Model): string {
  const first = model.memory[0]?.values.heapUsed
  const peak = Math.max(...model.memory.map((m) => m.values.heapUsed ?? 0))
  if (first === undefined || !Number.isFinite(peak)) return ''
  return `; heap used ${bytes(first)} at the start of the window, peak ${bytes(peak)}`
}
