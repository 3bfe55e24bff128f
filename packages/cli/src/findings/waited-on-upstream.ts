import { duration, plural, where } from '../format.ts'
import type { CallRecord } from '../model.ts'
import type { CodeLocation } from '../samples.ts'
import { type Finding, type FindingsInput, ms } from './types.ts'

/**
 * Requests that waited on their own outgoing call: the time their call was in
 * flight and nothing else (GC, a blocked loop, CPU) held them. Grouped by
 * method and URL (origin and path; no query), so one slow upstream is one finding.
 */
export function waitedOnUpstream({ ctx, explained }: FindingsInput): Finding[] {
  const groups = new Map<
    string,
    {
      micros: number
      requests: Set<number>
      calls: Set<CallRecord>
      callers: Map<string, CodeLocation & { n: number }>
    }
  >()
  const keyOf = endpointKeys(
    explained.flatMap((ex) => ex.parts.map((p) => p.call).filter((c) => c !== undefined)),
  )
  for (const ex of explained) {
    for (const part of ex.parts) {
      if (part.kind !== 'waited-on-upstream' || !part.call) continue
      const key = keyOf(part.call)
      let g = groups.get(key)
      if (!g) {
        g = { micros: 0, requests: new Set(), calls: new Set(), callers: new Map() }
        groups.set(key, g)
      }
      g.micros += part.micros
      g.requests.add(ex.request.id)
      if (!g.calls.has(part.call)) {
        g.calls.add(part.call)
        const c = part.call.caller
        if (c) {
          const ck = `${c.function}@${c.file}:${c.line}`
          const entry = g.callers.get(ck)
          if (entry) entry.n++
          else g.callers.set(ck, { ...c, n: 1 })
        }
      }
    }
  }
  const findings: Finding[] = []
  for (const [key, g] of groups) {
    const calls = [...g.calls]
    const endpoint = key.slice(key.indexOf(' ') + 1)
    const longest = calls.reduce((a, b) => (b.durationMs > a.durationMs ? b : a))
    const caller = [...g.callers.values()].sort((a, b) => b.n - a.n)[0]
    const failed = calls.filter((c) => c.error !== undefined || (c.status ?? 0) >= 500).length
    const inFlight = calls.filter((c) => c.inFlight).length
    const culprit = caller
      ? { function: caller.function, file: caller.file, line: caller.line }
      : null
    let summary =
      `${plural(g.requests.size, 'slow request')} spent ${duration(ms(g.micros))} waiting on ` +
      `${g.requests.size === 1 ? 'its' : 'their'} own ${longest.method} ${endpoint} ` +
      `(${plural(calls.length, 'call')}, the longest ${duration(longest.durationMs)})` +
      `${culprit ? `, made by ${where(culprit)}` : ''}.`
    if (failed > 0) summary += ` ${plural(failed, 'call')} failed.`
    if (inFlight > 0)
      summary += ` ${plural(inFlight, 'call')} had not returned when the snapshot was taken.`
    summary += ' The upstream is slow: add a timeout, cache, or call it outside the request path.'
    if (ctx.matchedByTime) {
      summary += ' (Calls were matched to requests by time: this recorder did not attribute them.)'
    }
    findings.push({
      kind: 'waited-on-upstream',
      summary,
      culprit,
      waitedOn: { method: longest.method, url: endpoint, durationMs: longest.durationMs },
      requests: g.requests.size,
      ms: ms(g.micros),
      evidence: ctx.matchedByTime ? 'timing' : 'calls',
    })
  }
  return findings
}

/**
 * How calls group into endpoints: by method and URL, except that URLs that
 * differ only in their last path segment (`/quotes/AAPL`, `/quotes/MSFT`)
 * are one endpoint, written `/quotes/*`.
 */
function endpointKeys(calls: CallRecord[]): (call: CallRecord) => string {
  const parent = (call: CallRecord) => {
    const slash = call.url.lastIndexOf('/')
    const scheme = call.url.indexOf('://')
    return slash > scheme + 2 ? call.url.slice(0, slash) : call.url
  }
  const siblings = new Map<string, Set<string>>()
  for (const call of calls) {
    const key = `${call.method} ${parent(call)}`
    const urls = siblings.get(key) ?? new Set()
    urls.add(call.url)
    siblings.set(key, urls)
  }
  return (call) => {
    const key = `${call.method} ${parent(call)}`
    return (siblings.get(key)?.size ?? 0) > 1 ? `${key}/*` : `${call.method} ${call.url}`
  }
}
