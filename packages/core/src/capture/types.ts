import type { SnapshotTrigger } from '../snapshot/trace-format.ts'

/**
 * A finished (or aborted) request as an adapter timed it, handed to the
 * `trigger` predicate. `durationMs` runs on a monotonic clock from the
 * framework's first hook to the response's finish or abort.
 */
export interface TimedRequest {
  /** The recorder's id for the request (its `r<id>` track in the trace), or -1. */
  requestId: number
  /** e.g. 'express', 'fastify', 'koa'. */
  framework: string
  method: string
  /** The route template, e.g. '/users/:id', when the framework matched one. */
  route: string | undefined
  /** The path, without query string. */
  path: string
  /** The response status (what was set, for an aborted request). */
  status: number
  durationMs: number
  /** The client went away before the response finished. */
  aborted: boolean
  /** A handler threw or passed an error on (as far as the framework tells). */
  errored: boolean
}

/** What `onSnapshot` receives. */
export interface CapturedSnapshot {
  /** The file written, when the capture has a `dir`. */
  path: string | undefined
  /** The snapshot: Chrome Trace Event JSON, UTF-8. */
  bytes: Buffer
  /** e.g. 'slow-request', 'event-loop-stall', 'manual'. */
  reason: string
  /** The request that triggered it, if any. */
  request: SnapshotTrigger['request']
}

/** What `snapshot()` resolves with. */
export interface CaptureResult {
  /** The file written, when the capture has a `dir`. */
  path: string | undefined
  /** Size of the snapshot in bytes. */
  size: number
  reason: string
  request: SnapshotTrigger['request']
}

/** Counters of one capture (one adapter instance), since it was created. */
export interface CaptureStats {
  /** Requests timed to their end. */
  requests: number
  /** Snapshots written (by triggers and by `snapshot()`). */
  snapshots: number
  /**
   * Triggers absorbed by a snapshot already being captured. Those that came
   * before its encoding started are also in its `metadata.trigger.suppressed`.
   */
  suppressed: number
  /** Triggers dropped because no snapshot was allowed (`maxSnapshots` spent, or within `cooldown`). */
  skipped: number
  /** Snapshots that could not be written (each error logged once per code). */
  failed: number
}
