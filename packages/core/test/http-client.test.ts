/**
 * The HTTP client source: outgoing calls made with undici, global fetch and
 * node:http to a real server on port 0.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { request as undiciRequest } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { FlightRecorder } from '../src/index.ts'
import type { SnapshotFile, TraceEvent } from '../src/snapshot/trace-format.ts'
import { close, listen, nodeMajor, requestsByPath, snapshot } from './helpers.ts'

let recorder: FlightRecorder | undefined
const servers: http.Server[] = []
afterEach(async () => {
  recorder?.stop()
  recorder = undefined
  for (const s of servers.splice(0)) await close(s)
})

async function upstream(): Promise<string> {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url?.startsWith('/missing') ? 404 : 200
    res.end('{}')
  })
  servers.push(server)
  return listen(server)
}

function startRecorder(options?: ConstructorParameters<typeof FlightRecorder>[0]): FlightRecorder {
  recorder = new FlightRecorder(options)
  recorder.start()
  return recorder
}

/** The `b` event of every outgoing call, by URL. */
function callsByUrl(file: SnapshotFile): Map<string, TraceEvent> {
  const out = new Map<string, TraceEvent>()
  for (const e of file.traceEvents) {
    if (e.ph === 'b' && e.args?.type === 'http-client') out.set(String(e.args.url), e)
  }
  return out
}

async function loadWithUndici(url: string) {
  const res = await undiciRequest(url)
  await res.body.text()
}

async function loadWithFetch(url: string) {
  await (await fetch(url)).text()
}

function loadWithNodeHttp(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => res.resume().on('end', resolve)).on('error', reject)
  })
}

describe('http-client source', () => {
  it('records calls made with undici, fetch and node:http: method, URL, status, duration and caller', async () => {
    const base = await upstream()
    const fr = startRecorder()
    await loadWithUndici(`${base}/undici`)
    await loadWithFetch(`${base}/fetch`)
    await loadWithNodeHttp(`${base}/missing/node-http`)
    const { file } = await snapshot(fr)
    const calls = callsByUrl(file)
    expect(calls.get(`${base}/undici`)?.args).toMatchObject({
      method: 'GET',
      status: 200,
      callerFunction: 'loadWithUndici',
    })
    expect(calls.get(`${base}/fetch`)?.args).toMatchObject({
      status: 200,
      callerFunction: 'loadWithFetch',
    })
    const nodeHttp = calls.get(`${base}/missing/node-http`)
    expect(nodeHttp?.args).toMatchObject({ status: 404, callerFunction: 'loadWithNodeHttp' })
    expect(String(nodeHttp?.args?.callerFile)).toMatch(/http-client\.test\.ts$/)
    expect(nodeHttp?.args?.callerLine).toBeGreaterThan(0)
    expect(nodeHttp?.args?.durationMs).toBeGreaterThanOrEqual(0)
    expect(nodeHttp?.cat).toBe('flightrec.http-client')
    expect(file.metadata?.flightrec?.counts.outgoingCalls).toBe(3)
  })

  it('records a failed call with its error and no status', async () => {
    // A port that was just free: the connection is refused.
    const probe = http.createServer()
    const base = await listen(probe)
    await close(probe)
    const fr = startRecorder()
    const err = await fetch(`${base}/down`).catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    const { file } = await snapshot(fr)
    const call = callsByUrl(file).get(`${base}/down`)
    expect(call?.name).toMatch(/failed$/)
    expect(String(call?.args?.error)).toMatch(/ECONNREFUSED/)
    expect(call?.args?.status).toBeUndefined()
  })

  it('records a call aborted by its caller as failed', async () => {
    const server = http.createServer(() => {})
    servers.push(server)
    const base = await listen(server)
    const fr = startRecorder()
    const controller = new AbortController()
    const pending = fetch(`${base}/hang`, { signal: controller.signal }).catch((e: Error) => e)
    setTimeout(() => controller.abort(), 30)
    expect(await pending).toBeInstanceOf(Error)
    const { file } = await snapshot(fr)
    const call = callsByUrl(file).get(`${base}/hang`)
    expect(String(call?.args?.error)).toMatch(/abort/i)
  })

  it('strips query strings and credentials by default, and keeps queries with allow.queryString', async () => {
    const base = await upstream()
    const { port } = servers[0].address() as AddressInfo
    let fr = startRecorder()
    await loadWithNodeHttp(`http://user:pass@127.0.0.1:${port}/q?token=secret`)
    await loadWithFetch(`${base}/f?token=secret`)
    let { file } = await snapshot(fr)
    expect([...callsByUrl(file).keys()].sort()).toEqual([`${base}/f`, `${base}/q`])
    expect(JSON.stringify(file)).not.toMatch(/token=secret|user:pass/)
    fr.stop()
    fr = startRecorder({ allow: { queryString: true } })
    await loadWithFetch(`${base}/f?page=2`)
    ;({ file } = await snapshot(fr))
    expect([...callsByUrl(file).keys()]).toEqual([`${base}/f?page=2`])
  })

  it('attributes a call made while serving a request to it (Node.js >= 24), else records it on its own', async () => {
    const base = await upstream()
    const fr = startRecorder()
    const front = http.createServer(async (_req, res) => {
      await loadWithFetch(`${base}/inner`)
      res.end('done')
    })
    servers.push(front)
    const frontUrl = await listen(front)
    await loadWithFetch(`${frontUrl}/outer`)
    const { file } = await snapshot(fr)
    const [outer] = requestsByPath(file).get('/outer') ?? []
    const inner = callsByUrl(file).get(`${base}/inner`)
    if (nodeMajor >= 24) {
      expect(inner?.cat).toBe('flightrec.request')
      expect(inner?.id).toBe(outer.id)
      expect(inner?.args?.requestId).toBe(outer.args?.requestId)
      // Named only for calls outside a request: a stack capture costs tens of µs.
      expect(inner?.args?.callerFunction).toBeUndefined()
    } else {
      expect(inner?.cat).toBe('flightrec.http-client')
      expect(inner?.args?.requestId).toBeUndefined()
      expect(inner?.args?.callerFunction).toBeDefined()
    }
  })
})
