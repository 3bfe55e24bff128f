import type { TraceEvent } from '@flightrec/core/trace-format'

/** A function in the CPU profile, as a reader names it. */
export interface CodeLocation {
  function: string
  /** Source path or URL as recorded (`file://` removed); '' for native code. */
  file: string
  /** 1-based line, 0 if unknown. */
  line: number
}

interface ProfileNodeJson {
  id: number
  parent?: number
  callFrame?: { functionName?: string; url?: string; lineNumber?: number }
}

/** Frames with these names and no URL are not code: the loop was idle, or V8 itself ran. */
const IDLE = '(idle)'
const GC = '(garbage collector)'

/** The longest sampling gap inside one GC run: longer, and the two sides are two pauses. */
const MAX_GC_GAP_MICROS = 50_000

/** Consecutive samples of one kind: [start, end] in µs, and how many. */
export interface Run {
  start: number
  end: number
  samples: number
}
const NOT_CODE = new Set(['(idle)', '(program)', '(garbage collector)', '(root)'])

/**
 * Every CPU sample of a snapshot (its `P` Profile/ProfileChunk events) in time
 * order, with the stacks behind them. Answers "what ran between two instants"
 * for the findings: which user function most samples point at, and whether a
 * given function was on the stack.
 *
 * "User code" is the deepest frame with a source URL outside Node.js internals,
 * WebAssembly and node_modules; when a stack has none, the deepest frame with any URL.
 */
export class SampleIndex {
  /** Sample times, µs, ascending. */
  readonly times: number[] = []
  /** Per sample: index into the node tables. */
  readonly nodes: number[] = []
  readonly intervalMicros: number
  #name: string[] = []
  #file: string[] = []
  #line: number[] = []
  #parent: number[] = []
  #user: number[] = []

