import type { IncomingMessage, ServerResponse } from 'node:http'
import { channels, type StallMessage } from '../diagnostics.ts'
import { ErrorCodes, FlightRecorderError } from '../errors.ts'
import { ErrorReporter, type Logger } from '../logger.ts'
import type { FlightRecorder } from '../recorder.ts'
import { pathOf } from '../redact.ts'
import {
  describeRequest,
  markRequestError,
  type RequestDescription,
  requestIdOf,
} from '../requests.ts'
import type { SnapshotTrigger } from '../snapshot/trace-format.ts'
import {
  type CaptureOptions,
  type ResolvedCaptureOptions,
  resolveCaptureOptions,
} from './options.ts'
import { TriggerPolicy } from './policy.ts'
import {
  attachToProcessRecorder,
  detachFromProcessRecorder,
  type ProcessRecorderSlot,
  type RecorderUser,
  settleProcessRecorder,
} from './process-recorder.ts'
import { type SinkResult, writeSnapshotTo } from './sink.ts'
import type { CaptureResult, CaptureStats, TimedRequest } from './types.ts'

/** What an adapter tells {@link SnapshotCapture} about itself. */
export interface AdapterInfo<Subject> {
  /** e.g. 'express'; recorded on every request. */
  framework: string
  /** The framework's own logger, used when the user gives none (fastify's `fastify.log`). */
  logger?: Logger
  /** A framework-level opt-out (fastify's route `config: { flightRecorder: false }`). */
  optedOut?: (subject: Subject) => boolean
}

const kObservation = Symbol('flightrec.capture')

interface Observation {
  start: number
  url: string
  errored: boolean
}

type Observed = IncomingMessage & { [kObservation]?: Observation; originalUrl?: string }

/**
 * Marks a request as errored, for the trigger policy (`TimedRequest.errored`)
 * and in the trace (its error's class name or code, never the message). Only
 * the first error of a request is recorded. For adapters: call it wherever the
 * framework reveals a handler's error. Safe anywhere; never throws.
 *
 * @example
 * fastify.addHook('onError', (request, reply, error, done) => {
 *   markRequestFailed(request.raw, error)
 *   done()
 * })
 */
export function markRequestFailed(req: IncomingMessage, err: unknown): void {
  const observation = (req as Observed)[kObservation]
  if (observation) {
    if (observation.errored) return
    observation.errored = true
  }
  try {
    markRequestError(req, err)
  } catch {
    // Recording an error must never become one.
  }
}

/**
 * SnapshotCapture times requests and, when one is slow, captures a snapshot of
 * the process recorder's window: the machinery behind `@flightrec/express`,
 * `@flightrec/fastify` and `@flightrec/koa` (each adapter instance is one
 * SnapshotCapture), usable directly with `node:http`.
 *
 * - The recorder is shared by every capture in the process: the first capture
 *   creates and starts it (`minAge` max(10 s, 2 x threshold), `maxBytes`
 *   10 MiB), or adopts the `recorder` given or the one already active; later
 *   captures' `minAge`/`maxBytes` are ignored with a warning (first one wins).
 * - Each capture keeps its own policy: `threshold`/`trigger`, `ignore`,
 *   `maxSnapshots` (default 1: once), `cooldown`, `eventLoopStall`, sink and logger.
 * - One snapshot is captured at a time in the process: triggers from any
 *   capture while one is being written are not captured but counted
 *   (`stats.suppressed`; in its `metadata.trigger.suppressed` if they came
 *   before its encoding started).
 * - A snapshot is decided when the response has finished (or was aborted) and
 *   written on a later turn of the event loop, by `writeTo`; no request waits for
 *   it. Failures are logged once per error code and counted, never thrown into
 *   a request; a failed snapshot does not use up `maxSnapshots`.
 * - Once every capture has used its last snapshot, a recorder created here is
 *   stopped, unless one of them has `keepRecording`.
 *
 * Not guaranteed: a trigger is seen only once its request ends, so a request
 * that never ends never triggers (`eventLoopStall` catches a blocked loop).
 *
 * @example
 * import { createServer } from 'node:http'
 * import { SnapshotCapture } from '@flightrec/core'
 *
 * const capture = new SnapshotCapture({ threshold: 100 }, { framework: 'node:http' })
 * createServer((req, res) => {
 *   capture.observe(req, res)
 *   res.end('ok')
 * }).listen(3000)
 */
