import { active } from '../active.ts'
import { ErrorCodes, FlightRecorderError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { FlightRecorder } from '../recorder.ts'
import type { SnapshotTrigger } from '../snapshot/trace-format.ts'

/** What the process recorder needs to know of each capture sharing it. */
export interface RecorderUser {
  /** False once the user may capture no more and does not keep recording. */
  readonly wantsRecording: boolean
  /** Called by {@link resetProcessRecorder}: stop all work, never capture again. */
  detach(): void
}

/** What a capture asks of the process recorder when it attaches. */
export interface RecorderRequest {
  recorder: FlightRecorder | undefined
  minAge: number
  maxBytes: number
  logger: Logger | undefined
}

/** The snapshot being captured in this process, if any: one at a time. */
export interface CaptureInFlight {
  trigger: SnapshotTrigger
  done: Promise<unknown>
}

/** The process recorder and who shares it. */
export interface ProcessRecorderSlot {
  recorder: FlightRecorder
  /** Created here (stopped here when no user wants it) or the user's own (never stopped here). */
  owned: boolean
  users: Set<RecorderUser>
  inFlight: CaptureInFlight | undefined
}

let slot: ProcessRecorderSlot | undefined

/**
 * The process recorder every adapter in this process shares, or undefined
 * before the first adapter (or {@link SnapshotCapture}) was created and after
 * {@link resetProcessRecorder}. Use it to write a window by hand or to read
 * its options.
 *
 * @example
 * import { getProcessRecorder } from '@flightrec/core'
 * const recorder = getProcessRecorder()
 * if (recorder?.enabled) await recorder.writeTo(process.stdout)
 */
export function getProcessRecorder(): FlightRecorder | undefined {
  return slot?.recorder
}

/**
 * Stops the process recorder (if the adapters created it) and forgets it, and
 * makes every existing capture inert; the next adapter created starts afresh.
 * Waits for a snapshot being written to finish first. For tests.
 *
 * @example
 * afterEach(() => resetProcessRecorder())
 */
export async function resetProcessRecorder(): Promise<void> {
  const current = slot
  if (!current) return
  while (current.inFlight) await current.inFlight.done
  for (const user of current.users) user.detach()
  if (current.owned) current.recorder.stop()
  if (slot === current) slot = undefined
}

/**
 * Attaches `user` to the process recorder: the recorder of an earlier capture
 * if there is one (its options win), else the `recorder` asked for, else the
 * one already active in the process, else a new one with the requested
 * `minAge`, `maxBytes` and `logger`. Does not start it. Throws
 * ERR_FLIGHTREC_ANOTHER_ACTIVE if a `recorder` is asked for that differs from
 * the one already shared.
 */
export function attachToProcessRecorder(
  user: RecorderUser,
  request: RecorderRequest,
): ProcessRecorderSlot {
  if (!slot) {
    const adopted = request.recorder ?? activeRecorder()
    slot = {
      recorder:
        adopted ??
        new FlightRecorder({
          minAge: request.minAge,
          maxBytes: request.maxBytes,
          logger: request.logger,
        }),
      owned: adopted === undefined,
      users: new Set(),
      inFlight: undefined,
    }
  } else if (request.recorder && request.recorder !== slot.recorder) {
    throw new FlightRecorderError(
      ErrorCodes.ANOTHER_ACTIVE,
      'another flight recorder is already shared by the adapters in this process; pass the same recorder, or none',
    )
  }
  slot.users.add(user)
  return slot
}

/** Removes `user`; stops an owned recorder nobody wants any more. */
export function detachFromProcessRecorder(user: RecorderUser): void {
  if (!slot?.users.delete(user)) return
  settleProcessRecorder()
}

/**
 * Stops the recorder once nothing needs it: no capture in flight, no user that
 * still wants recording, and the recorder was created here. Forgets it too
 * when no user is left, so the next adapter's options apply.
 */
export function settleProcessRecorder(): void {
  const current = slot
  if (!current || current.inFlight) return
  for (const user of current.users) if (user.wantsRecording) return
  if (!current.owned) {
    if (current.users.size === 0) slot = undefined
    return
  }
  current.recorder.stop()
  if (current.users.size === 0) slot = undefined
}

function activeRecorder(): FlightRecorder | undefined {
  return active.owner instanceof FlightRecorder ? active.owner : undefined
}
