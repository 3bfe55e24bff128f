import type { Logger } from './logger.ts'
import {
  checkBoolean,
  checkFunction,
  checkKnownKeys,
  checkNumber,
  checkObject,
  checkOneOf,
  checkStringArray,
} from './validate.ts'

/**
 * What a recorder records. `'default'`: requests, outgoing calls, CPU
 * samples, stalls, GC, counters, annotations (cheap enough to leave on).
 * `'causal'`: also which async context resolved the promise each
 * continuation waited on, drawn as flows (async_hooks: costs clearly more,
 * see the benchmarks before leaving it on).
 *
 * @example
 * new FlightRecorder({ level: 'causal' })
 */
export type RecordingLevel = 'default' | 'causal'

/**
 * What may reach the trace beyond the privacy-safe default, where no query
 * string, header, body or client address does.
 *
 * @example
 * new FlightRecorder({ allow: { queryString: true, headers: ['x-request-id', 'user-agent'] } })
 */
export interface AllowOptions {
  /**
   * Keep query strings (and fragments) in request paths and outgoing URLs.
   * Default false: cut at `?`. Credentials in outgoing URLs are always cut.
   */
  queryString?: boolean
  /**
   * Request header names whose values are recorded on each request served
   * (case-insensitive, at most 32). Default none. Outgoing calls' headers are
   * never recorded.
   */
  headers?: string[]
}

/**
 * Options of {@link FlightRecorder}, validated at construction: a wrong type
 * throws a TypeError, a value out of range a RangeError, both naming the
 * option (code `ERR_FLIGHTREC_INVALID_OPTION`). Every field is optional; the
 * defaults are {@link recorderDefaults}.
 *
 * @example
 * new FlightRecorder({ minAge: 20_000, maxBytes: 32 * 1024 * 1024, stallThreshold: 100 })
 */
export interface FlightRecorderOptions {
  /**
   * Lower bound, in ms, on how much history the window keeps. Default 10 000
   * (Go's advice: about twice the window you are debugging). `maxBytes` wins.
   * Trimming is a segment (about a second) at a time, so slightly older
   * events may still appear.
   */
  minAge?: number
  /**
   * Upper bound, in bytes, on the window's size; at least 16 KiB. Default
   * 10 MiB. Wins over `minAge`. A hint, as in Go: the window may overshoot by
   * about one segment (up to 1/16 of maxBytes, plus one CPU profile window),
   * and at least one segment is always kept.
   */
  maxBytes?: number
  /** `'default'` or `'causal'` (see {@link RecordingLevel}). Default `'default'`. */
  level?: RecordingLevel
  /**
   * After {@link FlightRecorder.markTrigger}, record at the causal level for
   * this many ms, so the next slow request is captured with flows. Default 0
   * (off). Ignored when `level` is `'causal'`.
   */
  causalAfterTrigger?: number
  /**
   * CPU sampling interval in µs, 50 to 1 000 000. Default 10 000 (100 Hz,
   * the rate of Go's and pprof's CPU profilers). The sampler's cost follows
   * its rate: on a CPU-bound route at 600 requests a second, 10 000 µs cost
   * about 15 µs of CPU per request, 1000 µs about 90 (docs/benchmarks.md).
   * Sample faster only while you need to see work shorter than 10 ms by its
   * stack: the analyzer tells one long synchronous call from many short ones
   * by where the loop turned over (requests, replies, timers), not by the
   * rate. Not guaranteed: on a starved machine samples come late or are
   * skipped.
   */
  samplingInterval?: number
  /**
   * How often, in ms, the CPU profile is rolled into the window (100 to
   * 60 000). Default 1000. Each roll costs the event loop 1-3 ms.
   */
  profileWindow?: number
  /**
   * A loop blocked for at least this many ms is recorded as a stall. Default
   * 50. Stalls are found by a heartbeat of min(20, threshold / 2) ms, slowed
   * to 100 ms while the process is idle (no HTTP in flight, the loop under 5%
   * busy for a second) and woken by the next request.
   */
  stallThreshold?: number
  /** How often, in ms, counters (heap, RSS, loop delay and utilisation, handles, requests in flight) are sampled. Default 500. */
  counterInterval?: number
  /** Fields that may reach the trace (see {@link AllowOptions}). Default: none beyond method, path, status. */
  allow?: AllowOptions
  /**
   * Where the recorder's own failures go, each code once (pino-compatible:
   * `warn` and `error` are required). Default: `process.emitWarning`.
   */
  logger?: Logger
}

