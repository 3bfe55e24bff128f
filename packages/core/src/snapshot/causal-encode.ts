import type { EncodeMeta } from './encode.ts'
import type { TraceEvent } from './trace-format.ts'
import type { WindowModel } from './window-model.ts'

/** What the causal level adds to a snapshot. */
export interface CausalOutput {
  /** Events on Tid.AsyncTasks: async callback slices and the resolve points inside them (flow out). */
  threadEvents: TraceEvent[]
  /** Per request id: nested wait slices on the request's track, each ending in a flow in. */
  requestChildren: Map<number, TraceEvent[]>
}

/** Builds the causal level's slices and flows from the window's causal events. */
export function encodeCausal(model: WindowModel, pid: number, meta: EncodeMeta): CausalOutput {
  void model
  void pid
  void meta
  return { threadEvents: [], requestChildren: new Map() }
}
