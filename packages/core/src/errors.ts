/**
 * Errors thrown or rejected by flightrec carry a stable `code`, so callers can
 * branch on `err.code` instead of parsing messages. Messages are lowercase and
 * plain, as in Go's runtime/trace.
 *
 * @example
 * try { recorder.start() } catch (err) {
 *   if (err.code === 'ERR_FLIGHTREC_ALREADY_STARTED') { ... }
 * }
 */
export const ErrorCodes = {
  /** `start()` on a recorder that is already running. */
  ALREADY_STARTED: 'ERR_FLIGHTREC_ALREADY_STARTED',
  /** `start()` while another recorder is active in this process. */
  ANOTHER_ACTIVE: 'ERR_FLIGHTREC_ANOTHER_ACTIVE',
  /** `writeTo()` on a recorder that is not running. */
  NOT_ENABLED: 'ERR_FLIGHTREC_NOT_ENABLED',
  /** `writeTo()` while another `writeTo()` on the same recorder runs. */
  WRITE_IN_PROGRESS: 'ERR_FLIGHTREC_WRITE_IN_PROGRESS',
  /** `stop()` was called while `writeTo()` was encoding. */
  STOPPED_DURING_WRITE: 'ERR_FLIGHTREC_STOPPED_DURING_WRITE',
  /** An option has the wrong type or is out of range. */
  INVALID_OPTION: 'ERR_FLIGHTREC_INVALID_OPTION',
  /** Writing the snapshot to its destination failed. */
  SINK_FAILED: 'ERR_FLIGHTREC_SINK_FAILED',
  /** Encoding the snapshot failed (a bug: please report it with the error's cause). */
  ENCODE_FAILED: 'ERR_FLIGHTREC_ENCODE_FAILED',
  /** The encoding worker could not start; snapshots are encoded on the main thread, in slices. */
  WORKER_UNAVAILABLE: 'ERR_FLIGHTREC_WORKER_UNAVAILABLE',
  /** A recording source threw; it was disabled, the others keep recording. */
  SOURCE_FAILED: 'ERR_FLIGHTREC_SOURCE_FAILED',
  /** A user callback (trigger, onSnapshot) threw or rejected. */
  CALLBACK_FAILED: 'ERR_FLIGHTREC_CALLBACK_FAILED',
} as const

/** One of the {@link ErrorCodes} values. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/**
 * An Error with a stable `code` (one of {@link ErrorCodes}). Rejections of
 * `writeTo` also carry `bytesWritten`: what the stream accepted before the
 * failure (0 when nothing was written).
 *
 * @example
 * recorder.writeTo(stream).catch((err) => {
 *   if (err instanceof FlightRecorderError && err.code === ErrorCodes.WRITE_IN_PROGRESS) return
 *   throw err
 * })
 */
export class FlightRecorderError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FlightRecorderError'
    this.code = code
  }
}

/**
 * A TypeError for an option of the wrong type; `code` is `ERR_FLIGHTREC_INVALID_OPTION`.
 *
 * @example
 * new FlightRecorder({ minAge: '10s' }) // TypeError: minAge must be a number, received the string '10s'
 */
export class InvalidOptionTypeError extends TypeError {
  readonly code = ErrorCodes.INVALID_OPTION
  constructor(message: string) {
    super(message)
    this.name = 'TypeError'
  }
}

/**
 * A RangeError for an option out of range; `code` is `ERR_FLIGHTREC_INVALID_OPTION`.
 *
 * @example
 * new FlightRecorder({ maxBytes: 1024 }) // RangeError: maxBytes must be >= 16384 bytes, received 1024
 */
export class InvalidOptionRangeError extends RangeError {
  readonly code = ErrorCodes.INVALID_OPTION
  constructor(message: string) {
    super(message)
    this.name = 'RangeError'
  }
}
