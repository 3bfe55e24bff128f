/**
 * The HTTP server source, against a real node:http server on port 0 and real
 * clients (undici, global fetch, node:http).
 */
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool, request as undiciRequest } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { describeRequest, FlightRecorder, markRequestError } from '../src/index.ts'
import { close, eventsOf, listen, requestsByPath, snapshot } from './helpers.ts'

let recorder: FlightRecorder | undefined
let server: http.Server | undefined
afterEach(async () => {
  recorder?.stop()
  recorder = undefined
  if (server) await close(server)
  server = undefined
})

async function start(
  handler: http.RequestListener,
  options?: ConstructorParameters<typeof FlightRecorder>[0],
): Promise<string> {
  recorder = new FlightRecorder(options)
  recorder.start()
  server = http.createServer(handler)
  return listen(server)
}

const ok: http.RequestListener = (_req, res) => {
  res.setHeader('content-type', 'text/plain')
  res.end('ok')
}

describe('http-server source', () => {
  it('records requests made by undici, fetch and node:http with method, path, status and duration', async () => {
    const url = await start((req, res) => {
      res.statusCode = req.url?.startsWith('/missing') ? 404 : 200
      res.end('ok')
    })
    const undici = await undiciRequest(`${url}/from/undici`, { method: 'POST', body: 'x' })
    await undici.body.text()
    await (await fetch(`${url}/from/fetch`)).text()
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${url}/missing/node-http`, (res) => res.resume().on('end', resolve))
        .on('error', reject)
    })
    const { file } = await snapshot(recorder as FlightRecorder)
    const requests = requestsByPath(file)
    expect(requests.get('/from/undici')?.[0].args).toMatchObject({ method: 'POST', status: 200 })
    expect(requests.get('/from/fetch')?.[0].args).toMatchObject({ method: 'GET', status: 200 })
    const notFound = requests.get('/missing/node-http')?.[0]
    expect(notFound?.name).toBe('GET /missing/node-http 404')
    expect(notFound?.args?.durationMs).toBeGreaterThanOrEqual(0)
    expect(notFound?.args?.inFlight).toBeUndefined()
    // Each request's slice ends on its own track.
    const id = notFound?.id
    expect(file.traceEvents.filter((e) => e.id === id && e.ph === 'e')).toHaveLength(1)
  })

  it('records a request the client aborted as aborted', async () => {
    let arrived: () => void = () => {}
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve
    })
    const url = await start((req, res) => {
      arrived()
      // Never answers; the client gives up.
      req.on('close', () => res.destroy())
    })
    const controller = new AbortController()
    const pending = fetch(`${url}/slow`, { signal: controller.signal }).catch((err: Error) => err)
    await arrival
    controller.abort()
    expect(await pending).toBeInstanceOf(Error)
    await sleep(50)
    const { file } = await snapshot(recorder as FlightRecorder)
    const [slow] = requestsByPath(file).get('/slow') ?? []
    expect(slow.args).toMatchObject({ aborted: true })
    expect(slow.args?.inFlight).toBeUndefined()
    expect(slow.name).toContain('(aborted)')
  })

  it('on a keep-alive connection, marks aborted only the request open when it closed', async () => {
    let arrived: () => void = () => {}
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve
    })
    const url = await start((req, res) => {
      if (req.url !== '/hang') return void res.end('ok')
      arrived()
      req.on('close', () => res.destroy())
    })
    const pool = new Pool(url, { connections: 1 })
    for (const path of ['/first', '/second'])
      await (await pool.request({ path, method: 'GET' })).body.text()
    const controller = new AbortController()
    const pending = pool
      .request({ path: '/hang', method: 'GET', signal: controller.signal })
      .catch((e: Error) => e)
    await arrival
    controller.abort()
    expect(await pending).toBeInstanceOf(Error)
    await pool.close()
    await sleep(50)
    const { file } = await snapshot(recorder as FlightRecorder)
    const requests = requestsByPath(file)
    expect(requests.get('/first')?.[0].args).toMatchObject({ status: 200 })
    expect(requests.get('/first')?.[0].args?.aborted).toBeUndefined()
    expect(requests.get('/second')?.[0].args?.aborted).toBeUndefined()
    expect(requests.get('/hang')?.[0].args).toMatchObject({ aborted: true })
  })

  it('shows a request still running at the snapshot as in flight', async () => {
    let release: () => void = () => {}
    let arrived: () => void = () => {}
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve
    })
    const url = await start((_req, res) => {
      arrived()
      release = () => res.end('late')
    })
    const pending = fetch(`${url}/pending`).then((r) => r.text())
    await arrival
    const { file } = await snapshot(recorder as FlightRecorder)
    release()
    await pending
    const [request] = requestsByPath(file).get('/pending') ?? []
    expect(request.args).toMatchObject({ inFlight: true })
    expect(request.args?.status).toBeUndefined()
  })

  it('strips query strings by default', async () => {
    const url = await start(ok)
    await (await fetch(`${url}/search?q=secret&page=2#frag`)).text()
    const { file } = await snapshot(recorder as FlightRecorder)
    expect([...requestsByPath(file).keys()]).toEqual(['/search'])
    expect(JSON.stringify(file)).not.toContain('secret')
  })

  it('keeps query strings with allow.queryString', async () => {
    const url = await start(ok, { allow: { queryString: true } })
    await (await fetch(`${url}/search?q=kept`)).text()
    const { file } = await snapshot(recorder as FlightRecorder)
    expect([...requestsByPath(file).keys()]).toEqual(['/search?q=kept'])
  })

  it('records the allowed headers and no other', async () => {
    const url = await start(ok, { allow: { headers: ['X-Tenant', 'accept'] } })
    await (
      await fetch(`${url}/h`, {
        headers: { 'x-tenant': 'acme', accept: 'text/plain', authorization: 'Bearer secret' },
      })
    ).text()
    const { file } = await snapshot(recorder as FlightRecorder)
    const [request] = requestsByPath(file).get('/h') ?? []
    expect(request.args?.headers).toEqual({ 'x-tenant': 'acme', accept: 'text/plain' })
    expect(JSON.stringify(file)).not.toContain('secret')
  })

  it('records no header by default', async () => {
    const url = await start(ok)
    await (await fetch(`${url}/h`, { headers: { 'x-tenant': 'acme' } })).text()
    const { file } = await snapshot(recorder as FlightRecorder)
    expect(requestsByPath(file).get('/h')?.[0].args?.headers).toBeUndefined()
    expect(JSON.stringify(file)).not.toContain('acme')
  })

  it('adds what an adapter knows: route, framework, handler, and the error class', async () => {
    const url = await start((req, res) => {
      describeRequest(req, { framework: 'test', route: '/users/:id', handler: 'getUser' })
      markRequestError(req, new TypeError('user 42 has secret data'))
      res.statusCode = 500
      res.end()
    })
    await (await fetch(`${url}/users/42`)).text()
    const { file } = await snapshot(recorder as FlightRecorder)
    const [request] = requestsByPath(file).get('/users/42') ?? []
    expect(request.name).toBe('GET /users/:id 500')
    expect(request.args).toMatchObject({
      framework: 'test',
      route: '/users/:id',
      handler: 'getUser',
      errored: true,
      error: 'TypeError',
    })
    expect(JSON.stringify(file)).not.toContain('secret data')
  })

  it('counts requests in the snapshot metadata and in the in-flight counter', async () => {
    const url = await start(ok, { counterInterval: 20 })
    for (let i = 0; i < 3; i++) await (await fetch(`${url}/n/${i}`)).text()
    await sleep(60)
    const { file } = await snapshot(recorder as FlightRecorder)
    expect(file.metadata?.flightrec?.counts.requests).toBe(3)
    const loop = eventsOf(file, 'flightrec.counter').filter((e) => e.name === 'event loop')
    expect(loop.length).toBeGreaterThan(0)
    expect(loop.every((e) => typeof e.args?.inflightRequests === 'number')).toBe(true)
  })
})
