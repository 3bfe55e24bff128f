import type { CpuProfile } from '../sources/cpu-sampler.ts'
import type { CulpritArgs } from './trace-format.ts'

interface Frame {
  functionName: string
  url: string
  line: number
  parent: Frame | undefined
  /** The deepest frame of user code at or above this one (cached). */
  user?: Frame | null
}

const IDLE = new Set(['(idle)'])
/** See {@link ProfileIndex.busyRuns}. */
const MAX_BUSY_GAP_INTERVALS = 10
const UNATTRIBUTED = new Set(['(program)', '(garbage collector)', '(root)'])

/**
 * All CPU samples of a window in time order, with helpers to say what ran
 * between two instants. "User code" is a frame with a source URL outside
 * Node.js internals and node_modules; when a sample has none, the nearest
 * frame with any URL, then the leaf, stands in.
 */
export class ProfileIndex {
  readonly times: number[] = []
  readonly leaves: Frame[] = []
  readonly intervalMicros: number

  /**
   * `profiles` are the rolled windows of one sampler, in any order. Consecutive
   * windows overlap by a sample or two (the next starts before the previous
   * ends, and V8 feeds a sample to every running profile), so a sample at or
   * before the end of the previous window is a duplicate and is skipped.
   */
  constructor(profiles: CpuProfile[], intervalMicros: number) {
    this.intervalMicros = intervalMicros
    const ordered = [...profiles].sort((a, b) => a.startTime - b.startTime)
    let previousEnd = -Infinity
    let sorted = true
    for (const profile of ordered) {
      const frames = framesOf(profile)
      let t = profile.startTime
      let end = previousEnd
      for (let i = 0; i < profile.samples.length; i++) {
        t += profile.timeDeltas[i] ?? 0
        const leaf = frames.get(profile.samples[i])
        if (leaf === undefined || t <= previousEnd) continue
        if (t < end) sorted = false
        else end = t
        this.times.push(t)
        this.leaves.push(leaf)
      }
      previousEnd = end
    }
    // V8 may emit a sample slightly out of order (a negative time delta).
    if (!sorted) this.#sort()
  }

  #sort(): void {
    const order = this.times.map((_, i) => i).sort((a, b) => this.times[a] - this.times[b])
    const times = order.map((i) => this.times[i])
    const leaves = order.map((i) => this.leaves[i])
    for (let k = 0; k < order.length; k++) {
      this.times[k] = times[k]
      this.leaves[k] = leaves[k]
    }
  }

  get size(): number {
    return this.times.length
  }

  /** Index of the first sample at or after `t`. */
  lowerBound(t: number): number {
    let lo = 0
    let hi = this.times.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.times[mid] < t) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  static isIdle(frame: Frame): boolean {
    return IDLE.has(frame.functionName) && frame.url === ''
  }

  /** The function most samples in [t0, t1) point at, or undefined if the loop was idle then. */
  culprit(t0: number, t1: number): CulpritArgs | undefined {
    const counts = new Map<Frame, number>()
    const selfCounts = new Map<string, number>()
    let busy = 0
    for (let i = this.lowerBound(t0); i < this.times.length && this.times[i] < t1; i++) {
      const leaf = this.leaves[i]
      if (ProfileIndex.isIdle(leaf)) continue
      busy++
      const who = userFrame(leaf)
      if (who) counts.set(who, (counts.get(who) ?? 0) + 1)
      selfCounts.set(leaf.functionName, (selfCounts.get(leaf.functionName) ?? 0) + 1)
    }
    if (busy === 0) return undefined
    const top = maxBy(counts)
    const self = maxBy(selfCounts)
    if (!top) return { self, samples: busy }
    return { function: top.functionName, url: top.url, line: top.line, self, samples: busy }
  }

  /**
   * Runs of consecutive busy samples, each with its start, end and number of
   * samples. Two busy samples with no idle one between them are joined unless
   * they lie more than {@link MAX_BUSY_GAP_INTERVALS} intervals (and 10 ms)
   * apart: on a loaded machine the sampler thread runs late, and a late
   * sample says nothing about the loop having been idle meanwhile.
   */
  busyRuns(): Array<{ start: number; end: number; samples: number }> {
    const runs: Array<{ start: number; end: number; samples: number }> = []
    const gap = Math.max(this.intervalMicros * MAX_BUSY_GAP_INTERVALS, 10_000)
    let run: { start: number; end: number; samples: number } | undefined
    for (let i = 0; i < this.times.length; i++) {
      const t = this.times[i]
      if (ProfileIndex.isIdle(this.leaves[i])) {
        if (run) run = undefined
        continue
      }
      const prevT = i > 0 ? this.times[i - 1] : t
      if (run && t - run.end <= gap) {
        run.end = t
        run.samples++
      } else {
        // A sample stands for the interval before it.
        run = { start: Math.max(prevT, t - this.intervalMicros), end: t, samples: 1 }
        runs.push(run)
      }
    }
    return runs
  }
}

/** The profile's call tree as frames linked to their parents, by node id. */
function framesOf(profile: CpuProfile): Map<number, Frame> {
  const frames = new Map<number, Frame>()
  for (const node of profile.nodes) {
    frames.set(node.id, {
      functionName: node.callFrame.functionName || '(anonymous)',
      url: node.callFrame.url,
      line: node.callFrame.lineNumber + 1,
      parent: undefined,
    })
  }
  for (const node of profile.nodes) {
    const parent = frames.get(node.id)
    for (const child of node.children ?? []) {
      const c = frames.get(child)
      if (c) c.parent = parent
    }
  }
  return frames
}

function userFrame(leaf: Frame): Frame | undefined {
  if (leaf.user !== undefined) return leaf.user ?? undefined
  let firstWithUrl: Frame | undefined
  let found: Frame | undefined
  for (let f: Frame | undefined = leaf; f; f = f.parent) {
    if (UNATTRIBUTED.has(f.functionName) && f.url === '') continue
    if (f.url === '') continue
    firstWithUrl ??= f
    if (!f.url.startsWith('node:') && !f.url.includes('/node_modules/')) {
      found = f
      break
    }
  }
  const result = found ?? firstWithUrl ?? (UNATTRIBUTED.has(leaf.functionName) ? undefined : leaf)
  leaf.user = result ?? null
  return result
}

function maxBy<K>(counts: Map<K, number>): K | undefined {
  let best: K | undefined
  let n = -1
  for (const [k, c] of counts) {
    if (c > n) {
      best = k
      n = c
    }
  }
  return best
}
