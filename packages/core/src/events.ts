/**
 * The recorder's event kinds: one place that names every event written into
 * the ring and what its four numeric fields (a, b, c, d) hold. `s:` marks a
 * string id in the segment's string table; `-1` means "none". Times are
 * {@link nowMicros} values; durations are µs.
 *
 * The snapshot encoder is the only reader. The trace file's own vocabulary
 * (categories, argument names) is in snapshot/trace-format.ts, shared with the CLI.
 */
export const EventKind = {
  /** a: request id, b: s:method, c: s:path (no query unless allowed) */
  RequestStart: 1,
  /** a: request id, b: status, c: flags (RequestFlag) */
  RequestEnd: 2,
  /** a: request id, b: s:framework, c: s:route template, d: s:handler name */
  RequestRoute: 3,
  /** a: call id, b: s:method, c: s:url (origin + path), d: request id or -1 */
  ClientStart: 4,
  /** a: call id, b: s:function, c: s:file, d: line */
  ClientCaller: 5,
  /** a: call id, b: status (0 if none), c: s:error or -1 */
  ClientEnd: 6,
  /** ts: start; a: GC kind (perf_hooks flags: 1 minor, 4 major, 8 incremental, 16 weak), b: duration µs */
  Gc: 7,
  /** a: heap used, b: heap total, c: rss, d: external (bytes) */
  MemoryCounters: 8,
  /** a: loop delay max ms, b: loop utilisation 0..1, c: active handles, d: HTTP requests in flight */
  LoopCounters: 9,
  /** ts: start; a: duration µs, b: request id or -1 */
  Stall: 10,
  /** a: task id, b: s:name, c: request id or -1 */
  TaskBegin: 11,
  /** a: task id */
  TaskEnd: 12,
  /** a: region id, b: s:name, c: request id or -1, d: task id or -1 */
  RegionBegin: 13,
  /** a: region id */
  RegionEnd: 14,
  /** a: s:category, b: s:message, c: request id or -1, d: level (pino numbers; 30 info) */
  Log: 15,
  /** a: s:reason, b: request id or -1, c: duration µs of the triggering request or -1, d: s:route or -1 */
  Trigger: 16,
  /**
   * Causal level: one continuation (promise reaction) run, written when it ends.
   * ts: start; a: run id, b: duration µs, c: request id or -1, d: s:function or -1
   */
  AsyncRun: 17,
  /**
   * Causal level: a request's continuation resumed after a promise another context settled.
   * ts: resumed; a: run id of the resumed continuation, b: request id, c: wait start (µs, same clock), d: release id
   */
  AsyncWait: 18,
  /**
   * Causal level: a continuation settled a promise another request awaits.
   * ts: settled; a: release id, b: run id of the settling continuation, c: its request id or -1,
   * d: the awaiting request id, or -2 for several
   */
  PromiseResolve: 20,
  /** a: request id, b: s:error name (the class or code, never the message) */
  RequestError: 21,
  /** a: request id, b: s:header name (lowercase), c: s:value (only headers in `allow.headers`) */
  RequestHeader: 22,
} as const

export type EventKindValue = (typeof EventKind)[keyof typeof EventKind]

/** Bits of RequestEnd's flags. */
export const RequestFlag = {
  Aborted: 1,
  Errored: 2,
} as const

/** Kinds of blobs stored beside the events. */
export const BlobKind = {
  /** One rolled V8 CPU profile window (`inspector` Profiler.Profile). */
  CpuProfile: 1,
} as const
