import { InvalidOptionRangeError, InvalidOptionTypeError } from './errors.ts'

/**
 * Small validators shared by the recorder and every adapter, so each option
 * fails the same way: a TypeError for a wrong type, a RangeError for a value
 * out of range, both naming the option (`code` ERR_FLIGHTREC_INVALID_OPTION).
 * `undefined` always means "use the default" and passes.
 */

/** A plain object (not null, not an array). */
export function checkObject(value: unknown, name: string): void {
  if (value === undefined) return
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionTypeError(`${name} must be an object, received ${describe(value)}`)
  }
}

/** A number (NaN is a wrong type); finite, an integer if asked, within [min, max]. */
export function checkNumber(
  value: unknown,
  name: string,
  range: { min?: number; max?: number; integer?: boolean; unit?: string } = {},
): void {
  if (value === undefined) return
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new InvalidOptionTypeError(`${name} must be a number, received ${describe(value)}`)
  }
  const unit = range.unit ? ` ${range.unit}` : ''
  if (!Number.isFinite(value) || (range.integer && !Number.isInteger(value))) {
    throw new InvalidOptionRangeError(
      `${name} must be a finite ${range.integer ? 'integer' : 'number'}, received ${value}`,
    )
  }
  if (range.min !== undefined && value < range.min) {
    throw new InvalidOptionRangeError(`${name} must be >= ${range.min}${unit}, received ${value}`)
  }
  if (range.max !== undefined && value > range.max) {
    throw new InvalidOptionRangeError(`${name} must be <= ${range.max}${unit}, received ${value}`)
  }
}

/** A boolean. */
export function checkBoolean(value: unknown, name: string): void {
  if (value === undefined) return
  if (typeof value !== 'boolean') {
    throw new InvalidOptionTypeError(`${name} must be a boolean, received ${describe(value)}`)
  }
}

/** A non-empty string (the empty string counts as a wrong type, as it always has here). */
export function checkString(value: unknown, name: string): void {
  if (value === undefined) return
  if (typeof value !== 'string' || value === '') {
    throw new InvalidOptionTypeError(
      `${name} must be a non-empty string, received ${describe(value)}`,
    )
  }
}

/** A function. */
export function checkFunction(value: unknown, name: string): void {
  if (value === undefined) return
  if (typeof value !== 'function') {
    throw new InvalidOptionTypeError(`${name} must be a function, received ${describe(value)}`)
  }
}

/** One of the `allowed` strings. */
export function checkOneOf(value: unknown, name: string, allowed: readonly string[]): void {
  if (value === undefined) return
  if (typeof value !== 'string') {
    throw new InvalidOptionTypeError(`${name} must be a string, received ${describe(value)}`)
  }
  if (!allowed.includes(value)) {
    throw new InvalidOptionRangeError(
      `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, received '${value}'`,
    )
  }
}

/**
 * An array of strings; with `pattern`, each must match it, and with
 * `maxLength`, there may be no more entries (else a RangeError).
 */
export function checkStringArray(
  value: unknown,
  name: string,
  pattern?: RegExp,
  maxLength = Number.POSITIVE_INFINITY,
): void {
  if (value === undefined) return
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InvalidOptionTypeError(
      `${name} must be an array of strings, received ${describe(value)}`,
    )
  }
  if (value.length > maxLength) {
    throw new InvalidOptionRangeError(
      `${name} must have at most ${maxLength} entries, received ${value.length}`,
    )
  }
  const bad = pattern ? value.find((v: string) => !pattern.test(v)) : undefined
  if (bad !== undefined) {
    throw new InvalidOptionRangeError(`${name} has an invalid entry '${bad.slice(0, 40)}'`)
  }
}

/** Rejects option names the caller did not mean: a typo should not pass silently. */
export function checkKnownKeys(value: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidOptionTypeError(`${where}: unknown option '${key}'`)
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string '${value.slice(0, 40)}'`
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`
}
