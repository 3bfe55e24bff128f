/**
 * The snapshot file's vocabulary: the one module both the encoder (writer) and
 * the CLI (reader) import, so the two cannot drift. A snapshot is Chrome Trace
 * Event JSON (`{ traceEvents, metadata }`); everything flightrec-specific is
 * named here.
 */

/** `metadata.flightrec.format`: how a reader knows the file is a flightrec snapshot. */
export const SNAPSHOT_FORMAT = 'flightrec-snapshot'
/** Bumped on any change a reader must know about. */
export const SNAPSHOT_FORMAT_VERSION = 1

/** Thread ids inside the one process of a snapshot. */
export const Tid = {
  /** What the event loop ran (slices built from CPU samples) and the CPU profile. */
  Loop: 1,
  Gc: 2,
  Stalls: 3,
  Logs: 4,
  /** Causal level: exact async callback slices, the origin of flow arrows. */
  AsyncTasks: 5,
} as const

/** The `thread_name` of each {@link Tid}. */
export const ThreadNames: Record<number, string> = {
  [Tid.Loop]: 'event loop (sampled)',
  [Tid.Gc]: 'GC',
  [Tid.Stalls]: 'loop stalls',
  [Tid.Logs]: 'logs',
  [Tid.AsyncTasks]: 'async callbacks (causal)',
}

/** Event categories (`cat`). */
export const Cat = {
  /**
   * Async (b/e) slice per HTTP request served, id `r<requestId>`, with its
   * children (calls, tasks, regions, waits: `args.type`) and log instants
   * (`n`) on the same track; children that overlap a sibling go to lanes
   * `r<requestId>.<lane>` (see {@link requestTrackId}).
   */
  Request: 'flightrec.request',
  /** Async slice per outgoing call; nested in its request (same id) or on its own (id `c<callId>`). */
  Client: 'flightrec.http-client',
  /** User task/region annotations: nested in their request, or id `t<taskId>` / `g<regionId>`. */
  Task: 'flightrec.task',
  Region: 'flightrec.region',
  /** Causal level: a request's wait, from suspension to the continuation, ending with a flow in. */
  Wait: 'flightrec.wait',
  /** X slices on the loop thread: consecutive busy CPU samples. */
  LoopTask: 'flightrec.loop',
  /** Causal level: X slices on Tid.AsyncTasks, one per async callback run. */
  AsyncTask: 'flightrec.async',
  /** Causal level: zero-length X slices inside an async callback where it resolved a promise another context awaited. */
  Resolve: 'flightrec.resolve',
  Gc: 'flightrec.gc',
  Stall: 'flightrec.stall',
  Log: 'flightrec.log',
  Trigger: 'flightrec.trigger',
  Counter: 'flightrec.counter',
} as const

/**
 * The id of a request's track (`b`/`e`/`n` events with cat {@link Cat.Request}):
 * `r<requestId>` for the request and the children that nest in it; children
 * that overlap a sibling without nesting (parallel calls) go to extra lanes,
 * `r<requestId>.<lane>` with lane >= 1, which viewers show as tracks of their own.
 */
export function requestTrackId(requestId: number, lane = 0): string {
  return lane === 0 ? `r${requestId}` : `r${requestId}.${lane}`
}

/** The request id in a track id written by {@link requestTrackId}, or undefined if it is not one. */
export function requestIdOfTrack(id: string): number | undefined {
  const m = /^r(\d+)(?:\.\d+)?$/.exec(id)
  return m ? Number(m[1]) : undefined
}

/** Counter (`C`) event names; each arg becomes a track "name arg". */
export const CounterName = {
  Memory: 'memory',
  Loop: 'event loop',
} as const

/**
 * Why a snapshot was taken, as recorded in its metadata and its trigger
 * instant. The request's path loses its query string unless
 * `allow.queryString` is set.
 *
 * @example
 * await recorder.writeTo(stream, { reason: 'slow-request', request: { method: 'GET', route: '/users/:id', durationMs: 830 } })
 */
