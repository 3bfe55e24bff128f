import { createRequire } from 'node:module'
import { flightRecorder } from '@flightrec/fastify'
import type * as Fastify from 'fastify'
import { createItemHandler } from '../work.ts'
import { type AppOptions, adapterOptions, portOf, type RunningApp } from './app.ts'

// Loaded with require so that instrumentations that hook require (OpenTelemetry) see it.
const require = createRequire(import.meta.url)

/** Plugins registered before the routes (OpenTelemetry's @fastify/otel registers itself here). */
export const fastifyPlugins: Array<(app: Fastify.FastifyInstance) => Promise<void> | void> = []

/** A fastify 5 app with the two bench routes, and @flightrec/fastify when asked. */
export async function start(options: AppOptions): Promise<RunningApp> {
  const fastify = require('fastify') as typeof Fastify.default
  const handleItem = createItemHandler(options.work)
  const app = fastify({ logger: false })
  for (const plugin of fastifyPlugins) await plugin(app)
  if (options.flightrec) {
    await app.register(flightRecorder, adapterOptions<Fastify.FastifyRequest>(options.flightrec))
  }
  app.get('/hello', async (_request, reply) => {
    reply.type('text/plain')
    return 'hello world'
  })
  app.get<{ Params: { id: string }; Querystring: { limit?: string; sort?: string } }>(
    '/items/:id',
    async (request, reply) => {
      const body = await handleItem({
        id: request.params.id,
        limit: request.query.limit,
        sort: request.query.sort,
      })
      reply.type('application/json')
      return body
    },
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    port: portOf(app.server),
    captureStats: options.flightrec && (() => app.flightRecorder.stats),
    close: () => app.close(),
  }
}
