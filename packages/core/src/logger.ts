/** The subset of a pino logger flightrec uses. Any pino, or `console`, fits. */
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
      const detail =
        err instanceof Error ? err.message : err === undefined ? undefined : String(err)
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
