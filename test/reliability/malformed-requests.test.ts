/**
 * Promise 4, malformed requests: bad URLs, huge headers, aborted bodies,
 * pipelining, request smuggling attempts, sent as raw bytes, get byte for
 * byte the response they get without the recorder, are recorded without a
 * recorder error, and the snapshot stays a valid trace.
 */
import type { Server } from 'node:http'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resetProcessRecorder } from '../../packages/core/src/index.ts'
import type { SnapshotFile } from '../../packages/core/src/snapshot/trace-format.ts'
import { flightRecorder } from '../../packages/express/src/index.ts'
import {
  closeServer,
  eventually,
  listen,
  makeTempDir,
  memorySink,
  parseSnapshot,
  rawRequest,
  removeDir,
  trapProcessErrors,
} from './helpers.ts'

const close = 'Connection: close\r\n'

/** [name, raw request bytes, hang up right after sending]. */
const requests: Array<[string, string | Buffer, boolean]> = [
  ['bad percent-encoding', `GET /%zz/%%30/a%?x=%ff HTTP/1.1\r\nHost: a\r\n${close}\r\n`, false],
  [
    'absolute URL with credentials',
    `GET http://user:pw@example.com/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n${close}\r\n`,
    false,
  ],
  ['asterisk form', `OPTIONS * HTTP/1.1\r\nHost: a\r\n${close}\r\n`, false],
  [
    'non-ASCII bytes in the path',
    Buffer.concat([
      Buffer.from('GET /caf'),
      Buffer.from([0xc3, 0xa9, 0x2f, 0xff]),
      Buffer.from(` HTTP/1.1\r\nHost: a\r\n${close}\r\n`),
    ]),
    false,
  ],
  ['a 12 KiB URL', `GET /${'u'.repeat(12 * 1024)} HTTP/1.1\r\nHost: a\r\n${close}\r\n`, false],
  [
    'a 20 KiB URL (over the header limit)',
    `GET /${'u'.repeat(20 * 1024)} HTTP/1.1\r\nHost: a\r\n${close}\r\n`,
    false,
  ],
  [
    'a 15 KiB header value',
    `GET /big-header HTTP/1.1\r\nHost: a\r\nX-Big: ${'h'.repeat(15 * 1024)}\r\n${close}\r\n`,
    false,
  ],
  [
    '500 headers',
    `GET /many-headers HTTP/1.1\r\nHost: a\r\n${'a:b\r\n'.repeat(500)}${close}\r\n`,
    false,
  ],
  [
    '2500 headers (over the header limit)',
    `GET /too-many-headers HTTP/1.1\r\nHost: a\r\n${'a:b\r\n'.repeat(2500)}${close}\r\n`,
    false,
  ],
  [
    'obs-text in a header value',
    Buffer.concat([
      Buffer.from('GET /obs HTTP/1.1\r\nHost: a\r\nX-Obs: '),
      Buffer.from([0xe9, 0xff]),
      Buffer.from(`\r\n${close}\r\n`),
    ]),
    false,
  ],
  ['no Host header in HTTP/1.1', `GET /no-host HTTP/1.1\r\n${close}\r\n`, false],
  ['HTTP/1.0 without Host', 'GET /old HTTP/1.0\r\n\r\n', false],
  ['an invalid method', `FL!GHT /x HTTP/1.1\r\nHost: a\r\n${close}\r\n`, false],
  ['a NUL byte in the path', `GET /a\u0000b HTTP/1.1\r\nHost: a\r\n${close}\r\n`, false],
  [
    'Content-Length with Transfer-Encoding (smuggling)',
    `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n${close}\r\n0\r\n\r\n`,
    false,
  ],
  [
    'a bad chunk size',
    `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n${close}\r\nzz\r\nhello\r\n0\r\n\r\n`,
    false,
  ],
  [
    'three pipelined requests',
    `GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p2?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p3 HTTP/1.1\r\nHost: a\r\n${close}\r\n`,
    false,
  ],
  [
    'Expect: 100-continue',
    `POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n${close}\r\nhello`,
    false,
  ],
  [
    'a body cut off by the client',
    `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n${'b'.repeat(1000)}`,
    true,
  ],
  ['a client gone before the response', `GET /slow HTTP/1.1\r\nHost: a\r\n\r\n`, true],
]

