import { writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { CapturedSnapshot, TimedRequest } from '@flightrec/core'
import { FlightRecorder, type RecordingLevel } from '@flightrec/core'
import { flightRecorder as expressRecorder } from '@flightrec/express'
import { flightRecorder as fastifyRecorder } from '@flightrec/fastify'
import { flightRecorder as koaRecorder } from '@flightrec/koa'
import Router from '@koa/router'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'

export type Framework = 'express' | 'fastify' | 'koa'

/**
 * A recorder that seals its window one timers turn after it is asked to
 * write. perf_hooks delivers a GC pause's entry a turn after the pause, and
 * the stall heartbeat notices a blocked loop only when its timer runs: what
 * ended with the triggering request would otherwise miss its own snapshot.
 * This emulates the change proposed for core (seal after a timers turn);
 * drop it once core does so.
 */
class SettlingRecorder extends FlightRecorder {
  override async writeTo(
    stream: Parameters<FlightRecorder['writeTo']>[0],
    trigger?: Parameters<FlightRecorder['writeTo']>[1],
  ): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 1))
    return super.writeTo(stream, trigger)
  }
}

/** What a route handler sees and returns, whatever the framework. */
export interface RouteInput {
  params: Record<string, string>
  query: Record<string, string | undefined>
}

export interface Route {
  path: string
  handler: (input: RouteInput) => Promise<unknown> | unknown
}

export interface ServeOptions {
  dir: string
  threshold: number
  level: RecordingLevel
  /** Whether a slow request may trigger the snapshot yet (the app warms up first). */
  armed(): boolean
  /** Called with the file once the snapshot is on disk. */
  onWritten(path: string): void
}

/**
 * Serves `routes` (GET, `:param` segments) on `framework` with its flightrec
 * adapter; the snapshot's bytes go to `dir` through `onSnapshot`.
 */
export async function serve(
  framework: Framework,
  routes: Route[],
  options: ServeOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const capture = {
    trigger: (request: TimedRequest) => options.armed() && request.durationMs > options.threshold,
    recorder: new SettlingRecorder({ level: options.level }),
    onSnapshot: async (snapshot: CapturedSnapshot) => {
      const path = join(options.dir, `flightrec-${framework}-${process.pid}.json`)
      await writeFile(path, snapshot.bytes)
      options.onWritten(path)
    },
  }
  const reply = async (route: Route, input: RouteInput) =>
    JSON.stringify(await route.handler(input))
  if (framework === 'express') {
    const app = express()
    app.use(expressRecorder(capture))
    for (const route of routes) {
      app.get(route.path, async (req, res) => {
        const body = await reply(route, {
          params: req.params as Record<string, string>,
          query: req.query as Record<string, string>,
        })
        res.type('application/json').send(body)
      })
    }
    const server = app.listen(0)
    await new Promise<void>((resolve) => server.once('listening', resolve))
    return {
      url: `http://localhost:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    }
  }
  if (framework === 'fastify') {
    const app = Fastify()
    await app.register(fastifyRecorder, capture)
    for (const route of routes) {
      app.get(route.path, async (request, res) => {
        const body = await reply(route, {
          params: request.params as Record<string, string>,
          query: request.query as Record<string, string>,
        })
        res.type('application/json')
        return body
      })
    }
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() }
  }
  const app = new Koa()
  const router = new Router()
  app.use(koaRecorder(capture))
  for (const route of routes) {
    router.get(route.path, async (ctx) => {
      ctx.type = 'application/json'
      ctx.body = await reply(route, {
        params: ctx.params as Record<string, string>,
        query: ctx.query as Record<string, string>,
      })
    })
  }
  app.use(router.routes())
  const server = app.listen(0)
  await new Promise<void>((resolve) => server.once('listening', resolve))
  return {
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
