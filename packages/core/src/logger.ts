/**
 * The subset of a pino logger flightrec uses for its own failures. Any pino
 * logger, or `console`, fits.
 *
 * @example
 * new FlightRecorder({ logger: pino() })
 */
export interface Logger {
  info?(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/**
 * Reports the recorder's own failures: each distinct error code is logged once
 * (a failing disk must not flood the host's logs) and every occurrence counted.
 * Never throws, even if the logger does.
 */
export class ErrorReporter {
  readonly counts = new Map<string, number>()
  #logger: Logger | undefined

  constructor(logger: Logger | undefined) {
    this.#logger = logger
  }

  set logger(logger: Logger | undefined) {
    this.#logger = logger
  }

  /** Counts the error; logs it the first time its code is seen. */
  report(code: string, message: string, err?: unknown): void {
    const seen = this.counts.get(code) ?? 0
    this.counts.set(code, seen + 1)
    if (seen > 0) return
    try {
      const detail = describeError(err)
      if (this.#logger) {
        this.#logger.error({ code, err: detail }, `flightrec: ${message}`)
      } else {
        process.emitWarning(`${message}${detail ? `: ${detail}` : ''}`, {
          code,
          type: 'FlightRecorderWarning',
        })
      }
    } catch {
      // A broken logger must not break the host either.
    }
  }

  /** Total errors counted so far, per code. */
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.counts)
  }
}

/** An error's message followed by its causes' codes and messages (e.g. the ENOSPC behind a failed write). */
function describeError(err: unknown): string | undefined {
  if (err === undefined) return undefined
  const parts: string[] = []
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 4; depth++) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code
      parts.push(
        typeof code === 'string' && !e.message.includes(code) ? `${code}: ${e.message}` : e.message,
      )
      e = e.cause
    } else {
      parts.push(String(e))
      break
    }
  }
  return parts.join(': ')
}
