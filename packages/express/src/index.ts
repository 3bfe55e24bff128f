/**
 * @flightrec/express: one line in an express app times every request and
 * captures a flight recorder snapshot when one is slow.
 *
 * @example
 * import { flightRecorder } from '@flightrec/express'
 * app.use(flightRecorder({ threshold: 100 }))
 */
import dc from 'node:diagnostics_channel'
import {
  type CaptureOptions,
  markRequestFailed,
  type RequestDescription,
  SnapshotCapture,
} from '@flightrec/core'
import type { Request, RequestHandler } from 'express'

/** Options of {@link flightRecorder}: core's capture options; `ignore` receives express's `req`. */
export type ExpressFlightRecorderOptions = CaptureOptions<Request>

/** The middleware, with the capture behind it (`snapshot()`, `stats`, `recorder`). */
export type FlightRecorderMiddleware = RequestHandler & {
  flightRecorder: SnapshotCapture<Request>
}

/**
 * Express middleware (express 5, and 4) that times every request from this
 * middleware to the response's finish or abort, records its route template
 * (`req.baseUrl + req.route.path`, as matched) and handler name, and captures
 * a snapshot of the seconds before the first request slower than `threshold`
 * ms (default 100; a number is shorthand for `{ threshold }`). Register it
 * before the routes. Options are validated here (TypeError/RangeError naming
 * the option); all of them and their defaults are in `CaptureOptions`.
 *
 * Errors: on express 5 (router >= 2.3) a handler's error is seen through
 * router's `express.router.request` diagnostics channel, subscribed once per
 * process (router then traces each middleware call: a small allocation each);
 * on express 4 only the status (500) is recorded, unless an error handler
 * calls `markRequestFailed(req, err)`.
 *
 * @example
 * import express from 'express'
 * import { flightRecorder } from '@flightrec/express'
 *
 * const app = express()
 * app.use(flightRecorder({ threshold: 100, ignore: (req) => req.path === '/health' }))
 */
export function flightRecorder(
  options?: ExpressFlightRecorderOptions | number,
): FlightRecorderMiddleware {
  const capture = new SnapshotCapture<Request>(options, { framework: 'express' })
  watchRouterErrors()
  const middleware: RequestHandler = (req, res, next) => {
    const tracked = req as Tracked
    if (capture.observe(req, res, req, () => describeRoute(tracked))) {
      Object.defineProperty(req, 'route', routeProperty)
    }
    next()
  }
  return Object.assign(middleware, { flightRecorder: capture })
}

/** What express assigns to `req.route`: the matched Route. */
interface ExpressRoute {
  path?: unknown
  stack?: Array<{ handle?: { name?: string } }>
}

/** On a request: the Route express last assigned, and `req.baseUrl` at that moment. */
const kRoute = Symbol('flightrec.expressRoute')
const kRouteBaseUrl = Symbol('flightrec.expressRouteBaseUrl')

type Tracked = Request & { [kRoute]?: ExpressRoute; [kRouteBaseUrl]?: string }

/**
 * Installed on each timed request as its own `route` property, so the route
 * is seen as express dispatches it: `req.baseUrl` is right only at that
 * moment, as a mounted router restores it when an error leaves it. One
 * descriptor with shared accessors for every request: a closure per request
 * would give each `req` a hidden class of its own and make every property
 * access on it in express slow (~35 µs per request).
 */
const routeProperty: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: Tracked): ExpressRoute | undefined {
    return this[kRoute]
  },
  set(this: Tracked, route: ExpressRoute) {
    this[kRoute] = route
    this[kRouteBaseUrl] = this.baseUrl
  },
}

/** The route template and handler name of the Route a request matched last, if any. */
function describeRoute(req: Tracked): RequestDescription {
  const route = req[kRoute]
  if (route === undefined) return {}
  return {
    route: typeof route?.path === 'string' ? (req[kRouteBaseUrl] ?? '') + route.path : undefined,
    handler: route?.stack?.at(-1)?.handle?.name || undefined,
  }
}

let watchingRouterErrors = false

function watchRouterErrors(): void {
  if (watchingRouterErrors) return
  watchingRouterErrors = true
  dc.tracingChannel('express.router.request').error.subscribe((message) => {
    const { req, error } = message as { req: Request; error: unknown }
    markRequestFailed(req, error)
  })
}
