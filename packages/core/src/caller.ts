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

/**
 * The calling function and source location, from a stack captured now.
 * Frames of Node.js internals, undici and flightrec itself are skipped; V8's
 * async frames (`at async fn (...)`) count, so a call made after an `await`
 * still names the function that awaited it. Costs a stack capture (tens of µs):
 * use it only for rare events such as outgoing calls.
 */
export function captureCaller(): CallSite | undefined {
  const holder: { stack?: string } = {}
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 40
  Error.captureStackTrace(holder, captureCaller)
  Error.stackTraceLimit = limit
  return parseCaller(holder.stack ?? '')
}

const FRAME = /^\s*at (?:async )?(?:(.+?) \()?(.+?):(\d+):\d+\)?$/

/** The first non-internal frame of a V8 stack string. Exported for tests. */
export function parseCaller(stack: string): CallSite | undefined {
  for (const line of stack.split('\n')) {
    const m = FRAME.exec(line)
    if (!m) continue
    const file = m[2]
    if (SKIP.some((s) => file.includes(s))) continue
    let fn = m[1] ?? '(anonymous)'
    if (fn.startsWith('new ')) fn = fn.slice(4)
    return { function: fn, file: file.replace(/^file:\/\//, ''), line: Number(m[3]) }
  }
  return undefined
}
