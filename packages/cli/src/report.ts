import type { Analysis, CountersAt, RequestReport } from './analyze.ts'
import type { Finding } from './findings/types.ts'
import { bytes, duration, percent, plural, type Style, style, where, wrap } from './format.ts'

/** How the text report is laid out. */
export interface TextOptions {
  /** Columns to wrap at. Default 80. */
  width?: number
  /** ANSI colour. Default false (main turns it on for a TTY). */
  colour?: boolean
  /** The snapshot's path, shown in the heading and the Perfetto hint. */
  path?: string
}

/**
 * The analysis as a short plain-language report: the trigger, the findings
 * ranked by latency explained, the slowest requests with what each waited
 * on, loop stalls, GC, the counters around the trigger, and notes on what
 * the snapshot could not tell.
 *
 * @example
 * process.stdout.write(renderText(analysis, { colour: process.stdout.isTTY }))
 */
export function renderText(a: Analysis, options: TextOptions = {}): string {
  const width = options.width ?? 80
  const s = style(options.colour ?? false)
  const out: string[] = []
  const line = (text = '') => out.push(text)
  const para = (text: string, indent = '  ', first = indent) =>
    out.push(wrap(text, width, indent, first))

  line(s.bold(`flightrec analyze${options.path ? `: ${options.path}` : ''}`))
  para(
    `Node.js ${a.snapshot.node}, pid ${a.snapshot.pid}, level ${a.snapshot.level}; ` +
      `a ${duration(a.snapshot.windowMs)} window ending ${a.snapshot.endedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}.`,
    '',
  )
  line()
  line(s.bold('Trigger'))
  para(triggerText(a))
  para(
    `${plural(a.requests.total, 'request')} in the window, ${a.requests.slow} of them ` +
      `${duration(a.slowThresholdMs)} or slower${a.requests.inFlight ? `, ${a.requests.inFlight} still in flight` : ''}.`,
  )
  line()

  line(s.bold('Findings, ranked by latency explained'))
  if (a.requests.slow === 0) {
    para(
      `No slow request: nothing in this window took ${duration(a.slowThresholdMs)} or more.` +
        (a.findings.length > 0 ? ' What held the loop up:' : ''),
    )
  } else if (a.findings.length === 0) {
    para('Nothing in the snapshot explains the slow requests (see Notes).')
  }
  a.findings.forEach((f, i) => {
    line(findingHeading(f, i + 1, s))
    para(f.summary, '     ')
  })
  line()

  if (a.slowest.length > 0) {
    line(s.bold('Slowest requests'))
    for (const r of a.slowest) renderRequest(r, width, s, out)
    line()
  }

  line(s.bold('Event-loop stalls'))
  if (a.stalls.length === 0) para('None recorded.')
  for (const stall of a.stalls.slice(0, 5)) {
    const who = stall.culprit ? where(stall.culprit) : `native code (${stall.self ?? 'unknown'})`
    const self =
      stall.self && stall.culprit && stall.self !== stall.culprit.function
        ? `, most samples in ${stall.self}`
        : ''
    para(`${duration(stall.durationMs)} at ${at(stall.atMs)}: ${who}${self}.`, '    ', '  - ')
  }
  if (a.stalls.length > 5) para(`and ${a.stalls.length - 5} more.`, '    ')
  line()

  line(s.bold('GC'))
  para(
    `${plural(a.gc.count, 'pause')}, ${duration(a.gc.totalMs)} in all ` +
      `(${percent(a.gc.share)} of the window), the longest ${duration(a.gc.longestMs)}; ` +
      `${duration(a.gc.duringSlowMs)} inside slow requests.`,
  )
  line()

  if (a.counters.eventLoop.length > 0 || a.counters.memory.length > 0) {
    line(s.bold(a.trigger.atMs === null ? 'Counters at the end' : 'Counters around the trigger'))
    for (const c of a.counters.eventLoop) para(loopText(c), '    ', '  - ')
    for (const c of a.counters.memory) para(memoryText(c), '    ', '  - ')
    line()
  }

  if (a.notes.length > 0) {
    line(s.bold('Notes'))
    for (const note of a.notes) para(note, '    ', '  - ')
    line()
  }
  para(
    `To see it: open ${options.path ?? 'the snapshot'} in Perfetto UI (https://ui.perfetto.dev, "Open trace file").`,
    '',
  )
  return `${out.join('\n')}\n`
}

function triggerText(a: Analysis): string {
  const t = a.trigger
  const when = t.atMs === null ? '' : ` at ${at(t.atMs)}`
  if (t.method) {
    const took = t.durationMs === null ? '' : ` took ${duration(t.durationMs)}`
    return `${t.reason}: ${t.method} ${t.route ?? '?'}${took}${when}.`
  }
  if (t.stallMs !== null) return `${t.reason}: the loop stalled ${duration(t.stallMs)}${when}.`
  return `${t.reason}${when}.`
}

function findingHeading(f: Finding, n: number, s: Style): string {
  const colour = f.kind === 'blocked-loop' || f.kind === 'gc' ? s.red : s.yellow
  const who = f.requests > 0 ? `, ${plural(f.requests, 'request')}` : ''
  return ` ${String(n).padStart(2)}. ${colour(f.kind)}: ${duration(f.ms)}${who}`
}

function renderRequest(r: RequestReport, width: number, s: Style, out: string[]): void {
  const name = `${r.method} ${r.route ?? r.path}${r.status ? ` ${r.status}` : ''}`
  const state = r.inFlight ? ', still in flight' : ''
  out.push(
    wrap(
      `${s.cyan(name)}: ${duration(r.durationMs)} at ${at(r.atMs)}${state}; on CPU ${duration(r.onCpuMs)}, waiting ${duration(r.waitingMs)}.`,
      width,
      '    ',
      '  ',
    ),
  )
  for (const c of r.causes.slice(0, 3)) {
    out.push(wrap(`${duration(c.ms)} ${c.description}.`, width, '      ', '    - '))
  }
}

function loopText(c: CountersAt): string {
  const v = c.values
  const parts = [
    v.delayMaxMs !== undefined ? `loop delay up to ${duration(v.delayMaxMs)}` : '',
    v.utilization !== undefined ? `utilisation ${percent(v.utilization)}` : '',
    v.activeHandles !== undefined ? `${v.activeHandles} active handles` : '',
    v.inflightRequests !== undefined ? `${v.inflightRequests} HTTP requests in flight` : '',
  ].filter(Boolean)
  return `${at(c.atMs)}: ${parts.join(', ')}.`
}

function memoryText(c: CountersAt): string {
  const v = c.values
  const parts = [
    v.heapUsed !== undefined
      ? `heap ${bytes(v.heapUsed)} used${v.heapTotal !== undefined ? ` of ${bytes(v.heapTotal)}` : ''}`
      : '',
    v.rss !== undefined ? `rss ${bytes(v.rss)}` : '',
    v.external !== undefined ? `external ${bytes(v.external)}` : '',
  ].filter(Boolean)
  return `${at(c.atMs)}: ${parts.join(', ')}.`
}

function at(msAfterStart: number): string {
  return `+${(msAfterStart / 1000).toFixed(2)} s`
}