export interface SnapshotTrigger {
  /** e.g. 'slow-request', 'event-loop-stall', 'manual'. */
  reason: string
  /** The request that triggered it, if any. */
  request?: {
    id?: number
    method: string
    route?: string
    path?: string
    durationMs?: number
    status?: number
  }
  /** Stall that triggered it, if any. */
  stallMs?: number
  /** Other triggering events that arrived while this snapshot was being taken. */
  suppressed?: number
}

/**
 * `metadata.flightrec` of every snapshot: what wrote it, with which options,
 * the window's bounds and what it holds.
 *
 * @example
 * const { flightrec } = JSON.parse(text).metadata as { flightrec: SnapshotMetadata }
 * console.log(`${flightrec.counts.requests} requests, ${(flightrec.endMicros - flightrec.startMicros) / 1e6} s`)
 */
export interface SnapshotMetadata {
  format: typeof SNAPSHOT_FORMAT
  formatVersion: number
  recorderVersion: string
  node: string
  pid: number
  platform: string
  level: 'default' | 'causal'
  options: Record<string, unknown>
  /** Window bounds on the recorder's monotonic clock, µs (the same base as every `ts`). */
  startMicros: number
  endMicros: number
  /** Wall-clock time (ms since the epoch) at `endMicros`. */
  epochMillisAtEnd: number
  trigger?: SnapshotTrigger
  /** The recorder's own errors up to the snapshot, per code. */
  errors: Record<string, number>
  counts: {
    segments: number
    events: number
    requests: number
    outgoingCalls: number
    cpuProfiles: number
  }
}

/** Args of a request's `b` event. */
export interface RequestArgs {
  requestId: number
  method: string
  path: string
  route?: string
  framework?: string
  handler?: string
  status?: number
  durationMs?: number
  aborted?: boolean
  errored?: boolean
  /** What {@link markRequestError} was given: the error's code or class name, never its message. */
  error?: string
  /** The request had not finished when the snapshot was taken. */
  inFlight?: boolean
  /** The request started before the window; its start is the window's start. */
  truncated?: boolean
  headers?: Record<string, string>
}

/** Args of a task's or region's `b` event (`type` is set when nested in a request). */
export interface SpanArgs {
  type: 'task' | 'region'
  name: string
  requestId?: number
  /** The task had not ended when the snapshot was taken. */
  inFlight?: boolean
}

/** Args of a log line: an `i` on Tid.Logs, or an `n` (with `type: 'log'`) on its request's track. */
export interface LogArgs {
  type?: 'log'
  category: string
  message: string
  /** pino level number: 10 trace ... 30 info, 40 warn, 50 error, 60 fatal. */
  level: number
  requestId?: number
}

/** Args of an outgoing call's `b` event (`type: 'http-client'`). */
export interface ClientArgs {
  type?: 'http-client'
  callId: number
  method: string
  url: string
  status?: number
  error?: string
  durationMs?: number
  requestId?: number
  callerFunction?: string
  callerFile?: string
  callerLine?: number
  inFlight?: boolean
}

/** Args of a loop slice or stall: the function the samples inside it point at. */
export interface CulpritArgs {
  function?: string
  url?: string
  line?: number
  /** The leaf frame most often on CPU (may be a builtin or native function). */
  self?: string
  samples?: number
}

/** One event of the Chrome Trace Event format, as flightrec writes it. */
export interface TraceEvent {
  ph: string
  name?: string
  cat?: string
  pid?: number
  tid?: number
  ts?: number
  dur?: number
  id?: string
  s?: 'g' | 'p' | 't'
  bind_id?: string
  flow_in?: boolean
  flow_out?: boolean
  args?: Record<string, unknown>
}

/** The whole file. */
export interface SnapshotFile {
  traceEvents: TraceEvent[]
  displayTimeUnit?: string
  metadata?: { flightrec?: SnapshotMetadata }
}