export class SnapshotCapture<Subject = IncomingMessage> {
  /** The framework recorded on every request this capture times. */
  readonly framework: string
  #options: ResolvedCaptureOptions<Subject>
  #errors: ErrorReporter
  #policy: TriggerPolicy<Subject>
  #slot: ProcessRecorderSlot | undefined
  #closed = false
  #pending: Promise<unknown> | undefined
  #unsubscribeStall: (() => void) | undefined
  #stats: CaptureStats = { requests: 0, snapshots: 0, suppressed: 0, skipped: 0, failed: 0 }
  #user: RecorderUser

  /**
   * Validates `options` (a TypeError or RangeError naming the option; a number
   * is shorthand for `{ threshold }`) and starts the process recorder if it is
   * not running. Throws ERR_FLIGHTREC_ANOTHER_ACTIVE if `options.recorder`
   * differs from the recorder the process already shares.
   */
  constructor(
    options: CaptureOptions<Subject> | number | undefined,
    adapter: AdapterInfo<Subject>,
  ) {
    this.framework = adapter.framework
    this.#options = resolveCaptureOptions(options, adapter.logger)
    this.#errors = new ErrorReporter(this.#options.logger)
    this.#policy = new TriggerPolicy(this.#options, adapter.optedOut, this.#errors)
    const capture = this
    this.#user = {
      get wantsRecording() {
        return capture.#wantsRecording
      },
      detach() {
        capture.#detach()
      },
    }
    const { recorderOptions } = this.#options
    this.#slot = attachToProcessRecorder(this.#user, {
      recorder: this.#options.recorder,
      minAge: recorderOptions.minAge,
      maxBytes: recorderOptions.maxBytes,
      logger: this.#options.logger,
    })
    const recorder = this.#slot.recorder
    try {
      if (!recorder.enabled) recorder.start()
    } catch (err) {
      const code = (err as { code?: unknown })?.code
      this.#errors.report(
        isFlightrecCode(code) ? code : ErrorCodes.SOURCE_FAILED,
        'could not start the flight recorder',
        err,
      )
    }
    const ignored = recorderOptions.explicit.filter(
      (name) => recorder.options[name] !== recorderOptions[name],
    )
    if (ignored.length > 0) this.#warnIgnored(ignored, recorder)
    if (this.#options.eventLoopStall !== undefined) this.#watchStalls(this.#options.eventLoopStall)
  }

  /** The process recorder this capture shares; undefined once reset. */
  get recorder(): FlightRecorder | undefined {
    return this.#slot?.recorder
  }

  /** This capture's counters so far (a copy). */
  get stats(): CaptureStats {
    return { ...this.#stats }
  }

  /**
   * Starts timing a request: call it from the framework's first hook. The
   * request ends at the response's 'close' (finished, or aborted when it had
   * not finished); then `describe()` adds the route template and handler name
   * to its record, and the policy decides whether it triggers a snapshot.
   * `subject` is what `ignore` receives (default: `req`). Returns whether this
   * capture times the request: not when another capture already does (two
   * adapters on one request), nor once this capture may capture no more and
   * does not keep recording, nor while the recorder is stopped.
   */
  observe(
    req: IncomingMessage,
    res: ServerResponse,
    subject: Subject = req as Subject,
    describe?: () => RequestDescription,
  ): boolean {
    if (!this.#wantsRecording || !this.#slot?.recorder.enabled) return false
    const observed = req as Observed
    if (observed[kObservation]) return false
    const observation: Observation = {
      start: performance.now(),
      url: observed.originalUrl ?? req.url ?? '/',
      errored: false,
    }
    observed[kObservation] = observation
    res.once('close', () => this.#ended(req, res, observation, subject, describe))
    return true
  }

  /**
   * Captures a snapshot now, by hand, through this capture's sink (`dir`
   * and/or `onSnapshot`), outside `maxSnapshots` and `cooldown`. Rejects with
   * ERR_FLIGHTREC_WRITE_IN_PROGRESS while another snapshot is being captured
   * in the process, with ERR_FLIGHTREC_NOT_ENABLED when the recorder is not
   * running (after the last allowed snapshot, unless `keepRecording`), and with
   * the sink's error if writing fails.
   *
   * @example
   * const { path } = await fastify.flightRecorder.snapshot()
   */
  async snapshot(reason = 'manual'): Promise<CaptureResult> {
    const slot = this.#slot
    if (this.#closed || !slot) {
      throw new FlightRecorderError(
        ErrorCodes.NOT_ENABLED,
        'this flight recorder capture is closed',
      )
    }
    if (slot.inFlight) {
      throw new FlightRecorderError(
        ErrorCodes.WRITE_IN_PROGRESS,
        'a snapshot is already being written',
      )
    }
    const trigger: SnapshotTrigger = { reason: String(reason), suppressed: 0 }
    const written = this.#write(slot, trigger)
    const done = written.then(
      () => {},
      () => {
        this.#stats.failed++
      },
    )
    slot.inFlight = { trigger, done }
    this.#pending = done
    try {
      return await written
    } finally {
      if (slot.inFlight?.trigger === trigger) slot.inFlight = undefined
      settleProcessRecorder()
    }
  }

  /**
   * Stops this capture: no more timing or triggers; waits for a snapshot it is
   * writing; detaches from the process recorder, which stops if it was created
   * by the adapters and no other capture wants it. The fastify plugin calls it
   * on `onClose`.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribeStall?.()
    await this.#pending
    detachFromProcessRecorder(this.#user)
    this.#slot = undefined
  }

  get #wantsRecording(): boolean {
    return !this.#closed && (this.#policy.hasBudget || this.#options.keepRecording)
  }

  #ended(
    req: IncomingMessage,
    res: ServerResponse,
    observation: Observation,
    subject: Subject,
    describe: (() => RequestDescription) | undefined,
  ): void {
    const durationMs = round3(performance.now() - observation.start)
    this.#stats.requests++
    let description: RequestDescription = {}
    try {
      description = describe?.() ?? {}
      describeRequest(req, {
        framework: this.framework,
        route: description.route,
        handler: description.handler,
      })
    } catch (err) {
      this.#errors.report(
        ErrorCodes.SOURCE_FAILED,
        `the ${this.framework} adapter could not describe a request`,
        err,
      )
    }
    const slot = this.#slot
    if (this.#closed || !slot) return
    const request: TimedRequest = {
      requestId: requestIdOf(req),
      framework: this.framework,
      method: req.method ?? 'GET',
      route: description.route,
      path: pathOf(observation.url, slot.recorder.options.allow.queryString),
      status: res.statusCode,
      durationMs,
      aborted: !res.writableFinished,
      errored: observation.errored,
    }
    if (!this.#policy.triggers(request, subject)) return
    this.#fire(slot, {
      reason: 'slow-request',
      request: {
        id: request.requestId >= 0 ? request.requestId : undefined,
        method: request.method,
        route: request.route,
        path: request.path,
        durationMs,
        status: request.status,
      },
    })
  }

  /** Captures a snapshot for `trigger` on a later turn, if the process and the budget allow. */
  #fire(slot: ProcessRecorderSlot, trigger: SnapshotTrigger): void {
    const inFlight = slot.inFlight
    if (inFlight) {
      inFlight.trigger.suppressed = (inFlight.trigger.suppressed ?? 0) + 1
      this.#stats.suppressed++
      return
    }
    const now = performance.now()
    if (!this.#policy.allows(now)) {
      this.#stats.skipped++
      return
    }
    this.#policy.take(now)
    trigger.suppressed = 0
    const done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#write(slot, trigger))
      .then(
        () => {},
        (err: unknown) => {
          this.#policy.refund()
          this.#stats.failed++
          const code = (err as { code?: unknown })?.code
          this.#errors.report(
            isFlightrecCode(code) ? code : ErrorCodes.SINK_FAILED,
            `could not write a snapshot${this.#options.dir ? ` to ${this.#options.dir}` : ''}`,
            err,
          )
        },
      )
      .finally(() => {
        if (slot.inFlight?.trigger === trigger) slot.inFlight = undefined
        settleProcessRecorder()
      })
    slot.inFlight = { trigger, done }
    this.#pending = done
  }

  /** Marks the trigger in the window, writes it to the sink, logs, hands it to `onSnapshot`. */
  async #write(slot: ProcessRecorderSlot, trigger: SnapshotTrigger): Promise<CaptureResult> {
    const recorder = slot.recorder
    if (!recorder.enabled) {
      throw new FlightRecorderError(ErrorCodes.NOT_ENABLED, 'flight recorder is not enabled')
    }
    recorder.markTrigger(trigger)
    const { onSnapshot, dir } = this.#options
    const result = await writeSnapshotTo(recorder, trigger, {
      dir,
      keepBytes: onSnapshot !== undefined,
    })
    this.#stats.snapshots++
    this.#logCaptured(result, trigger)
    if (onSnapshot && result.bytes) {
      const snapshot = {
        path: result.path,
        bytes: result.bytes,
        reason: trigger.reason,
        request: trigger.request,
      }
      // Not awaited: a slow or hanging callback must not hold up later snapshots.
      Promise.resolve()
        .then(() => onSnapshot(snapshot))
        .catch((err: unknown) => {
          this.#errors.report(ErrorCodes.CALLBACK_FAILED, "the 'onSnapshot' option failed", err)
        })
    }
    return {
      path: result.path,
      size: result.size,
      reason: trigger.reason,
      request: trigger.request,
    }
  }

  #logCaptured(result: SinkResult, trigger: SnapshotTrigger): void {
    const logger = this.#options.logger
    if (!logger?.info) return
    const request = trigger.request
    try {
      logger.info(
        {
          snapshot: result.path,
          bytes: result.size,
          reason: trigger.reason,
          method: request?.method,
          route: request?.route ?? request?.path,
          durationMs: request?.durationMs,
          requestId: request?.id,
          stallMs: trigger.stallMs,
        },
        result.path
          ? `captured a flight recorder snapshot to ${result.path}`
          : `captured a flight recorder snapshot (${result.size} bytes)`,
      )
    } catch {
      // A broken logger must not break the capture.
    }
  }

  #watchStalls(minimumMs: number): void {
    const onStall = (message: unknown) => {
      const slot = this.#slot
      const stallMs = (message as StallMessage).durationMs
      if (!slot || !this.#wantsRecording || !(stallMs >= minimumMs)) return
      try {
        this.#fire(slot, { reason: 'event-loop-stall', stallMs: round3(stallMs) })
      } catch (err) {
        this.#errors.report(ErrorCodes.SOURCE_FAILED, 'the event loop stall trigger failed', err)
      }
    }
    channels.stall.subscribe(onStall)
    this.#unsubscribeStall = () => channels.stall.unsubscribe(onStall)
  }

  #warnIgnored(ignored: string[], recorder: FlightRecorder): void {
    const message = `flightrec: the process recorder already runs (minAge ${recorder.options.minAge} ms, maxBytes ${recorder.options.maxBytes}); this ${this.framework} adapter's ${ignored.join(' and ')} ignored: the first one wins`
    try {
      const logger = this.#options.logger
      if (logger) logger.warn({ ignored }, message)
      else process.emitWarning(message, 'FlightRecorderWarning')
    } catch {
      // A broken logger must not break the host.
    }
  }

  #detach(): void {
    this.#closed = true
    this.#unsubscribeStall?.()
    this.#slot = undefined
  }
}

const codes = new Set<unknown>(Object.values(ErrorCodes))

function isFlightrecCode(code: unknown): code is (typeof ErrorCodes)[keyof typeof ErrorCodes] {
  return codes.has(code)
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