  constructor(events: Iterable<TraceEvent>, intervalMicros: number) {
    this.intervalMicros = intervalMicros
    const starts = new Map<string, number>()
    const chunks: TraceEvent[] = []
    for (const e of events) {
      if (e.ph !== 'P') continue
      if (e.name === 'Profile') {
        const start = (e.args?.data as { startTime?: unknown } | undefined)?.startTime
        if (typeof start === 'number' && e.id !== undefined) starts.set(e.id, start)
      } else if (e.name === 'ProfileChunk') chunks.push(e)
    }
    const pending: Array<{ t: number; node: number }> = []
    const nodeBase = new Map<string, Map<number, number>>()
    const clock = new Map<string, number>()
    for (const chunk of chunks) {
      const data = chunk.args?.data as
        | { cpuProfile?: { nodes?: ProfileNodeJson[]; samples?: number[] }; timeDeltas?: number[] }
        | undefined
      const id = chunk.id ?? ''
      let local = nodeBase.get(id)
      if (!local) {
        local = new Map()
        nodeBase.set(id, local)
      }
      for (const node of data?.cpuProfile?.nodes ?? []) {
        local.set(node.id, this.#name.length)
        const frame = node.callFrame ?? {}
        this.#name.push(frame.functionName || '(anonymous)')
        this.#file.push((frame.url ?? '').replace(/^file:\/\//, ''))
        this.#line.push((frame.lineNumber ?? -1) + 1)
        this.#parent.push(-1)
        this.#user.push(-2)
      }
      for (const node of data?.cpuProfile?.nodes ?? []) {
        if (node.parent === undefined) continue
        const self = local.get(node.id)
        const parent = local.get(node.parent)
        if (self !== undefined && parent !== undefined) this.#parent[self] = parent
      }
      const samples = data?.cpuProfile?.samples ?? []
      const deltas = data?.timeDeltas ?? []
      let t = clock.get(id) ?? starts.get(id) ?? chunk.ts ?? 0
      for (let i = 0; i < samples.length; i++) {
        t += deltas[i] ?? 0
        const node = local.get(samples[i])
        if (node !== undefined) pending.push({ t, node })
      }
      clock.set(id, t)
    }
    pending.sort((a, b) => a.t - b.t)
    for (const s of pending) {
      this.times.push(s.t)
      this.nodes.push(s.node)
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

  /** Whether sample `i` found the loop idle. */
  isIdle(i: number): boolean {
    const n = this.nodes[i]
    return this.#name[n] === IDLE && this.#file[n] === ''
  }

  /** Whether sample `i` is V8's own work (GC, compilation: `(program)`, `(garbage collector)`). */
  isRuntime(i: number): boolean {
    const n = this.nodes[i]
    return NOT_CODE.has(this.#name[n]) && this.#file[n] === ''
  }

  /** The user-code location sample `i` points at, if any. */
  userLocation(i: number): CodeLocation | undefined {
    const n = this.#userNode(this.nodes[i])
    return n < 0 ? undefined : this.location(n)
  }

  location(node: number): CodeLocation {
    return { function: this.#name[node], file: this.#file[node], line: this.#line[node] }
  }

  /** Whether a function with this name is on the stack of sample `i`. */
  hasOnStack(i: number, functionName: string): boolean {
    for (let n = this.nodes[i]; n >= 0; n = this.#parent[n]) {
      if (this.#name[n] === functionName) return true
    }
    return false
  }

  /**
   * The user functions most busy samples in [t0, t1) point at, most first,
   * with their share of the busy samples.
   */
  topFunctions(
    ranges: Array<[number, number]>,
    limit = 3,
  ): Array<CodeLocation & { samples: number; share: number }> {
    const counts = new Map<number, number>()
    let busy = 0
    for (const [t0, t1] of ranges) {
      for (let i = this.lowerBound(t0); i < this.times.length && this.times[i] < t1; i++) {
        if (this.isIdle(i) || this.isRuntime(i)) continue
        busy++
        const n = this.#userNode(this.nodes[i])
        if (n >= 0) counts.set(n, (counts.get(n) ?? 0) + 1)
      }
    }
    // One function can appear as several profile nodes (one per stack): merge by location.
    const merged = new Map<string, CodeLocation & { samples: number; share: number }>()
    for (const [n, c] of counts) {
      const loc = this.location(n)
      const key = `${loc.function}\0${loc.file}\0${loc.line}`
      const entry = merged.get(key)
      if (entry) entry.samples += c
      else merged.set(key, { ...loc, samples: c, share: 0 })
    }
    const top = [...merged.values()].sort((a, b) => b.samples - a.samples).slice(0, limit)
    for (const t of top) t.share = busy > 0 ? t.samples / busy : 0
    return top
  }

  /**
   * Runs of consecutive busy samples. An idle sample ends a run. When the
   * sampler thread gets no CPU (a loaded machine), samples go missing while
   * the loop is not idle: a gap between two samples in the same function of
   * the application's own code stays busy; any other gap ends the run. A run
   * starts one interval before its first sample (a sample stands for the
   * interval before it), never before the sample ahead of it.
   */
  busyRuns(): Run[] {
    return this.#runs(
      (i) => !this.isIdle(i),
      (a, b) => {
        const user = this.#userNode(this.nodes[a])
        return user >= 0 && this.#isUserCode(user) && user === this.#userNode(this.nodes[b])
      },
    )
  }

  /** Runs of consecutive samples in V8's garbage collector: GC pauses, seen by the sampler. */
  gcRuns(): Run[] {
    return this.#runs(
      (i) => {
        const n = this.nodes[i]
        return this.#name[n] === GC && this.#file[n] === ''
      },
      (a, b) => this.times[b] - this.times[a] <= MAX_GC_GAP_MICROS,
    )
  }

  /**
   * Runs of consecutive samples that satisfy `inRun`. Across a gap in
   * sampling (longer than 1.5 intervals), a run goes on only if `bridges`
   * says the samples on both sides are the same work: a starved sampler
   * thread skips samples, but two unrelated bits of work with an unsampled
   * gap between them were not one.
   */
  #runs(inRun: (i: number) => boolean, bridges: (a: number, b: number) => boolean): Run[] {
    const runs: Run[] = []
    const gap = this.intervalMicros * 1.5
    let run: Run | undefined
    for (let i = 0; i < this.times.length; i++) {
      const t = this.times[i]
      if (!inRun(i)) {
        run = undefined
        continue
      }
      if (run && t - run.end > gap && !bridges(i - 1, i)) run = undefined
      if (run) {
        run.end = t
        run.samples++
      } else {
        const previous = i > 0 ? this.times[i - 1] : t - this.intervalMicros
        run = { start: Math.max(previous, t - this.intervalMicros), end: t, samples: 1 }
        runs.push(run)
      }
    }
    return runs
  }

  /** The leaf function most busy samples in [t0, t1] sit in (may be native or a builtin). */
  topLeaf(t0: number, t1: number): string | undefined {
    const counts = new Map<string, number>()
    for (let i = this.lowerBound(t0); i < this.times.length && this.times[i] <= t1; i++) {
      if (this.isIdle(i)) continue
      const name = this.#name[this.nodes[i]]
      counts.set(name, (counts.get(name) ?? 0) + 1)
    }
    let best: string | undefined
    let n = 0
    for (const [name, c] of counts) {
      if (c > n) {
        best = name
        n = c
      }
    }
    return best
  }

  /** Busy (not idle) samples in [t0, t1), and how many of them have `functionName` on the stack. */
  busyWith(
    t0: number,
    t1: number,
    functionName: string | undefined,
  ): { busy: number; own: number } {
    let busy = 0
    let own = 0
    for (let i = this.lowerBound(t0); i < this.times.length && this.times[i] < t1; i++) {
      if (this.isIdle(i)) continue
      busy++
      if (functionName && this.hasOnStack(i, functionName)) own++
    }
    return { busy, own }
  }

  /** Whether a node is the application's own code (not Node.js, WebAssembly or node_modules). */
  #isUserCode(node: number): boolean {
    const file = this.#file[node]
    return (
      file !== '' &&
      !file.startsWith('node:') &&
      !file.startsWith('wasm://') &&
      !file.includes('/node_modules/')
    )
  }

  #userNode(node: number): number {
    const cached = this.#user[node]
    if (cached !== -2) return cached
    let firstWithUrl = -1
    let found = -1
    for (let n = node; n >= 0; n = this.#parent[n]) {
      if (this.#file[n] === '') continue
      if (firstWithUrl < 0) firstWithUrl = n
      if (this.#isUserCode(n)) {
        found = n
        break
      }
    }
    const result = found >= 0 ? found : firstWithUrl
    this.#user[node] = result
    return result
  }
}
