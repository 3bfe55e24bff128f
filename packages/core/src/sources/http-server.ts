import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { nowMicros } from '../clock.ts'
import { subscribeAll, subscribed } from '../diagnostics.ts'
import { EventKind, RequestFlag } from '../events.ts'
import { type Recording, requestContext, type Source } from '../recording.ts'
import { pathOf } from '../redact.ts'

const kRequestId = Symbol('flightrec.requestId')
/** On a socket: the close listener of the source watching it (one per connection, not per request). */
const kCloseListener = Symbol('flightrec.closeListener')
let nextRequestId = 1

type Tagged = IncomingMessage & { [kRequestId]?: number }
type Watched = Socket & { [kCloseListener]?: () => void; _httpMessage?: ServerResponse | null }

/**
 * The id the recorder gave this request (`args.requestId` of its slice in the
 * trace), or -1 if it was not recorded.
 *
 * @example
 * res.setHeader('x-flightrec-request', String(requestIdOf(req)))
 */
export function requestIdOf(req: IncomingMessage): number {
  return (req as Tagged)[kRequestId] ?? -1
}

/**
 * HTTP server requests, from Node's own diagnostics channels, whatever the
 * framework: start (method, path without query, allowed headers), finish
 * (status) and connection closed before finish (aborted). Gives each request
 * an id, and enters it as the current request when attribution is on.
 *
 * Per request this costs two channel messages, two clock reads, a few
 * typed-array writes and two string-table lookups; aborts are caught by one
 * 'close' listener per connection, not per request. Nothing else is allocated
 * unless headers are allowed.
 *
 * Not guaranteed: of several pipelined requests on a connection that closes,
 * only the one being answered is marked aborted; the others stay in flight.
 */
/**
 * The one 'close' listener a connection gets: it forwards to the running
 * source, and stop() removes it from every connection still open, so a stopped
 * recording is neither called nor kept alive by keep-alive sockets.
 */
let liveSocketClose: ((this: Watched) => void) | undefined
/** Connections carrying {@link forwardSocketClose}, so stop() can take it off again. */
const watchedSockets = new Set<Watched>()
function forwardSocketClose(this: Watched): void {
  watchedSockets.delete(this)
  liveSocketClose?.call(this)
}

export class HttpServerSource implements Source {
  readonly name = 'http-server'
  #rec: Recording
  #unsubscribe: (() => void) | undefined
  #live = false

  constructor(rec: Recording) {
    this.#rec = rec
  }

  start(): void {
    const rec = this.#rec
    const { queryString, headers } = rec.options.allow
    this.#live = true
    // Called once per request: by 'finish', or by the connection closing before it.
    const end = (request: Tagged, status: number, flags: number) => {
      const id = request[kRequestId]
      // A response still open when the source stopped closes later: nothing to record.
      if (id === undefined || !this.#live) return
      // A request begun before a restart ends on the new recording: never below 0.
      if (rec.inflightServer > 0) rec.inflightServer--
      const ts = nowMicros()
      rec.segment(ts).push(EventKind.RequestEnd, ts, id, status, flags, 0)
    }
    // A connection that closes while its current response is unfinished
    // aborted that request (a finished response is detached from its socket).
    const onSocketClose = rec.guard(this, function (this: Watched) {
      const response = this._httpMessage
      if (response && !response.writableFinished) {
        end(response.req as Tagged, response.statusCode, RequestFlag.Aborted)
      }
    })
    const onStart = rec.guard(this, (message: unknown) => {
      const { request, socket } = message as { request: Tagged; socket: Watched }
      const id = nextRequestId++
      request[kRequestId] = id
      const ts = nowMicros()
      const seg = rec.segment(ts, 1 + headers.length)
      const s = seg.strings
      seg.push(
        EventKind.RequestStart,
        ts,
        id,
        s.intern(request.method ?? 'GET'),
        s.intern(pathOf(request.url ?? '/', queryString)),
        -1,
      )
      for (const name of headers) {
        const value = request.headers[name]
        if (value === undefined) continue
        const text = Array.isArray(value) ? value.join(', ') : value
        seg.push(EventKind.RequestHeader, ts, id, s.intern(name), s.intern(text), 0)
      }
      rec.inflightServer++
      rec.wakeHeartbeat()
      if (socket[kCloseListener] !== forwardSocketClose) {
        socket[kCloseListener] = forwardSocketClose
        socket.on('close', forwardSocketClose)
        watchedSockets.add(socket)
      }
      if (rec.attribute) requestContext.enterWith(id)
    })
    const onFinish = rec.guard(this, (message: unknown) => {
      const { request, response } = message as { request: Tagged; response: ServerResponse }
      end(request, response.statusCode, 0)
    })
    liveSocketClose = onSocketClose
    this.#unsubscribe = subscribeAll({
      [subscribed.serverRequestStart]: onStart,
      [subscribed.serverResponseFinish]: onFinish,
    })
  }

  stop(): void {
    this.#live = false
    liveSocketClose = undefined
    for (const socket of watchedSockets) {
      socket.removeListener('close', forwardSocketClose)
      socket[kCloseListener] = undefined
    }
    watchedSockets.clear()
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }
}
