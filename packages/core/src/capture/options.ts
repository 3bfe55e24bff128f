import { resolve } from 'node:path'
import { InvalidOptionTypeError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { FlightRecorder } from '../recorder.ts'
import {
  checkBoolean,
  checkFunction,
  checkKnownKeys,
  checkNumber,
  checkObject,
  checkString,
} from '../validate.ts'
import type { CapturedSnapshot, TimedRequest } from './types.ts'

/**
 * Options shared by every framework adapter (`@flightrec/express`,
 * `@flightrec/fastify`, `@flightrec/koa`) and by {@link SnapshotCapture}.
 * `Subject` is what the framework hands `ignore`: express's `req`, fastify's
 * `request`, koa's `ctx`. A number is shorthand for `{ threshold }`.
 * Every default is in {@link captureDefaults}.
 */
export interface CaptureOptions<Subject = unknown> {
  /** A request slower than this many ms triggers a snapshot. Default 100. */
  threshold?: number
  /**
   * Decides instead of the threshold test whether a finished request triggers
   * a snapshot. Called once per request, after the response finished or was
   * aborted; a throw counts as false (logged once). Default: `durationMs > threshold`.
   */
  trigger?: (request: TimedRequest) => boolean
  /**
   * Requests for which this returns true never trigger (they are still
   * recorded). Called only for requests that would trigger. Default: none ignored.
   */
  ignore?: (subject: Subject) => boolean
  /** How many snapshots this adapter may capture; `Infinity` for no limit. Default 1 (once, as Go's `sync.Once`). */
  maxSnapshots?: number
  /** Minimum ms between two snapshots' triggers. Default 0. */
  cooldown?: number
  /**
   * Also trigger when the event loop was blocked for at least this many ms.
   * Default: off. Stalls shorter than the recorder's `stallThreshold` (50 ms) are not seen.
   */
  eventLoopStall?: number
  /** Keep recording after the last allowed snapshot. Default false: the recorder stops then. */
  keepRecording?: boolean
  /**
   * Directory of snapshot files, created if missing; resolved against the
   * working directory at construction. Default: the working directory, unless
   * `onSnapshot` is given (then no file is written unless `dir` is set too).
   */
  dir?: string
  /**
   * Receives every snapshot captured by a trigger or by `snapshot()`, after the
   * file (if any) was written. Awaited off the request path; a throw or
   * rejection is logged once. Default: none.
   */
  onSnapshot?: (snapshot: CapturedSnapshot) => void | Promise<void>
  /**
   * pino-compatible logger for the capture line and errors. Default: fastify's
   * `fastify.log` in the fastify plugin; otherwise none (errors become process
   * warnings, captures are not logged).
   */
  logger?: Logger
  /** `minAge` of the process recorder, if this call creates it. Default max(10 000, 2 x threshold) ms. */
  minAge?: number
  /** `maxBytes` of the process recorder, if this call creates it. Default 10 MiB. */
  maxBytes?: number
  /**
   * Use this recorder as the process recorder (started if not running; never
   * stopped by the adapter). Default: the recorder already active in the
   * process, else a new one.
   */
  recorder?: FlightRecorder
}

/** Every default of {@link CaptureOptions}, in one place. */
export const captureDefaults = Object.freeze({
  threshold: 100,
  maxSnapshots: 1,
  cooldown: 0,
  keepRecording: false,
  /** The recorder's `minAge` is at least this, and at least twice the threshold. */
  minAge: 10_000,
  maxBytes: 10 * 1024 * 1024,
})

/** {@link CaptureOptions} validated, with defaults filled in. */
export interface ResolvedCaptureOptions<Subject> {
  threshold: number
  trigger: ((request: TimedRequest) => boolean) | undefined
  ignore: ((subject: Subject) => boolean) | undefined
  maxSnapshots: number
  cooldown: number
  eventLoopStall: number | undefined
  keepRecording: boolean
  /** Absolute; undefined when only `onSnapshot` receives snapshots. */
  dir: string | undefined
  onSnapshot: ((snapshot: CapturedSnapshot) => void | Promise<void>) | undefined
  logger: Logger | undefined
  /** What this call would create the process recorder with; `explicit` lists the ones given. */
  recorderOptions: { minAge: number; maxBytes: number; explicit: Array<'minAge' | 'maxBytes'> }
  recorder: FlightRecorder | undefined
}

const KNOWN = [
  'threshold',
  'trigger',
  'ignore',
  'maxSnapshots',
  'cooldown',
  'eventLoopStall',
  'keepRecording',
  'dir',
  'onSnapshot',
  'logger',
  'minAge',
  'maxBytes',
  'recorder',
] as const

/**
 * Validates capture options at construction (a TypeError for a wrong type, a
 * RangeError for a value out of range, both naming the option) and fills in
 * defaults. `defaultLogger` is the adapter's own (fastify's `fastify.log`).
 */
export function resolveCaptureOptions<Subject>(
  input: CaptureOptions<Subject> | number | undefined,
  defaultLogger?: Logger,
): ResolvedCaptureOptions<Subject> {
  if (input === null)
    throw new InvalidOptionTypeError('options must be an object or a number, received null')
  const o: CaptureOptions<Subject> =
    typeof input === 'number' ? { threshold: input } : (input ?? {})
  checkObject(o, 'options')
  checkKnownKeys(o, KNOWN, 'flightRecorder')
  checkNumber(o.threshold, 'threshold', { min: 0, unit: 'ms' })
  checkFunction(o.trigger, 'trigger')
  checkFunction(o.ignore, 'ignore')
  if (o.maxSnapshots !== Number.POSITIVE_INFINITY) {
    checkNumber(o.maxSnapshots, 'maxSnapshots', { min: 1, integer: true })
  }
  checkNumber(o.cooldown, 'cooldown', { min: 0, unit: 'ms' })
  checkNumber(o.eventLoopStall, 'eventLoopStall', { min: 1, unit: 'ms' })
  checkBoolean(o.keepRecording, 'keepRecording')
  checkString(o.dir, 'dir')
  if (o.dir?.includes('\0')) throw new InvalidOptionTypeError('dir must not contain a NUL byte')
  checkFunction(o.onSnapshot, 'onSnapshot')
  checkObject(o.logger, 'logger')
  if (o.logger) {
    checkFunction(o.logger.info, 'logger.info')
    // Both are required of a logger (`?? null`: missing is not "use the default" here).
    checkFunction(o.logger.warn ?? null, 'logger.warn')
    checkFunction(o.logger.error ?? null, 'logger.error')
  }
  checkNumber(o.minAge, 'minAge', { min: 0, unit: 'ms' })
  checkNumber(o.maxBytes, 'maxBytes', { min: 16 * 1024, integer: true, unit: 'bytes' })
  if (o.recorder !== undefined && !(o.recorder instanceof FlightRecorder)) {
    throw new InvalidOptionTypeError('recorder must be a FlightRecorder')
  }
  const d = captureDefaults
  const threshold = o.threshold ?? d.threshold
  const explicit: Array<'minAge' | 'maxBytes'> = []
  if (o.minAge !== undefined) explicit.push('minAge')
  if (o.maxBytes !== undefined) explicit.push('maxBytes')
  return {
    threshold,
    trigger: o.trigger,
    ignore: o.ignore,
    maxSnapshots: o.maxSnapshots ?? d.maxSnapshots,
    cooldown: o.cooldown ?? d.cooldown,
    eventLoopStall: o.eventLoopStall,
    keepRecording: o.keepRecording ?? d.keepRecording,
    dir:
      o.dir !== undefined ? resolve(o.dir) : o.onSnapshot === undefined ? process.cwd() : undefined,
    onSnapshot: o.onSnapshot,
    logger: o.logger ?? defaultLogger,
    recorderOptions: {
      minAge: o.minAge ?? Math.max(d.minAge, 2 * threshold),
      maxBytes: o.maxBytes ?? d.maxBytes,
      explicit,
    },
    recorder: o.recorder,
  }
}
