/**
 * Promise 6, transparency: with the recorder on, an app behaves exactly as
 * without it. For express, fastify and koa, the same app runs a table of
 * representative routes (JSON, text, cookies, redirects, streams, big and
 * empty bodies, HEAD, conditional GET, 404, thrown and rejected errors, error
 * statuses, `this` in handlers, the app's own AsyncLocalStorage, a request
 * slow enough to trigger a snapshot) once without the adapter and once with
 * it; every response must be identical.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import Router from '@koa/router'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { FlightRecorder, resetProcessRecorder } from '../../packages/core/src/index.ts'
import { flightRecorder as expressRecorder } from '../../packages/express/src/index.ts'
import { flightRecorder as fastifyRecorder } from '../../packages/fastify/src/index.ts'
import { flightRecorder as koaRecorder } from '../../packages/koa/src/index.ts'
import {
  closeServer,
  eventually,
  listen,
  makeTempDir,
  type Observed,
  observe,
  removeDir,
  trapProcessErrors,
} from './helpers.ts'

/** Requests are sent in this order, each with this init. */
const table: Array<[string, string, RequestInit?]> = [
  ['JSON', '/json'],
  ['text with headers and cookies', '/text'],
  [
    'JSON body echoed',
    '/echo',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":[1,2,{"b":null}]}',
    },
  ],
  [
    'malformed JSON body',
    '/echo',
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' },
  ],
  ['201 with Location', '/created'],
  ['204', '/empty'],
  ['302 redirect', '/redirect'],
  ['streamed body', '/stream'],
  ['512 KiB body', '/big'],
  ['HEAD', '/json', { method: 'HEAD' }],
  ['conditional GET', '/json', { headers: { 'if-none-match': '*' } }],
  ['route params and query', '/params/42?x=1&y=two'],
  [
    'request headers seen by the handler',
    '/headers',
    { headers: { 'x-one': '1', 'x-two': 'two' } },
  ],
  ['404', '/missing'],
  ['a handler that throws', '/throw'],
  ['a handler that rejects', '/reject'],
  ['an error with status 418', '/teapot'],
  ['`this` in the handler', '/this'],
  ["the app's AsyncLocalStorage context", '/als'],
  ['slow enough to trigger a snapshot', '/slow'],
  ['after the snapshot', '/json'],
]

const BIG = 'x'.repeat(512 * 1024)
const als = new AsyncLocalStorage<{ user: string }>()

interface RunningApp {
  url: string
  close(): Promise<void>
  snapshots(): number
}

let dir: string

/** Options of every adapter here: a snapshot on /slow (and only there), kept recording. */
function adapterOptions(recorder?: FlightRecorder) {
  return {
    threshold: 30,
    dir,
    maxSnapshots: Number.POSITIVE_INFINITY,
    keepRecording: true,
    recorder,
  }
}

