import { ErrorCodes } from '../errors.ts'
import type { ErrorReporter } from '../logger.ts'
import type { ResolvedCaptureOptions } from './options.ts'
import type { TimedRequest } from './types.ts'

/**
 * One capture's trigger policy: which finished requests trigger (the
 * threshold test or the user's `trigger`, minus `ignore`d and opted-out ones),
 * and its snapshot budget (`maxSnapshots`, `cooldown`). User callbacks never
 * throw out of here: a throw counts as "no" and is logged once.
 */
export class TriggerPolicy<Subject> {
  #options: ResolvedCaptureOptions<Subject>
  #optedOut: ((subject: Subject) => boolean) | undefined
  #errors: ErrorReporter
  #taken = 0
  #lastAt = Number.NEGATIVE_INFINITY

  constructor(
    options: ResolvedCaptureOptions<Subject>,
    optedOut: ((subject: Subject) => boolean) | undefined,
    errors: ErrorReporter,
  ) {
    this.#options = options
    this.#optedOut = optedOut
    this.#errors = errors
  }

  /** Whether snapshots remain in the budget (cooldown aside). */
  get hasBudget(): boolean {
    return this.#taken < this.#options.maxSnapshots
  }

  /** Whether this finished request should trigger a snapshot. */
  triggers(request: TimedRequest, subject: Subject): boolean {
    const { trigger, threshold, ignore } = this.#options
    const slow = trigger
      ? this.#ask(() => trigger(request), "the 'trigger' option")
      : request.durationMs > threshold
    if (!slow) return false
    if (
      this.#optedOut &&
      this.#ask(() => this.#optedOut?.(subject) === true, 'the route opt-out')
    ) {
      return false
    }
    return !(ignore && this.#ask(() => ignore(subject), "the 'ignore' option"))
  }

  /** Whether a snapshot may be taken at `now` (monotonic ms). */
  allows(now: number): boolean {
    return this.hasBudget && now - this.#lastAt >= this.#options.cooldown
  }

  /** Spends one snapshot of the budget at `now`; the cooldown runs from here. */
  take(now: number): void {
    this.#taken++
    this.#lastAt = now
  }

  /** Gives back a snapshot that could not be written (the cooldown still runs). */
  refund(): void {
    this.#taken--
  }

  #ask(fn: () => boolean, what: string): boolean {
    try {
      return fn() === true
    } catch (err) {
      this.#errors.report(ErrorCodes.CALLBACK_FAILED, `${what} threw`, err)
      return false
    }
  }
}
