import { promiseHooks } from 'node:v8'
import { nowMicros } from '../clock.ts'
import { EventKind } from '../events.ts'
import type { Recording, Source } from '../recording.ts'

/** Waiting continuations remembered at once; a wait outliving this many newer ones is forgotten. */
const SLOTS = 1 << 16
const SLOT_MASK = SLOTS - 1
/** Stack captures (to name a releasing continuation) allowed in a burst, and refilled per second. */
const NAME_BURST = 32
const NAMES_PER_SECOND = 100
/** `awaitedBy` of a promise awaited from more than one request. */
const SEVERAL = -2

// Ids shared by every session, so a snapshot's ids stay unique when the level goes on and off.
let lastRunId = 0
let lastReleaseId = 0

/**
 * The causal level: which async context released each continuation that
 * resumed after waiting, e.g. the background task whose `unlock()` let a
 * request's `await lock()` go on.
 *
 * Built on V8's promise hooks (`v8.promiseHooks`), not on async_hooks: the
 * same facts for promises (a derived promise's parent, who settled it, when a
 * reaction runs) at a fraction of the cost, since no async ids, resources or
 * context stacks are kept. Per promise it costs a few property reads and
 * typed-array writes; ring events are written only for what a snapshot shows:
 * - `PromiseResolve` when a continuation settles a promise that a different
 *   request awaits (the flow's origin);
 * - `AsyncWait` when a request's continuation resumes after such a release
 *   (the flow's end, with when the wait began);
 * - `AsyncRun` for each continuation that released or resumed that way
 *   (exact begin and end, its request, and its function when a stack capture
 *   was in budget).
 * Other continuations leave nothing in the ring: what keeps the loop busy is
 * the CPU sampler's to show, and the recorder's own promise work stays out.
 *
 * A "continuation" is a promise reaction: the code after an `await`, or a
 * `then` callback. Its request is the recording's request context when it was
 * scheduled (the `await` or `then`), as entered by the HTTP server source.
 *
 * Not guaranteed: a promise settled directly by a timer, I/O or event
 * callback (not inside a continuation) is not linked to anything; waits of
 * code outside any request (background tasks) are not recorded; a wait that
 * outlives 65 536 newer awaits is forgotten; a continuation's name needs a
 * stack capture, at most 100 a second.
 */
export class CausalSource implements Source {
  readonly name = 'causal'
  #rec: Recording
  #stop: (() => void) | undefined

  constructor(rec: Recording) {
    this.#rec = rec
  }

