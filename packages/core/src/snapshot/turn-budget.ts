import { setImmediate as nextTurn } from 'node:timers/promises'
import { stoppedError } from './stream-writer.ts'

/**
 * How long a snapshot's work may hold one turn of the event loop, ms:
 * handing segments to the worker, a slice of encoding on the main thread,
 * joining the chunks for `onSnapshot`. One step past it (a segment's
 * columns, a CPU profile, a chunk of events) still ends the turn well under
 * 2 ms.
 */
export const TURN_BUDGET_MS = 1

/**
 * A check to call between the steps of long main-thread work: once
 * {@link TURN_BUDGET_MS} has passed since the current turn began, it lets the
 * event loop turn (an immediate) and, if `signal` aborted meanwhile, throws
 * `stoppedError()`. Not guaranteed: a single step longer than the budget is
 * not cut.
 *
 * @example
 * const turnIfDue = turnBudget(signal)
 * for (const step of steps) {
 *   run(step)
 *   await turnIfDue()
 * }
 */
export function turnBudget(signal?: AbortSignal): () => Promise<void> {
  let turnStart = performance.now()
  return async () => {
    if (performance.now() - turnStart < TURN_BUDGET_MS) return
    await nextTurn()
    if (signal?.aborted) throw stoppedError()
    turnStart = performance.now()
  }
}
