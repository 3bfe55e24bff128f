import type { Writable } from 'node:stream'
import { setImmediate as checkTurn, setTimeout as timersTurn } from 'node:timers/promises'
import { active } from './active.ts'
import { nowMicros, toEpochMillis } from './clock.ts'
import { channels } from './diagnostics.ts'
import { ErrorCodes, FlightRecorderError, InvalidOptionTypeError } from './errors.ts'
import { EventKind } from './events.ts'
import { ErrorReporter } from './logger.ts'
import {
  type FlightRecorderOptions,
  type ResolvedRecorderOptions,
  resolveRecorderOptions,
} from './options.ts'
import { asyncContextFrameEnabled, RecordingState, type Source } from './recording.ts'
import { pathOf } from './redact.ts'
import { Ring } from './ring/ring.ts'
import { stoppedError } from './snapshot/stream-writer.ts'
import type { SnapshotTrigger } from './snapshot/trace-format.ts'
import { writeSnapshot } from './snapshot/write.ts'
import { CausalSource } from './sources/causal.ts'
import { CounterSource } from './sources/counters.ts'
import { CpuSamplerSource } from './sources/cpu-sampler.ts'
import { GcSource } from './sources/gc.ts'
import { HttpClientSource } from './sources/http-client.ts'
import { HttpServerSource } from './sources/http-server.ts'
import { StallSource } from './sources/stalls.ts'

/** Extra facts a snapshot's metadata records about why it was taken. */
export type { SnapshotTrigger }

/**
 * FlightRecorder keeps the last seconds of what this Node.js process did in
 * memory, and writes that window as a trace on demand: Go's
 * `runtime/trace.FlightRecorder`, for Node.js. One recorder may run per
 * process at a time.
 *
 * It records HTTP requests served and made, what the event loop ran (a CPU
 * sampler that never stops), loop stalls, GC pauses, counters, and user
 * annotations and logs; at the `'causal'` level also which async context
 * resolved the promise each continuation waited on.
 *
 * Configuration is fixed at construction (see {@link FlightRecorderOptions},
 * defaults in {@link recorderDefaults}): `minAge` (default 10 000 ms) is a
 * lower bound on the history kept, `maxBytes` (default 10 MiB) an upper
 * bound on the window's size, and `maxBytes` wins. Both are hints, as in Go:
 * the window is trimmed a segment (about a second) at a time, so it may hold
 * slightly older events and overshoot `maxBytes` by about one segment; at
 * least one segment is always kept.
 *
 * Not guaranteed: events of the second before `stop()` or a failing source
 * may be missing; attribution of annotations and outgoing calls to requests
 * needs Node.js >= 24 (or 22 with `--experimental-async-context-frame`).
 *
 * @example
 * import { createWriteStream } from 'node:fs'
 * import { FlightRecorder } from '@flightrec/core'
 *
 * const recorder = new FlightRecorder({ minAge: 10_000, maxBytes: 10 * 1024 * 1024 })
 * recorder.start()
 * // ... later, when something went wrong:
 * const bytes = await recorder.writeTo(createWriteStream('snapshot.json'))
 */
export class FlightRecorder {
  readonly options: ResolvedRecorderOptions
  #errors: ErrorReporter
  #state: RecordingState | undefined
  #sources: Source[] = []
  #causal: CausalSource | undefined
  #causalTimer: NodeJS.Timeout | undefined
  #sampler: CpuSamplerSource | undefined
  /** The write in progress, if any (cleared by stop(), which aborts it). */
  #write: object | undefined
  /** Aborted by stop(): a write of the stopped window rejects at once. */
  #stopSignal: AbortController | undefined
  #startedAt = 0

  constructor(options?: FlightRecorderOptions) {
    this.options = resolveRecorderOptions(options)
    this.#errors = new ErrorReporter(this.options.logger)
  }

  /**
   * True between a successful {@link start} and {@link stop} (Go: `Enabled`).
   *
   * @example
   * if (!recorder.enabled) recorder.start()
   */
  get enabled(): boolean {
    return this.#state !== undefined
  }

  /**
   * The recorder's own failures so far, counted per code (each code was
   * logged once, to `logger` or as a process warning). Kept across stop/start.
   *
   * @example
   * recorder.errorCounts // { ERR_FLIGHTREC_SINK_FAILED: 2 }
   */
  get errorCounts(): Record<string, number> {
    return this.#errors.toJSON()
  }

