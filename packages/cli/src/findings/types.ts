import type { Context } from '../context.ts'
import type { Explanation } from '../explain.ts'

/** The kinds of cause the analyzer names. */
export type FindingKind =
  | 'waited-on-task'
  | 'waited-on-upstream'
  | 'blocked-loop'
  | 'gc'
  | 'cpu-saturated'

/** A function in the user's code, as the JSON report names it. */
export interface Culprit {
  function: string
  /** Path as recorded ('' when unknown, e.g. a task named by annotation). */
  file: string
  /** 1-based, 0 when unknown. */
  line: number
}

/** An outgoing call at the root of a causal chain. */
export interface WaitedOn {
  method: string
  url: string
  /** The longest such call's duration. */
  durationMs: number
}

/** One cause, with how much of the slow requests' latency it explains. */
export interface Finding {
  kind: FindingKind
  /** One plain-language paragraph. */
  summary: string
  culprit: Culprit | null
  waitedOn: WaitedOn | null
  /** Slow requests it delayed. */
  requests: number
  /** Latency explained, ms: the slow requests' time this cause accounts for, summed. */
  ms: number
  /**
   * How the analyzer knows: 'calls' (the recorder tied the calls to their
   * requests), 'flows' (causal level: who resolved each wait), 'timing' (what
   * ended right before the requests resumed), 'samples' (CPU samples), 'gc'.
   */
  evidence: 'calls' | 'flows' | 'timing' | 'samples' | 'gc'
}

/** What every findings module reads. */
export interface FindingsInput {
  ctx: Context
  /** Every slow request, explained. */
  explained: Explanation[]
  /** Sum of the slow requests' durations, µs. */
  totalMicros: number
}

export function ms(micros: number): number {
  return Math.round(micros) / 1000
}
