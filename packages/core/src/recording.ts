import { AsyncLocalStorage } from 'node:async_hooks'
import { ErrorCodes } from './errors.ts'
import type { ErrorReporter } from './logger.ts'
import type { ResolvedRecorderOptions } from './options.ts'
import type { Ring } from './ring/ring.ts'
import type { Segment } from './ring/segment.ts'

/**
 * What a source sees of the recorder: where to write events, the options, the
 * shared counters, and how to report its own failure. Sources never import
 * each other; everything they share goes through here.
 */
export interface Recording {
  readonly options: ResolvedRecorderOptions
  /**
   * The segment to write `room` (default 1) events at `ts` into. Intern their
   * strings into *this* segment's table, and ask again for the next event.
   */
  segment(ts: number, room?: number): Segment
  /** The request id of the current async context, or -1 (see {@link requestContext}). */
  currentRequestId(): number
  /**
   * Whether to enter each request as the current async context and attribute
   * events to it: on Node.js >= 24 (AsyncContextFrame), at the causal level,
   * and while `causalAfterTrigger` runs. Read it per event: it can change.
   */
  readonly attribute: boolean
  /** HTTP server requests started and not yet finished. */
  inflightServer: number
  /** Outgoing HTTP requests started and not yet finished. */
  inflightClient: number
  /**
   * The worst event-loop delay, in µs, seen by the stall heartbeat since the
   * counters last sampled it (they reset it to 0).
   */
  loopDelayMaxMicros: number
  /**
   * Tells the stall heartbeat that HTTP work has begun, so a quiet heartbeat
   * beats fast again. Set by the stall source; a no-op without it. Cheap
   * enough to call per request.
   */
  wakeHeartbeat: () => void
  /**
   * Wraps `fn` (keeping its `this`): if it throws, the source is stopped and the
   * error reported once. The wrapper never throws.
   */
  guard<A extends unknown[], T = unknown>(
    source: Source,
    fn: (this: T, ...args: A) => void,
  ): (this: T, ...args: A) => void
}

/** One kind of data the recorder collects. Subscribed only between start() and stop(). */
export interface Source {
  readonly name: string
  start(): void
  stop(): void
}

/**
 * The request a piece of code runs on behalf of, as a number. Entered by the
 * HTTP server source for each request when attribution is cheap (Node.js >= 24,
 * where AsyncLocalStorage is backed by AsyncContextFrame; Node.js 22 with
 * --experimental-async-context-frame) or at the causal level.
 */
export const requestContext = new AsyncLocalStorage<number>()

/** Whether AsyncLocalStorage propagation is cheap in this process (AsyncContextFrame). */
export function asyncContextFrameEnabled(): boolean {
  const major = Number(process.versions.node.split('.')[0])
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  if (major >= 24) return !flags.includes('--no-async-context-frame')
  return flags.includes('--experimental-async-context-frame')
}

/** The Recording implementation the recorder hands its sources. */
export class RecordingState implements Recording {
  readonly options: ResolvedRecorderOptions
  readonly ring: Ring
  readonly errors: ErrorReporter
  inflightServer = 0
  inflightClient = 0
  loopDelayMaxMicros = 0
  attribute = false
  wakeHeartbeat: () => void = () => {}

  constructor(options: ResolvedRecorderOptions, ring: Ring, errors: ErrorReporter) {
    this.options = options
    this.ring = ring
    this.errors = errors
  }

  segment(ts: number, room = 1): Segment {
    return this.ring.current(ts, room)
  }

  currentRequestId(): number {
    if (!this.attribute) return -1
    return requestContext.getStore() ?? -1
  }

  guard<A extends unknown[], T = unknown>(
    source: Source,
    fn: (this: T, ...args: A) => void,
  ): (this: T, ...args: A) => void {
    const errors = this.errors
    // `arguments` rather than a rest parameter: V8 passes it to apply without
    // allocating an array, and guarded handlers run on every request.
    return function guarded(this: T): void {
      try {
        // biome-ignore lint/complexity/noArguments: see above.
        fn.apply(this, arguments as unknown as A)
      } catch (err) {
        errors.report(
          ErrorCodes.SOURCE_FAILED,
          `source '${source.name}' failed and was disabled`,
          err,
        )
        try {
          source.stop()
        } catch {
          // Already failing; stopping is best effort.
        }
      }
    }
  }
}