  start(): void {
    if (this.#stop) return
    const rec = this.#rec
    const fail = rec.guard(this, (err: unknown) => {
      throw err
    })
    // Fresh keys each session: marks left on promises by an earlier session mean nothing now.
    const kSlot = Symbol('flightrec.slot')
    const kParent = Symbol('flightrec.parent')
    const kAwaitedBy = Symbol('flightrec.awaitedBy')
    const kReleasedBy = Symbol('flightrec.releasedBy')

    // Derived promises created in a request: their request and when they began to wait. The
    // promise each waits on is a property of its own (a big array of them costs the GC dearly).
    const slotIds = new Int32Array(SLOTS)
    const slotRequests = new Int32Array(SLOTS)
    const slotStarts = new Float64Array(SLOTS)
    let lastSlot = 0
    // The request of each recent release, by release id.
    const releaseRequests = new Int32Array(SLOTS)

    // The continuation running now (reactions never nest).
    let running = false
    let runId = 0
    let runRequest = -1
    let runStart = 0
    let runMarked = false
    let runName: string | undefined

    let nameBudget = NAME_BURST
    let nameRefilled = nowMicros()

    const init = (promise: Promise<unknown>, parent: Promise<unknown> | undefined) => {
      // Only derived promises (an await, a then) wait on something.
      if (parent === undefined) return
      try {
        const request = rec.currentRequestId()
        if (request < 0) return
        lastSlot = (lastSlot + 1) & 0x3fffffff
        const slot = lastSlot
        const waiter = promise as Marked
        waiter[kSlot] = slot
        waiter[kParent] = parent
        const i = slot & SLOT_MASK
        slotIds[i] = slot
        slotRequests[i] = request
        slotStarts[i] = nowMicros()
        const awaited = parent as Marked
        const previous = awaited[kAwaitedBy]
        // User code may freeze a promise it hands out: such a one is not marked (no flow).
        if (previous === undefined) {
          if (Object.isExtensible(awaited)) awaited[kAwaitedBy] = request
        } else if (previous !== request && !Object.isFrozen(awaited)) awaited[kAwaitedBy] = SEVERAL
      } catch (err) {
        fail(err)
      }
    }

    const before = (promise: Promise<unknown>) => {
      try {
        running = true
        runId = ++lastRunId
        runStart = nowMicros()
        runMarked = false
        runName = undefined
        runRequest = -1
        const waiter = promise as Marked
        const slot = waiter[kSlot] as number | undefined
        if (slot === undefined) return
        const i = slot & SLOT_MASK
        if (slotIds[i] !== slot) return
        runRequest = slotRequests[i]
        const parent = waiter[kParent] as Marked | undefined
        const release = parent?.[kReleasedBy] as number | undefined
        if (release === undefined || releaseRequests[release & SLOT_MASK] === runRequest) return
        // This request waited on a promise another context settled: the end of a flow. (A
        // promise resolved with a thenable runs a second job under its name: count it once.)
        waiter[kParent] = undefined
        runMarked = true
        rec
          .segment(runStart)
          .push(EventKind.AsyncWait, runStart, runId, runRequest, slotStarts[i], release)
      } catch (err) {
        fail(err)
      }
    }

    const after = () => {
      if (!running) return
      running = false
      if (!runMarked) return
      try {
        const end = nowMicros()
        const seg = rec.segment(runStart)
        const name = runName === undefined ? -1 : seg.strings.intern(runName)
        seg.push(EventKind.AsyncRun, runStart, runId, end - runStart, runRequest, name)
      } catch (err) {
        fail(err)
      }
    }

    const settled = (promise: Promise<unknown>) => {
      if (!running) return
      try {
        const settledPromise = promise as Marked
        const awaitedBy = settledPromise[kAwaitedBy] as number | undefined
        if (awaitedBy === undefined || awaitedBy === runRequest) return
        // A continuation settled what another request awaits: the start of a flow.
        if (Object.isFrozen(settledPromise)) return
        const release = ++lastReleaseId
        settledPromise[kReleasedBy] = release
        releaseRequests[release & SLOT_MASK] = runRequest
        const ts = nowMicros()
        rec.segment(ts).push(EventKind.PromiseResolve, ts, release, runId, runRequest, awaitedBy)
        if (!runMarked) {
          runMarked = true
          if (takeName(ts)) runName = continuationName()
        }
      } catch (err) {
        fail(err)
      }
    }

    const takeName = (now: number): boolean => {
      nameBudget = Math.min(
        NAME_BURST,
        nameBudget + ((now - nameRefilled) * NAMES_PER_SECOND) / 1_000_000,
      )
      nameRefilled = now
      if (nameBudget < 1) return false
      nameBudget--
      return true
    }

    this.#stop = promiseHooks.createHook({ init, before, after, settled }) as () => void
  }

  stop(): void {
    const stop = this.#stop
    this.#stop = undefined
    stop?.()
  }
}

/** A promise with the properties this source adds (symbol keys, fresh each session). */
type Marked = Promise<unknown> & Record<symbol, number | Promise<unknown> | undefined>

const SKIP = ['node:', '/node_modules/', '/packages/core/src/', '/@flightrec/core/']

/** The parts of a V8 call site this module reads. */
interface CallSite {
  getFunctionName(): string | null
  getTypeName(): string | null
  getFileName(): string | undefined
  getLineNumber(): number | null
  isToplevel(): boolean
  isAsync(): boolean
}

/**
 * The function a continuation belongs to: the outermost frame of user code on
 * its synchronous stack (a continuation's stack starts at the code that
 * resumed), e.g. `sendReport` for the code after `await post(...)` in
 * `sendReport`. `function (file:line)`, or undefined if the stack shows none.
 * Reads V8's structured call sites, so a formatter the application installed
 * (`Error.prepareStackTrace`) neither runs nor changes the result.
 */
function continuationName(): string | undefined {
  const holder: { stack?: unknown } = {}
  const limit = Error.stackTraceLimit
  const prepare = Error.prepareStackTrace
  try {
    Error.stackTraceLimit = 64
    Error.prepareStackTrace = (_error, sites) => sites
    Error.captureStackTrace(holder, continuationName)
    return outermostUserFrame(holder.stack as CallSite[])
  } finally {
    Error.prepareStackTrace = prepare
    Error.stackTraceLimit = limit
  }
}

/** The outermost synchronous frame outside Node.js, node_modules and flightrec, as `fn (file:line)`. */
function outermostUserFrame(sites: readonly CallSite[]): string | undefined {
  let found: CallSite | undefined
  for (const site of sites) {
    if (site.isAsync()) break
    const file = site.getFileName()
    if (file && !SKIP.some((s) => file.includes(s))) found = site
  }
  if (!found) return undefined
  const name = found.getFunctionName() ?? '(anonymous)'
  const type = found.isToplevel() ? null : found.getTypeName()
  const file = (found.getFileName() ?? '').replace(/^.*[/\\]/, '')
  return `${type ? `${type}.${name}` : name} (${file}:${found.getLineNumber() ?? 0})`
}