/**
 * Every default of {@link FlightRecorderOptions}, in one place.
 *
 * @example
 * new FlightRecorder({ maxBytes: recorderDefaults.maxBytes * 4 })
 */
export const recorderDefaults = Object.freeze({
  minAge: 10_000,
  maxBytes: 10 * 1024 * 1024,
  level: 'default' as RecordingLevel,
  causalAfterTrigger: 0,
  samplingInterval: 10_000,
  profileWindow: 1000,
  stallThreshold: 50,
  counterInterval: 500,
  allow: Object.freeze({ queryString: false, headers: Object.freeze([] as string[]) }),
})

/** Options after validation, with every default filled in. */
export interface ResolvedRecorderOptions {
  minAge: number
  maxBytes: number
  level: RecordingLevel
  causalAfterTrigger: number
  samplingInterval: number
  profileWindow: number
  stallThreshold: number
  counterInterval: number
  allow: { queryString: boolean; headers: readonly string[] }
  logger: Logger | undefined
}

/** Headers that may be recorded per request (each is one event). */
const MAX_HEADERS = 32
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

const KNOWN = [
  'minAge',
  'maxBytes',
  'level',
  'causalAfterTrigger',
  'samplingInterval',
  'profileWindow',
  'stallThreshold',
  'counterInterval',
  'allow',
  'logger',
] as const

/** Validates recorder options (TypeError/RangeError naming the option) and fills in defaults. */
export function resolveRecorderOptions(
  options: FlightRecorderOptions = {},
): ResolvedRecorderOptions {
  checkObject(options, 'options')
  checkKnownKeys(options, KNOWN, 'FlightRecorder')
  const o = options
  checkNumber(o.minAge, 'minAge', { min: 0, unit: 'ms' })
  checkNumber(o.maxBytes, 'maxBytes', { min: 16 * 1024, integer: true, unit: 'bytes' })
  checkOneOf(o.level, 'level', ['default', 'causal'])
  checkNumber(o.causalAfterTrigger, 'causalAfterTrigger', { min: 0, unit: 'ms' })
  checkNumber(o.samplingInterval, 'samplingInterval', {
    min: 50,
    max: 1_000_000,
    integer: true,
    unit: 'µs',
  })
  checkNumber(o.profileWindow, 'profileWindow', { min: 100, max: 60_000, unit: 'ms' })
  checkNumber(o.stallThreshold, 'stallThreshold', { min: 1, unit: 'ms' })
  checkNumber(o.counterInterval, 'counterInterval', { min: 10, unit: 'ms' })
  checkObject(o.allow, 'allow')
  if (o.allow) {
    checkKnownKeys(o.allow, ['queryString', 'headers'], 'allow')
    checkBoolean(o.allow.queryString, 'allow.queryString')
    checkStringArray(o.allow.headers, 'allow.headers', HEADER_NAME, MAX_HEADERS)
  }
  checkObject(o.logger, 'logger')
  if (o.logger) {
    // Both are required of a logger (`?? null`: missing is not "use the default" here).
    checkFunction(o.logger.warn ?? null, 'logger.warn')
    checkFunction(o.logger.error ?? null, 'logger.error')
  }
  const d = recorderDefaults
  return {
    minAge: o.minAge ?? d.minAge,
    maxBytes: o.maxBytes ?? d.maxBytes,
    level: o.level ?? d.level,
    causalAfterTrigger: o.causalAfterTrigger ?? d.causalAfterTrigger,
    samplingInterval: o.samplingInterval ?? d.samplingInterval,
    profileWindow: o.profileWindow ?? d.profileWindow,
    stallThreshold: o.stallThreshold ?? d.stallThreshold,
    counterInterval: o.counterInterval ?? d.counterInterval,
    allow: {
      queryString: o.allow?.queryString ?? d.allow.queryString,
      headers: (o.allow?.headers ?? d.allow.headers).map((h) => h.toLowerCase()),
    },
    logger: o.logger,
  }
}
