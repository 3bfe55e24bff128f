import { once } from 'node:events'
import { createRequire } from 'node:module'
import { flightRecorder } from '@flightrec/koa'
import type * as KoaRouter from '@koa/router'
import type * as Koa from 'koa'
import { createItemHandler } from '../work.ts'
import { type AppOptions, adapterOptions, portOf, type RunningApp } from './app.ts'

// Loaded with require so that instrumentations that hook require (OpenTelemetry) see it.
const require = createRequire(import.meta.url)

/** A koa 3 app with @koa/router and the two bench routes, and @flightrec/koa when asked. */
export async function start(options: AppOptions): Promise<RunningApp> {
  const KoaApp = require('koa') as typeof Koa.default
  const Router = require('@koa/router') as typeof KoaRouter.default
  const handleItem = createItemHandler(options.work)
  const app = new KoaApp()
  const router = new Router()
  const adapter = options.flightrec
    ? flightRecorder(adapterOptions<Koa.Context>(options.flightrec))
    : undefined
  if (adapter) app.use(adapter)
  router.get('/hello', (ctx) => {
    ctx.type = 'text/plain'
    ctx.body = 'hello world'
  })
  router.get('/items/:id', async (ctx) => {
    const { limit, sort } = ctx.query
    ctx.type = 'application/json'
    ctx.body = await handleItem({
      id: ctx.params.id,
      limit: typeof limit === 'string' ? limit : undefined,
      sort: typeof sort === 'string' ? sort : undefined,
    })
  })
  app.use(router.routes())
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: portOf(server),
    captureStats: adapter && (() => adapter.flightRecorder.stats),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