async function expressApp(withRecorder: boolean, level?: 'causal'): Promise<RunningApp> {
  const app = express()
  // As in production: the default error handler shows no stack trace (a
  // stack names every middleware on it, this adapter's included).
  app.set('env', 'production')
  const recorder = level ? new FlightRecorder({ level }) : undefined
  const middleware = withRecorder ? expressRecorder(adapterOptions(recorder)) : undefined
  if (middleware) app.use(middleware)
  app.use((_req, _res, next) => als.run({ user: 'ada' }, next))
  app.use(express.json())
  app.get('/json', (_req, res) => {
    res.json({ a: 1, list: [1, 2] })
  })
  app.get('/text', (_req, res) => {
    res.set('x-custom', 'yes').cookie('a', '1').cookie('b', '2', { httpOnly: true }).send('hello')
  })
  app.post('/echo', (req, res) => {
    res.json(req.body)
  })
  app.get('/created', (_req, res) => {
    res.status(201).location('/json').send('created')
  })
  app.get('/empty', (_req, res) => {
    res.status(204).end()
  })
  app.get('/redirect', (_req, res) => {
    res.redirect('/json')
  })
  app.get('/stream', (_req, res) => {
    res.type('text/plain')
    Readable.from(['one ', 'two ', 'three']).pipe(res)
  })
  app.get('/big', (_req, res) => {
    res.send(BIG)
  })
  app.get('/params/:id', (req, res) => {
    res.json({ id: req.params.id, query: req.query })
  })
  app.get('/headers', (req, res) => {
    res.json({
      one: req.headers['x-one'],
      two: req.headers['x-two'],
      names: Object.keys(req.headers).sort(),
    })
  })
  app.get('/throw', () => {
    throw new Error('thrown')
  })
  app.get('/reject', async () => {
    await sleep(1)
    throw new Error('rejected')
  })
  app.get('/teapot', (_req, _res, next) => {
    next(Object.assign(new Error('short and stout'), { status: 418 }))
  })
  app.get('/this', function (this: unknown, _req, res) {
    res.send(String(this))
  })
  app.get('/als', async (_req, res) => {
    await sleep(5)
    res.send(als.getStore()?.user ?? 'lost')
  })
  app.get('/slow', async (_req, res) => {
    await sleep(60)
    res.send('slow')
  })
  const { server, url } = await listen(app)
  return {
    url,
    close: async () => {
      await closeServer(server)
      await middleware?.flightRecorder.close()
      recorder?.stop()
    },
    snapshots: () => middleware?.flightRecorder.stats.snapshots ?? 0,
  }
}

