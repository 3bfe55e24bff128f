/**
 * @flightrec/koa: one line in a koa app times every request and captures a
 * flight recorder snapshot when one is slow.
 *
 * @example
 * import { flightRecorder } from '@flightrec/koa'
 * app.use(flightRecorder({ threshold: 100 }))
 */
import { type CaptureOptions, markRequestFailed, SnapshotCapture } from '@flightrec/core'
import type { Context, Middleware } from 'koa'

/** Options of {@link flightRecorder}: core's capture options; `ignore` receives koa's `ctx`. */
export type KoaFlightRecorderOptions = CaptureOptions<Context>

/** The middleware, with the capture behind it (`snapshot()`, `stats`, `recorder`). */
export type FlightRecorderMiddleware = Middleware & { flightRecorder: SnapshotCapture<Context> }

/** What @koa/router leaves on the context for the route it matched. */
interface MatchedRoute {
  _matchedRoute?: unknown
  _matchedRouteName?: unknown
}

/**
 * Koa 3 middleware that times every request from this middleware to the
 * response's finish or abort, records the route template and name that
 * @koa/router matched (`ctx._matchedRoute`, `ctx._matchedRouteName`) and any
 * error thrown downstream, and captures a snapshot of the seconds before the
 * first request slower than `threshold` ms (default 100; a number is
 * shorthand for `{ threshold }`). Register it first. Errors pass through
 * unchanged. Options are validated here (TypeError/RangeError naming the
 * option); all of them and their defaults are in `CaptureOptions`.
 *
 * @example
 * import Koa from 'koa'
 * import { flightRecorder } from '@flightrec/koa'
 *
 * const app = new Koa()
 * app.use(flightRecorder({ threshold: 100, ignore: (ctx) => ctx.path === '/health' }))
 */
export function flightRecorder(
  options?: KoaFlightRecorderOptions | number,
): FlightRecorderMiddleware {
  const capture = new SnapshotCapture<Context>(options, { framework: 'koa' })
  const middleware: Middleware = async (ctx, next) => {
    capture.observe(ctx.req, ctx.res, ctx, () => {
      const { _matchedRoute: route, _matchedRouteName: name } = ctx as Context & MatchedRoute
      return {
        route: typeof route === 'string' ? route : undefined,
        handler: typeof name === 'string' ? name : undefined,
      }
    })
    try {
      await next()
    } catch (err) {
      markRequestFailed(ctx.req, err)
      throw err
    }
  }
  return Object.assign(middleware, { flightRecorder: capture })
}
