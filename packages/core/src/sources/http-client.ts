import type { ClientRequest, IncomingMessage } from 'node:http'
import { CallerBudget, captureCaller } from '../caller.ts'
import { nowMicros } from '../clock.ts'
import { subscribeAll, subscribed } from '../diagnostics.ts'
import { EventKind } from '../events.ts'
import type { Recording, Source } from '../recording.ts'
import { outgoingUrl } from '../redact.ts'

let nextCallId = 1
/** On a request object (undici's or node:http's): the id of its call. */
const kCallId = Symbol('flightrec.callId')

type Tagged = { [kCallId]?: number }

/** Stack captures per second for naming who made an outgoing call (each costs tens of µs). */
const CALLERS_PER_SECOND = 50

interface UndiciRequest {
  origin: string | URL
  method: string
  path: string
}

/**
 * Outgoing HTTP: undici (and global fetch, which publishes on the same
 * channels) and node:http clients. Records method, origin + path, status or
 * error, timing, the request it was made for, and who made it.
 *
 * A call starts when the request object is created (so the caller's stack is
 * still there) and ends when the response headers arrive or the call fails;
 * the time spent reading the body is not part of it.
 *
 * Not guaranteed: the caller (function, file, line) is captured only for calls
 * made outside any request, and at most {@link CALLERS_PER_SECOND} times a
 * second, because a stack capture costs tens of µs.
 */
export class HttpClientSource implements Source {
  readonly name = 'http-client'
  #rec: Recording
  #unsubscribe: (() => void) | undefined

  constructor(rec: Recording) {
    this.#rec = rec
  }

  start(): void {
    const rec = this.#rec
    const keepQuery = rec.options.allow.queryString
    const budget = new CallerBudget(CALLERS_PER_SECOND)
    const begin = (request: object, method: string, url: string) => {
      const id = nextCallId++
      ;(request as Tagged)[kCallId] = id
      rec.inflightClient++
      rec.wakeHeartbeat()
      const ts = nowMicros()
      const requestId = rec.currentRequestId()
      const site = requestId < 0 && budget.take(ts) ? captureCaller() : undefined
      const seg = rec.segment(ts, site ? 2 : 1)
      const s = seg.strings
      seg.push(EventKind.ClientStart, ts, id, s.intern(method), s.intern(url), requestId)
      if (site) {
        seg.push(
          EventKind.ClientCaller,
          ts,
          id,
          s.intern(site.function),
          s.intern(site.file),
          site.line,
        )
      }
    }
    const finish = (request: object, status: number, error: unknown) => {
      const key = request as Tagged
      const id = key[kCallId]
      if (id === undefined) return
      key[kCallId] = undefined
      // A call begun before a restart ends on the new recording: never below 0.
      if (rec.inflightClient > 0) rec.inflightClient--
      const ts = nowMicros()
      const seg = rec.segment(ts)
      const err = error === undefined ? -1 : seg.strings.intern(errorText(error))
      seg.push(EventKind.ClientEnd, ts, id, status, err, 0)
    }
    this.#unsubscribe = subscribeAll({
      [subscribed.undiciRequestCreate]: rec.guard(this, (m: unknown) => {
        const { request } = m as { request: UndiciRequest }
        begin(request, request.method, outgoingUrl(String(request.origin), request.path, keepQuery))
      }),
      [subscribed.undiciRequestHeaders]: rec.guard(this, (m: unknown) => {
        const { request, response } = m as { request: object; response: { statusCode: number } }
        finish(request, response.statusCode, undefined)
      }),
      [subscribed.undiciRequestError]: rec.guard(this, (m: unknown) => {
        const { request, error } = m as { request: object; error: unknown }
        finish(request, 0, error)
      }),
      [subscribed.clientRequestCreated]: rec.guard(this, (m: unknown) => {
        const { request } = m as { request: ClientRequest }
        const origin = `${request.protocol}//${request.host}${portOf(request)}`
        begin(request, request.method, outgoingUrl(origin, request.path, keepQuery))
      }),
      [subscribed.clientResponseFinish]: rec.guard(this, (m: unknown) => {
        const { request, response } = m as { request: ClientRequest; response: IncomingMessage }
        finish(request, response.statusCode ?? 0, undefined)
      }),
      [subscribed.clientRequestError]: rec.guard(this, (m: unknown) => {
        const { request, error } = m as { request: ClientRequest; error: unknown }
        finish(request, 0, error)
      }),
    })
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }
}

/** `:port` when the request does not go to its protocol's default port. */
function portOf(request: ClientRequest): string {
  const header = request.getHeader('host')
  if (typeof header === 'string') {
    const colon = header.lastIndexOf(':')
    if (colon !== -1 && !header.endsWith(']')) return header.slice(colon)
  }
  const port = (request as unknown as { agent?: { defaultPort?: number } }).agent?.defaultPort
  return port && port !== 80 && port !== 443 ? `:${port}` : ''
}

/** The error's code and message: what failed, e.g. `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9`. */
function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}