async function fastifyApp(withRecorder: boolean): Promise<RunningApp> {
  const app = Fastify()
  if (withRecorder) await app.register(fastifyRecorder, adapterOptions())
  app.addHook('onRequest', (_request, _reply, done) => {
    als.run({ user: 'ada' }, done)
  })
  app.get('/json', async () => ({ a: 1, list: [1, 2] }))
  app.get('/text', async (_request, reply) => {
    reply.header('x-custom', 'yes').header('set-cookie', ['a=1; Path=/', 'b=2; Path=/; HttpOnly'])
    return 'hello'
  })
  app.post('/echo', async (request) => request.body)
  app.get('/created', async (_request, reply) => {
    reply.code(201).header('location', '/json')
    return 'created'
  })
  app.get('/empty', async (_request, reply) => {
    reply.code(204).send()
  })
  app.get('/redirect', async (_request, reply) => reply.redirect('/json'))
  app.get('/stream', async (_request, reply) => {
    reply.type('text/plain')
    return Readable.from(['one ', 'two ', 'three'])
  })
  app.get('/big', async () => BIG)
  app.get('/params/:id', async (request) => ({
    id: (request.params as { id: string }).id,
    query: request.query,
  }))
  app.get('/headers', async (request) => ({
    one: request.headers['x-one'],
    two: request.headers['x-two'],
    names: Object.keys(request.headers).sort(),
  }))
  app.get('/throw', () => {
    throw new Error('thrown')
  })
  app.get('/reject', async () => {
    await sleep(1)
    throw new Error('rejected')
  })
  app.get('/teapot', async () => {
    throw Object.assign(new Error('short and stout'), { statusCode: 418 })
  })
  app.get('/this', async function () {
    return String(this === app)
  })
  app.get('/als', async () => {
    await sleep(5)
    return als.getStore()?.user ?? 'lost'
  })
  app.get('/slow', async () => {
    await sleep(60)
    return 'slow'
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    url,
    close: () => app.close(),
    snapshots: () => (withRecorder ? app.flightRecorder.stats.snapshots : 0),
  }
}

async function koaApp(withRecorder: boolean): Promise<RunningApp> {
  const app = new Koa()
  const middleware = withRecorder ? koaRecorder(adapterOptions()) : undefined
  if (middleware) app.use(middleware)
  app.use((_ctx, next) => als.run({ user: 'ada' }, next))
  const router = new Router()
  router.get('/json', (ctx) => {
    ctx.body = { a: 1, list: [1, 2] }
  })
  router.get('/text', (ctx) => {
    ctx.set('x-custom', 'yes')
    ctx.cookies.set('a', '1', { httpOnly: false })
    ctx.cookies.set('b', '2')
    ctx.body = 'hello'
  })
  router.post('/echo', async (ctx) => {
    let text = ''
    for await (const chunk of ctx.req) text += chunk
    try {
      ctx.body = JSON.parse(text)
    } catch {
      ctx.throw(400, 'bad json')
    }
  })
  router.get('/created', (ctx) => {
    ctx.status = 201
    ctx.set('location', '/json')
    ctx.body = 'created'
  })
  router.get('/empty', (ctx) => {
    ctx.status = 204
  })
  router.get('/redirect', (ctx) => {
    ctx.redirect('/json')
  })
  router.get('/stream', (ctx) => {
    ctx.type = 'text/plain'
    ctx.body = Readable.from(['one ', 'two ', 'three'])
  })
  router.get('/big', (ctx) => {
    ctx.body = BIG
  })
  router.get('/params/:id', (ctx) => {
    ctx.body = { id: ctx.params.id, query: ctx.query }
  })
  router.get('/headers', (ctx) => {
    ctx.body = {
      one: ctx.headers['x-one'],
      two: ctx.headers['x-two'],
      names: Object.keys(ctx.headers).sort(),
    }
  })
  router.get('/throw', () => {
    throw new Error('thrown')
  })
  router.get('/reject', async () => {
    await sleep(1)
    throw new Error('rejected')
  })
  router.get('/teapot', (ctx) => {
    ctx.throw(418, 'short and stout')
  })
  router.get('/this', function (this: unknown, ctx) {
    ctx.body = String(this)
  })
  router.get('/als', async (ctx) => {
    await sleep(5)
    ctx.body = als.getStore()?.user ?? 'lost'
  })
  router.get('/slow', async (ctx) => {
    await sleep(60)
    ctx.body = 'slow'
  })
  app.use(router.routes()).use(router.allowedMethods())
  app.silent = true
  const { server, url } = await listen(app.callback())
  return {
    url,
    close: async () => {
      await closeServer(server)
      await middleware?.flightRecorder.close()
    },
    snapshots: () => middleware?.flightRecorder.stats.snapshots ?? 0,
  }
}

const frameworks: Record<string, (withRecorder: boolean) => Promise<RunningApp>> = {
  express: (withRecorder) => expressApp(withRecorder),
  'express, causal level': (withRecorder) => expressApp(withRecorder, 'causal'),
  fastify: fastifyApp,
  koa: koaApp,
}

/** Runs the table against an app, in order; returns the responses. */
async function runTable(app: RunningApp): Promise<Observed[]> {
  const responses: Observed[] = []
  for (const [, path, init] of table) responses.push(await observe(`${app.url}${path}`, init))
  return responses
}

beforeAll(async () => {
  dir = await makeTempDir()
})

afterAll(async () => {
  await removeDir(dir)
})

describe.each(Object.keys(frameworks))('%s', (framework) => {
  const results: { without: Observed[]; with: Observed[]; snapshots: number } = {
    without: [],
    with: [],
    snapshots: 0,
  }
  let trap: ReturnType<typeof trapProcessErrors>

  beforeAll(async () => {
    trap = trapProcessErrors()
    // express's default error handler logs each error; the responses are what is compared.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {})
    const bare = await frameworks[framework](false)
    results.without = await runTable(bare)
    await bare.close()
    const recorded = await frameworks[framework](true)
    results.with = await runTable(recorded)
    // The slow route triggered a snapshot while the table ran on.
    await eventually(() => expect(recorded.snapshots()).toBeGreaterThanOrEqual(1))
    results.snapshots = recorded.snapshots()
    await recorded.close()
    await resetProcessRecorder()
    quiet.mockRestore()
    trap.release()
  })

  it.each(table.map(([name], i) => [name, i] as const))('%s: the same response', (_, i) => {
    expect(results.with[i]).toEqual(results.without[i])
  })

  it('the recorder was on (it captured), and nothing escaped', () => {
    expect(results.snapshots).toBeGreaterThanOrEqual(1)
    expect(results.without.find((r) => r.body === 'lost')).toBeUndefined()
    expect(trap.uncaught).toEqual([])
    expect(trap.unhandled).toEqual([])
  })
})
