import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { getProcessRecorder, resetProcessRecorder } from '@flightrec/core'
import { flightRecorder as fastifyFlightRecorder } from '@flightrec/fastify'
import { flightRecorder as koaFlightRecorder } from '@flightrec/koa'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import request from 'supertest'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  captureLogger,
  closeServer,
  eventually,
  makeTempDir,
  readSnapshot,
  removeDir,
  requestsIn,
  sleep,
  snapshotFiles,
} from '../../core/test/capture-helpers.ts'
import { flightRecorder } from '../src/index.ts'

const SLOW = 150

let dirs: string[] = []
let servers: Server[] = []
let closeFastify: () => PromiseLike<unknown> = async () => {}

beforeEach(async () => {
  dirs = await Promise.all([makeTempDir(), makeTempDir(), makeTempDir()])
})

afterEach(async () => {
  await closeFastify()
  await Promise.all(servers.map(closeServer))
  servers = []
  await resetProcessRecorder()
  await Promise.all(dirs.map(removeDir))
})

async function listen(server: Server): Promise<Server> {
  server.listen(0)
  await once(server, 'listening')
  servers.push(server)
  return server
}

/** An express app, a fastify app and a koa app in this one process, each with its adapter. */
async function startThreeApps() {
  const [expressDir, fastifyDir, koaDir] = dirs
  const expressMiddleware = flightRecorder({ threshold: 50, minAge: 20_000, dir: expressDir })
  const expressApp = express()
  expressApp.use(expressMiddleware)
  expressApp.get('/fast', (_req, res) => {
    res.send('fast')
  })
  expressApp.get('/slow', (_req, res) => {
    setTimeout(() => res.send('slow'), SLOW)
  })

  const { logger, lines } = captureLogger()
  const fastify = Fastify({ loggerInstance: logger })
  closeFastify = () => fastify.close()
  await fastify.register(fastifyFlightRecorder, { threshold: 50, minAge: 30_000, dir: fastifyDir })
  fastify.get('/slow', async () => {
    await sleep(SLOW)
    return 'slow'
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })

  const koaMiddleware = koaFlightRecorder({ threshold: 5_000, dir: koaDir })
  const koa = new Koa()
  koa.use(koaMiddleware)
  koa.use(async (ctx) => {
    if (ctx.path === '/slow') await sleep(SLOW)
    ctx.body = ctx.path
  })

  return {
    express: {
      server: await listen(createServer(expressApp)),
      capture: expressMiddleware.flightRecorder,
    },
    fastify: { server: fastify.server, capture: fastify.flightRecorder, lines },
    koa: {
      server: await listen(createServer(koa.callback())),
      capture: koaMiddleware.flightRecorder,
    },
  }
}

describe('one process, three frameworks', () => {
  it('share one recorder, whose options come from the first adapter', async () => {
    const apps = await startThreeApps()
    const recorder = getProcessRecorder()
    expect(recorder?.enabled).toBe(true)
    expect(apps.express.capture.recorder).toBe(recorder)
    expect(apps.fastify.capture.recorder).toBe(recorder)
    expect(apps.koa.capture.recorder).toBe(recorder)
    expect(recorder?.options.minAge).toBe(20_000)
    const warning = apps.fastify.lines.find((l) => l.level === 40)
    expect(warning).toMatchObject({ ignored: ['minAge'] })
    expect(warning?.msg).toMatch(/first one wins/)
  })

  it('capture every framework in one snapshot, each adapter with its own policy', async () => {
    const apps = await startThreeApps()
    const [expressDir, fastifyDir, koaDir] = dirs
    await request(apps.express.server).get('/fast').expect(200)
    await request(apps.koa.server).get('/fast').expect(200)
    // koa's threshold is 5 s: its slow request is recorded but triggers nothing.
    await request(apps.koa.server).get('/slow').expect(200)
    await eventually(() => expect(apps.koa.capture.stats.requests).toBe(2))
    expect(apps.koa.capture.stats.snapshots + apps.koa.capture.stats.skipped).toBe(0)

    await request(apps.fastify.server).get('/slow').expect(200)
    await eventually(() => expect(apps.fastify.capture.stats.snapshots).toBe(1))
    const [fastifyFile] = await snapshotFiles(fastifyDir)
    const requests = requestsIn(await readSnapshot(fastifyFile))
    expect(requests.map((r) => `${r.framework} ${r.path}`)).toEqual(
      expect.arrayContaining(['express /fast', 'koa /fast', 'koa /slow', 'fastify /slow']),
    )
    expect(await snapshotFiles(expressDir)).toEqual([])
    expect(await snapshotFiles(koaDir)).toEqual([])

    // express has a budget of its own; the recorder runs while koa's is unspent.
    await request(apps.express.server).get('/slow').expect(200)
    await eventually(() => expect(apps.express.capture.stats.snapshots).toBe(1))
    expect(await snapshotFiles(expressDir)).toHaveLength(1)
    expect(getProcessRecorder()?.enabled).toBe(true)
  })
})
