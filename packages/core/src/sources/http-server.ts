import type { IncomingMessage, ServerResponse } from 'node:http'
import { nowMicros } from '../clock.ts'
import { subscribeAll, subscribed } from '../diagnostics.ts'
import { EventKind, RequestFlag } from '../events.ts'
import { type Recording, requestContext, type Source } from '../recording.ts'
import { pathOf } from '../redact.ts'

const kRequestId = Symbol('flightrec.requestId')
const kEnded = Symbol('flightrec.ended')
let nextRequestId = 1

type Tagged = IncomingMessage & { [kRequestId]?: number; [kEnded]?: boolean }

/** The id the recorder gave this request, or -1 if it was not recorded. */
export function requestIdOf(req: IncomingMessage): number {
  return (req as Tagged)[kRequestId] ?? -1
}

/**
 * HTTP server requests, from Node's own diagnostics channels, whatever the
 * framework: start (method, path without query), finish (status) and close
 * before finish (aborted). Gives each request an id, and enters it as the
 * current request when attribution is on.
 */
export class HttpServerSource implements Source {
  readonly name = 'http-server'
  #rec: Recording
  #unsubscribe: (() => void) | undefined
  #attribute: boolean

  constructor(rec: Recording, attribute: boolean) {
    this.#rec = rec
    this.#attribute = attribute
  }

  start(): void {
    const rec = this.#rec
    const { allow } = rec.options
    const onStart = rec.guard(this, (message: unknown) => {
      const { request, response } = message as { request: Tagged; response: ServerResponse }
      const id = nextRequestId++
      request[kRequestId] = id
      const ts = nowMicros()
      const seg = rec.segment(ts)
      const headers = allow.headers.length > 0 ? pickHeaders(request, allow.headers) : undefined
      seg.push(
        EventKind.RequestStart,
        ts,
        id,
        seg.strings.intern(request.method ?? 'GET'),
        seg.strings.intern(pathOf(request.url ?? '/', allow.queryString)),
        headers ? seg.strings.intern(headers) : -1,
      )
      rec.inflightServer++
      // 'close' fires after 'finish' too; kEnded tells an abort from a normal end.
      response.once('close', () => onClose(request, response))
      if (this.#attribute) requestContext.enterWith(id)
    })
    const onFinish = rec.guard(this, (message: unknown) => {
      const { request, response } = message as { request: Tagged; response: ServerResponse }
      end(request, response.statusCode, 0)
    })
    const onClose = rec.guard(this, (request: Tagged, response: ServerResponse) => {
      if (!request[kEnded]) end(request, response.statusCode, RequestFlag.Aborted)
    })
    const end = (request: Tagged, status: number, flags: number) => {
      const id = request[kRequestId]
      if (id === undefined || request[kEnded]) return
      request[kEnded] = true
      rec.inflightServer--
      const ts = nowMicros()
      rec.segment(ts).push(EventKind.RequestEnd, ts, id, status, flags, 0)
    }
    this.#unsubscribe = subscribeAll({
      [subscribed.serverRequestStart]: onStart,
      [subscribed.serverResponseFinish]: onFinish,
    })
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }
}

function pickHeaders(request: IncomingMessage, names: readonly string[]): string | undefined {
  const picked: Record<string, string> = {}
  let any = false
  for (const name of names) {
    const value = request.headers[name]
    if (value !== undefined) {
      picked[name] = Array.isArray(value) ? value.join(', ') : value
      any = true
    }
  }
  return any ? JSON.stringify(picked) : undefined
}
