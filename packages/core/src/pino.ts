import { log } from './annotations.ts'
import { checkKnownKeys, checkNumber, checkObject, checkString } from './validate.ts'

/**
 * Options of {@link pinoDestination}; defaults in {@link pinoDestinationDefaults}.
 *
 * @example
 * pinoDestination({ category: 'audit', minLevel: 40 })
 */
export interface PinoDestinationOptions {
  /** The category log lines get in the trace. Default `'pino'`. */
  category?: string
  /**
   * Lowest pino level recorded (10 trace, 20 debug, 30 info, 40 warn, 50 error,
   * 60 fatal). Default 30. The logger's own level still applies first.
   */
  minLevel?: number
}

/**
 * Defaults of {@link pinoDestination}: category `'pino'`, minLevel 30 (info).
 *
 * @example
 * pinoDestination({ minLevel: pinoDestinationDefaults.minLevel - 10 }) // debug and up
 */
export const pinoDestinationDefaults = Object.freeze({ category: 'pino', minLevel: 30 })

/** The metadata pino sets on a destination that asks for it (pino's documented `Symbol.for('pino.metadata')`). */
interface PinoMetadata {
  lastLevel?: number | string
  lastMsg?: unknown
}

/** A pino destination: `write` receives each log line; pino fills in the last* fields first. */
export interface PinoDestination extends PinoMetadata {
  /** Tells `pino(destination)` that its only argument is a destination, not options. */
  readonly writable: true
  write(line: string): boolean
  readonly [key: symbol]: boolean
}

/**
 * A pino destination that records each log line as an instant in the trace
 * (Go: `trace.Log`), attributed to the current request where attribution is
 * on. Hand it to `pino.multistream` beside your usual destination, or to
 * `pino()` alone. Needs no pino import: it uses pino's documented destination
 * metadata (`Symbol.for('pino.metadata')`), so it reads the level and message
 * pino already has and never parses the JSON line. Lines logged while no
 * recorder runs cost a property read and are dropped.
 *
 * Recorded: the message (`msg`, cut at 2048 characters) and the level. Not
 * recorded: the line's other fields, which may hold user data. A line
 * without a message is recorded with an empty one.
 *
 * @example
 * import pino from 'pino'
 * import { pinoDestination } from '@flightrec/core'
 *
 * const logger = pino(pino.multistream([{ stream: process.stdout }, { stream: pinoDestination() }]))
 * logger.info('cache refreshed') // in the trace, on the request's track if inside one
 */
export function pinoDestination(options: PinoDestinationOptions = {}): PinoDestination {
  checkObject(options, 'options')
  checkKnownKeys(options, ['category', 'minLevel'], 'pinoDestination')
  checkString(options.category, 'category')
  checkNumber(options.minLevel, 'minLevel', { min: 0, integer: true })
  const category = options.category ?? pinoDestinationDefaults.category
  const minLevel = options.minLevel ?? pinoDestinationDefaults.minLevel
  return {
    [Symbol.for('pino.metadata')]: true,
    writable: true,
    write(this: PinoMetadata, _line: string): boolean {
      const level = typeof this.lastLevel === 'number' ? this.lastLevel : minLevel
      if (level < minLevel) return true
      const message = this.lastMsg
      log(category, typeof message === 'string' ? message : '', level)
      return true
    },
  }
}
