/**
 * @flightrec/fastify: one line in a fastify app times every request and
 * captures a flight recorder snapshot when one is slow.
 *
 * @example
 * import { flightRecorder } from '@flightrec/fastify'
 * await fastify.register(flightRecorder, { threshold: 100 })
 */
import { type CaptureOptions, markRequestFailed, SnapshotCapture } from '@flightrec/core'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

/** Options of {@link flightRecorder}: core's capture options; `ignore` receives fastify's `request`. */
export type FastifyFlightRecorderOptions = CaptureOptions<FastifyRequest>

declare module 'fastify' {
  interface FastifyInstance {
    /** The capture behind the plugin: `snapshot()`, `stats`, `recorder`. */
    flightRecorder: SnapshotCapture<FastifyRequest>
  }
  interface FastifyContextConfig {
    /** `false`: requests to this route never trigger a snapshot (they are still recorded). */
    flightRecorder?: boolean
  }
}

const plugin: FastifyPluginAsync<FastifyFlightRecorderOptions> = async (fastify, options) => {
  const capture = new SnapshotCapture<FastifyRequest>(options, {
    framework: 'fastify',
    logger: fastify.log,
    optedOut: (request) => request.routeOptions.config?.flightRecorder === false,
  })
  fastify.decorate('flightRecorder', capture)
  fastify.addHook('onRequest', (request, reply, next) => {
    const { url, handler } = request.routeOptions
    capture.observe(request.raw, reply.raw, request, () => ({
      route: url,
      // fastify binds handlers to the instance: 'bound getUser'.
      handler: handler?.name.replace(/^bound /, '') || undefined,
    }))
    next()
  })
  fastify.addHook('onError', (request, _reply, error, next) => {
    markRequestFailed(request.raw, error)
    next()
  })
  fastify.addHook('onClose', () => capture.close())
}

/**
 * Fastify 5 plugin (`fastify-plugin`, name '@flightrec/fastify', not
 * encapsulated) that times every request from `onRequest` to the response's
 * finish or abort, records its route template (`request.routeOptions.url`)
 * and handler name, and captures a snapshot of the seconds before the first
 * request slower than `threshold` ms (default 100; a number is shorthand for
 * `{ threshold }`). Logs through `fastify.log` unless `logger` is given.
 * Decorates `fastify.flightRecorder`; closes it on `onClose`. A route opts out
 * with `config: { flightRecorder: false }`. Options are validated at
 * registration (TypeError/RangeError naming the option).
 *
 * @example
 * import Fastify from 'fastify'
 * import { flightRecorder } from '@flightrec/fastify'
 *
 * const fastify = Fastify({ logger: true })
 * await fastify.register(flightRecorder, { threshold: 100 })
 * fastify.get('/health', { config: { flightRecorder: false } }, async () => 'ok')
 */
export const flightRecorder = fp(plugin, { fastify: '5.x', name: '@flightrec/fastify' })

export default flightRecorder