/** An express app that answers every request with what it saw (the body's length for POST). */
function makeApp(withRecorder: boolean, dir: string) {
  const app = express()
  let capture: ReturnType<typeof flightRecorder>['flightRecorder'] | undefined
  if (withRecorder) {
    const middleware = flightRecorder({ threshold: 10_000, dir, keepRecording: true })
    capture = middleware.flightRecorder
    app.use(middleware)
  }
  app.use((req, res) => {
    if (req.path === '/slow') {
      setTimeout(() => res.send('slow'), 100)
      return
    }
    let length = 0
    req.on('data', (chunk: Buffer) => {
      length += chunk.length
    })
    req.on('end', () => {
      res.send(`${req.method} ${req.originalUrl} ${req.headers['x-big']?.length ?? 0} ${length}`)
    })
    req.on('error', () => {})
  })
  return { app, capture }
}

/** The raw responses, minus the Date header (the only thing that differs between runs). */
async function sendAll(url: string): Promise<string[]> {
  const responses: string[] = []
  for (const [, raw, hangUp] of requests) {
    const response = await rawRequest(url, raw, { destroyAfterWrite: hangUp })
    responses.push(response.replace(/^Date: .*\r\n/gim, ''))
  }
  return responses
}

let dir: string
const servers: Server[] = []
let without: string[]
let withRecorder: string[]
let snapshot: SnapshotFile
let errorCounts: Record<string, number>
let trap: ReturnType<typeof trapProcessErrors>

beforeAll(async () => {
  dir = await makeTempDir()
  trap = trapProcessErrors()
  const bare = await listen(makeApp(false, dir).app)
  servers.push(bare.server)
  without = await sendAll(bare.url)

  const recorded = makeApp(true, dir)
  const app = await listen(recorded.app)
  servers.push(app.server)
  withRecorder = await sendAll(app.url)
  const recorder = recorded.capture?.recorder
  if (!recorder) throw new Error('the adapter has no recorder')
  // The two hung-up requests end (aborted) once the server notices.
  await eventually(() => expect(recorded.capture?.stats.requests).toBeGreaterThanOrEqual(14))
  await new Promise((resolve) => setTimeout(resolve, 150))
  const sink = memorySink()
  await recorder.writeTo(sink)
  snapshot = parseSnapshot(sink.text())
  errorCounts = recorder.errorCounts
})

afterAll(async () => {
  for (const server of servers) await closeServer(server)
  await resetProcessRecorder()
  trap.release()
  await removeDir(dir)
})

describe('malformed requests', () => {
  it.each(requests.map(([name], i) => [name, i] as const))(
    '%s: the same response as without the recorder',
    (_, i) => {
      expect(withRecorder[i]).toBe(without[i])
    },
  )

  it('are recorded without a recorder error, in a valid snapshot', () => {
    expect(errorCounts).toEqual({})
    expect(trap.uncaught).toEqual([])
    expect(trap.unhandled).toEqual([])
    const recorded = snapshot.traceEvents
      .filter(
        (e) => e.ph === 'b' && e.cat === 'flightrec.request' && e.args?.requestId !== undefined,
      )
      .map((e) => e.args as { path: string; aborted?: boolean })
    const paths = recorded.map((r) => r.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        '/%zz/%%30/a%',
        '/big-header',
        '/many-headers',
        '/p1',
        '/p2',
        '/p3',
        '/old',
      ]),
    )
    expect(paths.some((p) => p.startsWith(`/${'u'.repeat(100)}`))).toBe(true)
    // No query string reached the trace.
    expect(paths.some((p) => p.includes('?'))).toBe(false)
    const aborted = recorded.filter((r) => r.aborted).map((r) => r.path)
    expect(aborted).toEqual(expect.arrayContaining(['/echo', '/slow']))
  })
})
