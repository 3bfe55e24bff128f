/** Where an outgoing call came from: the first frame of user code on the stack. */
export interface CallSite {
  function: string
  file: string
  line: number
}

const SKIP = [
  'node:',
  '/node_modules/undici/',
  '/node_modules/.pnpm/undici@',
  '/packages/core/src/',
  '/@flightrec/core/',
  'internal/deps/undici',
]

/** Frames captured: enough to get through fetch's ~22 internal frames to the caller. */
const STACK_LIMIT = 32
/** User frames looked at, past an anonymous first one, for a function name. */
const NAMED_FRAME_SEARCH = 3

function asCallSites(_error: Error, sites: NodeJS.CallSite[]): NodeJS.CallSite[] {
  return sites
}

/**
 * The calling function and source location, from a stack captured now.
 * Frames of Node.js internals, undici and flightrec itself are skipped; V8's
 * async frames (`at async fn (...)`) count, so a call made after an `await`
 * still names the function that awaited it. Reads V8's structured call sites
 * rather than formatting the stack as text, but a capture still costs tens of
 * µs: callers must ration it (see CallerBudget).
 */
export function captureCaller(): CallSite | undefined {
  const holder: { stack?: unknown } = {}
  const limit = Error.stackTraceLimit
  const prepare = Error.prepareStackTrace
  Error.stackTraceLimit = STACK_LIMIT
  Error.prepareStackTrace = asCallSites
  try {
    Error.captureStackTrace(holder, captureCaller)
    const sites = holder.stack
    return Array.isArray(sites) ? firstUserSite(sites as NodeJS.CallSite[]) : undefined
  } finally {
    Error.stackTraceLimit = limit
    Error.prepareStackTrace = prepare
  }
}

/**
 * The first frame of user code. When it is an anonymous function (a callback,
 * a promise executor), the function is named after the next named frame of
 * user code among the few above it; file and line stay the call's own.
 */
function firstUserSite(sites: NodeJS.CallSite[]): CallSite | undefined {
  let first: CallSite | undefined
  let looked = 0
  for (const site of sites) {
    const file = site.getFileName() ?? site.getScriptNameOrSourceURL?.() ?? ''
    if (file === '' || isInternal(file)) continue
    let fn = site.getFunctionName() ?? site.getMethodName() ?? ''
    if (fn.startsWith('new ')) fn = fn.slice(4)
    if (!first) {
      first = {
        function: fn || '(anonymous)',
        file: file.replace(/^file:\/\//, ''),
        line: site.getLineNumber() ?? 0,
      }
      if (fn) return first
    } else if (fn) {
      return { ...first, function: fn }
    }
    if (++looked > NAMED_FRAME_SEARCH) break
  }
  return first
}

function isInternal(file: string): boolean {
  for (const s of SKIP) if (file.includes(s)) return true
  return false
}

/**
 * Rations stack captures: at most `perSecond` in any one-second window. A
 * service making thousands of outgoing calls a second pays for a few dozen;
 * a background poller making a few is always named.
 */
export class CallerBudget {
  readonly perSecond: number
  #windowStart = -Infinity
  #used = 0

  constructor(perSecond: number) {
    this.perSecond = perSecond
  }

  /** True if a capture at `nowMicros` fits the budget (and counts it). */
  take(nowMicros: number): boolean {
    if (nowMicros - this.#windowStart >= 1_000_000) {
      this.#windowStart = nowMicros
      this.#used = 0
    }
    if (this.#used >= this.perSecond) return false
    this.#used++
    return true
  }
}
