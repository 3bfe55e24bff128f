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

/** What a recorder records. `'causal'` adds who-resolved-whom flows (async_hooks; costs more). */
export type RecordingLevel = 'default' | 'causal'

/** What may reach the trace beyond the privacy-safe default. */
export interface AllowOptions {
  /** Keep query strings in request and outgoing URLs. Default: false (stripped). */
  queryString?: boolean
  /** Request header names (lowercase) whose values are recorded on each request. Default: none. */
  headers?: string[]
}

/**
 * Options of {@link FlightRecorder}. Every field is optional; the defaults are
 * {@link recorderDefaults}.
 */
export interface FlightRecorderOptions {
  /**
   * Lower bound, in ms, on how much history the window keeps. Default 10 000.
   * Events older than this are dropped at segment granularity (about once a
   * second), so slightly older events may still appear. `maxBytes` wins.
   */
  minAge?: number
  /**
   * Upper bound, in bytes, on the window's size. Default 10 MiB. Wins over
   * `minAge`. A hint: memory may overshoot by about one segment, and at least
   * one segment is always kept.
   */
  maxBytes?: number
  /** `'default'` (cheap) or `'causal'` (adds flows from resolver to resumed continuation). Default `'default'`. */
  level?: RecordingLevel
  /**
   * After a trigger ({@link FlightRecorder.markTrigger}), record at the causal level for this many ms,
   * so the next slow request is captured with flows. Default 0 (off). Ignored when `level` is `'causal'`.
   */
  causalAfterTrigger?: number
  /** CPU sampling interval in µs. Default 1000. */
  samplingInterval?: number
  /** How often, in ms, the CPU profile is rolled into the window. Default 1000. */
  profileWindow?: number
  /** A loop blocked for at least this many ms is recorded as a stall. Default 50. */
  stallThreshold?: number
  /** How often, in ms, counters (heap, RSS, loop delay, ELU, handles) are sampled. Default 500. */
  counterInterval?: number
  /** Fields that may reach the trace; by default no query string, header, body or address does. */
  allow?: AllowOptions
  /** Where the recorder's own errors go (pino-compatible: `warn`, `error`). Default: `process.emitWarning`. */
  logger?: Logger
}

/** Every default in one place. */
export const recorderDefaults = Object.freeze({
  minAge: 10_000,
  maxBytes: 10 * 1024 * 1024,
  level: 'default' as RecordingLevel,
  causalAfterTrigger: 0,
  samplingInterval: 1000,
  profileWindow: 1000,
  stallThreshold: 50,
  counterInterval: 500,
  allow: Object.freeze({ queryString: false, headers: Object.freeze([] as string[]) }),
})

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
    checkStringArray(o.allow.headers, 'allow.headers')
  }
  checkObject(o.logger, 'logger')
  if (o.logger) {
    checkFunction(o.logger.warn, 'logger.warn')
    checkFunction(o.logger.error, 'logger.error')
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
