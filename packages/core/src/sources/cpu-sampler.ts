import inspector from 'node:inspector'
import { nowMicros } from '../clock.ts'
import { BlobKind } from '../events.ts'
import type { Recording, Source } from '../recording.ts'

/**
 * V8's own console, whose profile/profileEnd reach the profiler whatever has
 * replaced `globalThis.console` (test runners and log libraries do; a
 * `new Console()` has no profile methods at all).
 */
const vmConsole = inspector.console as unknown as {
  profile(label: string): void
  profileEnd(label: string): void
}

/** The parts of a V8 `Profiler.Profile` the snapshot uses. */
export interface CpuProfile {
  nodes: Array<{
    id: number
    callFrame: {
      functionName: string
      url: string
      lineNumber: number
      columnNumber: number
      scriptId?: string
    }
    children?: number[]
    hitCount?: number
  }>
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/**
 * What the event loop ran: a V8 CPU sampler that never stops. One in-process
 * inspector session keeps the profiler on; every `profileWindow` ms the next
 * console profile is started *before* the previous one ends, so sampling never
 * pauses and V8 never re-logs its code (a stop/start costs 10-25 ms; a roll,
 * under 1 ms). Each finished window lands in the ring as a blob.
 *
 * Not guaranteed: if something else in the process drives the profiler (a
 * debugger, another console.profile user), windows may be cut short.
 */
export class CpuSamplerSource implements Source {
  readonly name = 'cpu-sampler'
  #rec: Recording
  #session: inspector.Session | undefined
  #timer: NodeJS.Timeout | undefined
  #title = ''
  #seq = 0

  constructor(rec: Recording) {
    this.#rec = rec
  }

  start(): void {
    const rec = this.#rec
    const session = new inspector.Session()
    session.connect()
    this.#session = session
    session.on(
      'Profiler.consoleProfileFinished',
      rec.guard(this, (message: { params: { title?: string; profile: CpuProfile } }) => {
        const { title, profile } = message.params
        if (!title?.startsWith('flightrec-')) return
        const ts = nowMicros()
        rec
          .segment(ts)
          .addBlob({ kind: BlobKind.CpuProfile, ts, data: profile, bytes: profileBytes(profile) })
      }),
    )
    session.post('Profiler.enable')
    session.post('Profiler.setSamplingInterval', { interval: rec.options.samplingInterval })
    this.#title = this.#nextTitle()
    vmConsole.profile(this.#title)
    this.#timer = setInterval(
      rec.guard(this, () => this.roll()),
      rec.options.profileWindow,
    )
    this.#timer.unref()
  }

  /** Ends the current window (it lands in the ring synchronously) and keeps sampling into a new one. */
  roll(): void {
    if (!this.#session) return
    const previous = this.#title
    this.#title = this.#nextTitle()
    vmConsole.profile(this.#title)
    vmConsole.profileEnd(previous)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    const session = this.#session
    if (!session) return
    this.#session = undefined
    try {
      vmConsole.profileEnd(this.#title)
      session.post('Profiler.disable')
    } finally {
      session.disconnect()
    }
  }

  #nextTitle(): string {
    return `flightrec-${process.pid}-${++this.#seq}`
  }
}

function profileBytes(profile: CpuProfile): number {
  let bytes = 64 + profile.samples.length * 16
  for (const node of profile.nodes) {
    bytes += 96 + node.callFrame.functionName.length * 2 + node.callFrame.url.length * 2
  }
  return bytes
}
