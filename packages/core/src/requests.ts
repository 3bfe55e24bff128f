import type { IncomingMessage } from 'node:http'
import { active } from './active.ts'
import { nowMicros } from './clock.ts'
import { EventKind } from './events.ts'
import { requestIdOf } from './sources/http-server.ts'

/**
 * What a framework adapter knows about a request that Node's HTTP layer does
 * not. Every field is optional; later calls of {@link describeRequest} add to
 * earlier ones.
 *
 * @example
 * const info: RequestDescription = { framework: 'fastify', route: '/users/:id', handler: 'getUser' }
 */
export interface RequestDescription {
  /** e.g. 'express', 'fastify', 'koa'. */
  framework?: string
  /** The route template, e.g. '/users/:id' (never the raw path with values). */
  route?: string
  /** The handler's function name, where the framework exposes it. */
  handler?: string
}

/**
 * Adds the framework's view of a request (route template, handler) to its
 * record in the trace. For adapters; safe to call from anywhere: a no-op when
 * no recorder runs or the request was not recorded. Later calls add to earlier ones.
 *
 * @example
 * describeRequest(req, { framework: 'express', route: req.baseUrl + req.route.path })
 */
export function describeRequest(req: IncomingMessage, info: RequestDescription): void {
  const rec = active.recording
  if (!rec) return
  const id = requestIdOf(req)
  if (id < 0) return
  const ts = nowMicros()
  const seg = rec.segment(ts)
  const s = seg.strings
  seg.push(
    EventKind.RequestRoute,
    ts,
    id,
    info.framework ? s.intern(info.framework) : -1,
    info.route ? s.intern(info.route) : -1,
    info.handler ? s.intern(info.handler) : -1,
  )
}

/**
 * Marks a request as failed with an error (its class name or code is
 * recorded, never its message, which may hold user data).
 *
 * @example
 * app.use((err, req, res, next) => { markRequestError(req, err); next(err) })
 */
export function markRequestError(req: IncomingMessage, err: unknown): void {
  const rec = active.recording
  if (!rec) return
  const id = requestIdOf(req)
  if (id < 0) return
  const ts = nowMicros()
  const seg = rec.segment(ts)
  const code = (err as { code?: unknown })?.code
  const name = typeof code === 'string' ? code : err instanceof Error ? err.name : typeof err
  seg.push(EventKind.RequestError, ts, id, seg.strings.intern(name), 0, 0)
}

export { requestIdOf }
