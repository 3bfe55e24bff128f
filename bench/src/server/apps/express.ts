import { once } from 'node:events'
import { createRequire } from 'node:module'
import { flightRecorder } from '@flightrec/express'
import type * as Express from 'express'
import { createItemHandler } from '../work.ts'
import { type AppOptions, adapterOptions, portOf, type RunningApp } from './app.ts'

// Loaded with require so that instrumentations that hook require (OpenTelemetry) see it.
const require = createRequire(import.meta.url)

/** An express 5 app with the two bench routes, and @flightrec/express when asked. */
export async function start(options: AppOptions): Promise<RunningApp> {
  const express = require('express') as typeof Express.default
  const handleItem = createItemHandler(options.work)
  const app = express()
  const adapter = options.flightrec
    ? flightRecorder(adapterOptions<Express.Request>(options.flightrec))
    : undefined
  if (adapter) app.use(adapter)
  app.get('/hello', (_req, res) => {
    res.type('text/plain').send('hello world')
  })
  app.get('/items/:id', async (req, res) => {
    const body = await handleItem({
      id: req.params.id,
      limit: typeof req.query.limit === 'string' ? req.query.limit : undefined,
      sort: typeof req.query.sort === 'string' ? req.query.sort : undefined,
    })
    res.type('application/json').send(body)
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: portOf(server),
    captureStats: adapter && (() => adapter.flightRecorder.stats),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
