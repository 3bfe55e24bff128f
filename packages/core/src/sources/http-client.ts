import type { ClientRequest, IncomingMessage } from 'node:http'
import { captureCaller } from '../caller.ts'
import { nowMicros } from '../clock.ts'
import { subscribeAll, subscribed } from '../diagnostics.ts'
import { EventKind } from '../events.ts'
import type { Recording, Source } from '../recording.ts'
import { outgoingUrl } from '../redact.ts'

let nextCallId = 1

interface UndiciRequest {
  origin: string | URL
  method: string
  path: string
}

/**
 * Outgoing HTTP: undici (and global fetch, which publishes on the same
 * channels) and node:http clients. Records method, origin + path, status or
 * error, timing, the request it was made for, and who made it (from a stack
 * captured when the call is created).
 */
export class HttpClientSource implements Source {
  readonly name = 'http-client'
  #rec: Recording
  #unsubscribe: (() => void) | undefined
  #calls = new WeakMap<object, number>()

  constructor(rec: Recording) {
    this.#rec = rec
  }

  start(): void {
    const rec = this.#rec
    const keepQuery = rec.options.allow.queryString
    const begin = (key: object, method: string, url: string) => {
      const id = nextCallId++
      this.#calls.set(key, id)
      rec.inflightClient++
      const ts = nowMicros()
      const seg = rec.segment(ts)
      const s = seg.strings
      seg.push(
        EventKind.ClientStart,
        ts,
        id,
        s.intern(method),
        s.intern(url),
        rec.currentRequestId(),
      )
      const site = captureCaller()
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
    const finish = (key: object, status: number, error: unknown) => {
      const id = this.#calls.get(key)
      if (id === undefined) return
      this.#calls.delete(key)
      rec.inflightClient--
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
      [subscribed.clientRequestStart]: rec.guard(this, (m: unknown) => {
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

function portOf(request: ClientRequest): string {
  const socketPort = (request as unknown as { agent?: { defaultPort?: number } }).agent?.defaultPort
  const header = request.getHeader('host')
  if (typeof header === 'string' && header.includes(':')) return `:${header.split(':').pop()}`
  return socketPort && socketPort !== 80 && socketPort !== 443 ? `:${socketPort}` : ''
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}