  /**
   * Bytes the window accounts for now: events, interned strings and CPU
   * profiles, the segment being written included (0 when stopped). What the
   * process's heap holds for it is of the same order, not exactly this.
   *
   * @example
   * console.log(`window: ${(recorder.windowBytes / 1024).toFixed(0)} KiB`)
   */
  get windowBytes(): number {
    return this.#state?.ring.bytes ?? 0
  }

  /**
   * Starts recording (Go: `Start`). Throws `ERR_FLIGHTREC_ALREADY_STARTED` if
   * this recorder runs, `ERR_FLIGHTREC_ANOTHER_ACTIVE` if another one does.
   * A source that cannot start (e.g. the inspector under `--permission`) is
   * reported once and the others record.
   *
   * Call it at boot: starting V8's CPU profiler blocks the event loop for
   * 10-60 ms (longer in large applications), once.
   *
   * @example
   * const recorder = new FlightRecorder()
   * recorder.start()
   */
  start(): void {
    if (this.#state) {
      throw new FlightRecorderError(ErrorCodes.ALREADY_STARTED, 'flight recorder already started')
    }
    if (active.owner) {
      throw new FlightRecorderError(
        ErrorCodes.ANOTHER_ACTIVE,
        'another flight recorder is active in this process',
      )
    }
    const o = this.options
    const ring = new Ring({ minAgeMicros: o.minAge * 1000, maxBytes: o.maxBytes })
    const state = new RecordingState(o, ring, this.#errors)
    const causal = o.level === 'causal'
    state.attribute = causal || asyncContextFrameEnabled()
    this.#state = state
    this.#startedAt = nowMicros()
    this.#stopSignal = new AbortController()
    active.recording = state
    active.owner = this
    this.#sampler = new CpuSamplerSource(state)
    this.#causal = new CausalSource(state)
    this.#sources = [
      new HttpServerSource(state),
      new HttpClientSource(state),
      this.#sampler,
      new StallSource(state),
      new GcSource(state),
      new CounterSource(state),
    ]
    if (causal) this.#sources.push(this.#causal)
    for (const source of this.#sources) {
      try {
        source.start()
      } catch (err) {
        this.#errors.report(
          ErrorCodes.SOURCE_FAILED,
          `source '${source.name}' could not start`,
          err,
        )
      }
    }
  }

  /**
   * Stops recording and drops the window (Go: `Stop`). Harmless if not
   * started; the recorder can be started again. A writeTo in progress rejects
   * at once with `ERR_FLIGHTREC_STOPPED_DURING_WRITE` (Go's Stop waits for it
   * instead; JavaScript cannot block).
   *
   * @example
   * process.on('SIGTERM', () => recorder.stop())
   */
  stop(): void {
    const state = this.#state
    if (!state) return
    clearTimeout(this.#causalTimer)
    this.#causalTimer = undefined
    for (const source of [...this.#sources, this.#causal]) {
      try {
        source?.stop()
      } catch (err) {
        this.#errors.report(
          ErrorCodes.SOURCE_FAILED,
          `source '${source?.name}' could not stop`,
          err,
        )
      }
    }
    this.#sources = []
    this.#causal = undefined
    this.#sampler = undefined
    state.ring.clear()
    this.#state = undefined
    this.#write = undefined
    this.#stopSignal?.abort()
    this.#stopSignal = undefined
    if (active.owner === this) {
      active.owner = undefined
      active.recording = undefined
    }
  }

  /**
   * Records that something went wrong (a global instant in the trace, with
   * the request's method and route or path, query stripped unless allowed),
   * and, if `causalAfterTrigger` is set, records at the causal level for that
   * long. Adapters call it before writing a snapshot; call it yourself when
   * you decide to snapshot by hand. A no-op when not recording.
   *
   * @example
   * recorder.markTrigger({ reason: 'slow-request', request: { method: 'GET', path: '/report', durationMs: 950 } })
   */
  markTrigger(trigger: SnapshotTrigger): void {
    const state = this.#state
    if (!state) return
    const ts = nowMicros()
    const seg = state.segment(ts)
    const s = seg.strings
    const req = trigger.request
    seg.push(
      EventKind.Trigger,
      ts,
      s.intern(trigger.reason),
      req?.id ?? -1,
      req?.durationMs !== undefined ? req.durationMs * 1000 : -1,
      req
        ? s.intern(
            `${req.method} ${req.route ?? pathOf(req.path ?? '', this.options.allow.queryString)}`,
          )
        : -1,
    )
    if (channels.trigger.hasSubscribers) channels.trigger.publish(trigger)
    const ms = this.options.causalAfterTrigger
    if (ms > 0 && this.options.level !== 'causal' && !this.#causalTimer && this.#causal) {
      const causal = this.#causal
      try {
        causal.start()
        state.attribute = true
      } catch (err) {
        this.#errors.report(ErrorCodes.SOURCE_FAILED, "source 'causal' could not start", err)
        return
      }
      this.#causalTimer = setTimeout(() => {
        this.#causalTimer = undefined
        causal.stop()
        state.attribute = asyncContextFrameEnabled()
      }, ms)
      this.#causalTimer.unref()
    }
  }

  /**
   * Writes the window, up to now, to `stream` as Chrome Trace Event JSON (opens
   * in Perfetto UI and chrome://tracing) and resolves with the bytes written.
   * The window is not consumed: call again, get it again. The stream is not
   * ended. The CPU profile is rolled at once, so the samples up to the call
   * are in; the window is sealed (no copy) on the next turn of the timers,
   * once that turn's immediates ran, so a loop stall or GC pause that ended
   * just before the call, and is recorded only then, is in it too. The
   * encoding runs in a worker thread; the main thread's share of the work
   * comes about a millisecond per turn of the event loop, which keeps
   * serving meanwhile (not guaranteed: the roll, in the calling turn, takes
   * longer when the profile window holds many distinct functions).
   *
   * Rejects with `ERR_FLIGHTREC_NOT_ENABLED` when not recording; at once with
   * `ERR_FLIGHTREC_WRITE_IN_PROGRESS` (and `bytesWritten` 0) while another
   * writeTo of this recorder runs (use that call's result, as in Go); with
   * `ERR_FLIGHTREC_STOPPED_DURING_WRITE` if {@link stop} is called meanwhile;
   * with `ERR_FLIGHTREC_SINK_FAILED` (and the partial `bytesWritten`) if the
   * stream fails. Never throws synchronously.
   *
   * @example
   * const bytes = await recorder.writeTo(createWriteStream('/tmp/snapshot.json'))
   */
  async writeTo(
    stream: Writable | NodeJS.WritableStream,
    trigger?: SnapshotTrigger,
  ): Promise<number> {
    const state = this.#state
    const stopSignal = this.#stopSignal
    if (!state || !stopSignal) {
      throw Object.assign(
        new FlightRecorderError(ErrorCodes.NOT_ENABLED, 'flight recorder is not enabled'),
        { bytesWritten: 0 },
      )
    }
    if (this.#write) {
      throw Object.assign(
        new FlightRecorderError(
          ErrorCodes.WRITE_IN_PROGRESS,
          'a snapshot is already being written',
        ),
        { bytesWritten: 0 },
      )
    }
    if (stream === null || typeof stream !== 'object' || typeof stream.write !== 'function') {
      throw Object.assign(new InvalidOptionTypeError('stream must be a writable stream'), {
        bytesWritten: 0,
      })
    }
    const write = {}
    this.#write = write
    try {
      try {
        this.#sampler?.roll()
      } catch (err) {
        this.#errors.report(ErrorCodes.SOURCE_FAILED, 'could not roll the CPU profile', err)
      }
      await timersTurn(0)
      await checkTurn()
      if (stopSignal.signal.aborted) throw Object.assign(stoppedError(), { bytesWritten: 0 })
      const end = nowMicros()
      const segments = state.ring.seal(end)
      const start = performance.now()
      const safeTrigger = trigger && redactTrigger(trigger, this.options.allow.queryString)
      const bytes = await writeSnapshot(stream, segments, {
        options: this.options,
        startMicros: Math.max(this.#startedAt, segments[0]?.startTs ?? end),
        endMicros: end,
        epochMillisAtEnd: toEpochMillis(end),
        level: state.attribute && this.#causalTimer ? 'causal' : this.options.level,
        trigger: safeTrigger,
        errors: this.#errors.toJSON(),
        signal: stopSignal.signal,
        report: (code, message, err) => this.#errors.report(code, message, err),
      })
      if (channels.snapshotWritten.hasSubscribers) {
        channels.snapshotWritten.publish({
          bytes,
          reason: trigger?.reason ?? 'writeTo',
          durationMs: performance.now() - start,
        })
      }
      return bytes
    } finally {
      if (this.#write === write) this.#write = undefined
    }
  }
}

/** The trigger as the snapshot may show it: the request's path without its query unless allowed. */
function redactTrigger(trigger: SnapshotTrigger, keepQuery: boolean): SnapshotTrigger {
  const path = trigger.request?.path
  if (path === undefined || keepQuery) return trigger
  return {
    ...trigger,
    request: { ...trigger.request, path: pathOf(path, false) },
  } as SnapshotTrigger
}
