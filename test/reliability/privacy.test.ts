/**
 * Promise 5, privacy: by default no query string, header value, cookie,
 * body, credential, error message or client address reaches a snapshot or
 * the logs; `allow` opens exactly the fields it names. Snapshot files are
 * created with mode 0600 inside `scope.dir`, and never through a symlink at the
 * temporary or the final path.
 */
import crypto from 'node:crypto'
import { lstat, mkdir, readdir, readFile, readlink, stat, symlink } from 'node:fs/promises'
import { get } from 'node:http'
import { syncBuiltinESMExports } from 'node:module'
import { join } from 'node:path'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { FlightRecorder, type FlightRecorderOptions } from '../../packages/core/src/index.ts'
import { flightRecorder } from '../../packages/express/src/index.ts'
import {
  eventually,
  listen,
  makeTempDir,
  rawRequest,
  readSnapshot,
  recordingLogger,
  removeDir,
  snapshotFiles,
  statusOf,
  useTestScope,
} from './helpers.ts'

/** Every secret the client and the app send, by where it is sent. */
const secret = {
  query: 'SECRET-QUERY-7f3a',
  authorization: 'SECRET-AUTH-91bc',
  apiKey: 'SECRET-APIKEY-5d2e',
  cookie: 'SECRET-COOKIE-c4a1',
  body: 'SECRET-BODY-0e77',
  requestUserinfo: 'SECRET-USERINFO-a9d3',
  errorMessage: 'SECRET-ERROR-6b18',
  upstreamQuery: 'SECRET-UPSTREAM-QUERY-3c5f',
  upstreamAuthorization: 'SECRET-UPSTREAM-AUTH-8e20',
  upstreamPassword: 'SECRET-UPSTREAM-PASSWORD-1f9d',
  requestId: 'REQUEST-ID-4d4d',
}

const scope = useTestScope()

/**
 * An app (express, with the adapter writing to `scope.dir`) whose handlers call an
 * upstream with secrets of their own, plus a client that sends secrets in
 * every place a request has. Returns the snapshot text and every log line.
 */
async function sendSecretsEverywhere(recorderOptions?: FlightRecorderOptions) {
  const logger = recordingLogger()
  const upstream = await listen((req, res) => {
    req.resume()
    res.end('upstream')
  })
  scope.servers.push(upstream.server)
  // By host name, so that the client's address (127.0.0.1) is not in any URL.
  const upstreamUrl = upstream.url.replace('127.0.0.1', 'localhost')

  const recorder = recorderOptions ? new FlightRecorder({ ...recorderOptions, logger }) : undefined
  // Only /slow triggers, so the snapshot holds every request before it.
  const middleware = flightRecorder({
    trigger: (request) => request.route === '/slow',
    dir: scope.dir,
    logger,
    recorder,
  })
  const app = express()
  app.use(express.json())
  app.use(middleware)
  app.post('/login', async (req, res) => {
    const reply = await fetch(`${upstreamUrl}/check?api_key=${secret.upstreamQuery}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret.upstreamAuthorization}` },
      body: JSON.stringify(req.body),
    })
    await reply.text()
    // node:http with credentials in the URL (sent as Basic authorization).
    await new Promise<void>((resolve, reject) => {
      const target = new URL(`${upstreamUrl}/basic?token=${secret.upstreamQuery}`)
      target.username = 'service'
      target.password = secret.upstreamPassword
      get(target, (response) => {
        response.resume()
        response.on('end', resolve)
      }).on('error', reject)
    })
    res.json({ ok: true })
  })
  app.get('/fail', () => {
    throw new Error(secret.errorMessage)
  })
  app.get('/slow', (_req, res) => {
    setTimeout(() => res.send('slow'), 40)
  })
  app.use((_req, res) => {
    res.send('any')
  })
  const listening = await listen(app)
  scope.servers.push(listening.server)
  // The client too calls by name: its own calls are recorded as outgoing calls.
  const url = listening.url.replace('127.0.0.1', 'localhost')

  const headers = {
    authorization: `Bearer ${secret.authorization}`,
    'x-api-key': secret.apiKey,
    'x-request-id': secret.requestId,
    cookie: `session=${secret.cookie}; theme=dark`,
    'content-type': 'application/json',
  }
  const login = await fetch(`${url}/login?token=${secret.query}`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ user: 'ada', password: secret.body }),
  })
  expect(login.status).toBe(200)
  await login.text()
  expect((await fetch(`${url}/fail?token=${secret.query}`, { headers })).status).toBe(500)
  // An absolute-form request target with user info, as a proxy client sends it.
  const absolute = await rawRequest(
    url,
    `GET http://admin:${secret.requestUserinfo}@example.com/admin?token=${secret.query} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n`,
  )
  expect(statusOf(absolute)).toBe(200)
  // The slow one triggers the snapshot of everything above.
  await (await fetch(`${url}/slow?token=${secret.query}`, { headers })).text()
  const capture = middleware.flightRecorder
  await eventually(() => expect(capture.stats.snapshots).toBe(1))
  const [path] = await snapshotFiles(scope.dir)
  await readSnapshot(path)
  const text = await readFile(path, 'utf8')
  const logs = JSON.stringify(logger.lines) + scope.trap.warnings.map((w) => w.message).join('\n')
  return { text, logs, path }
}

/** The secrets found in `text`, by name. */
function leaked(text: string, names: Array<keyof typeof secret>): string[] {
  return names.filter((name) => text.includes(secret[name]))
}

const everySecret = Object.keys(secret) as Array<keyof typeof secret>

describe('by default', () => {
  it('no query string, header, cookie, body, credential or error message reaches the snapshot or the logs', async () => {
    const { text, logs } = await sendSecretsEverywhere()
    expect(leaked(text, everySecret)).toEqual([])
    expect(leaked(logs, everySecret)).toEqual([])
    // The requests are there, only their secrets are not.
    expect(text).toContain('/login')
    expect(text).toContain('/check')
  })

  it('no client address reaches the snapshot (clients connect from 127.0.0.1; every URL uses a name)', async () => {
    const { text } = await sendSecretsEverywhere()
    expect(text).not.toContain('127.0.0.1')
    expect(text).not.toContain('::ffff:')
  })
})

describe('allow', () => {
  it('queryString and headers open exactly those fields', async () => {
    const { text } = await sendSecretsEverywhere({
      allow: { queryString: true, headers: ['X-Request-Id'] },
    })
    expect(leaked(text, ['query', 'requestId', 'upstreamQuery'])).toEqual([
      'query',
      'requestId',
      'upstreamQuery',
    ])
    expect(
      leaked(text, [
        'authorization',
        'apiKey',
        'cookie',
        'body',
        'requestUserinfo',
        'errorMessage',
        'upstreamAuthorization',
        'upstreamPassword',
      ]),
    ).toEqual([])
  })
})

describe('snapshot files', () => {
  async function startApp() {
    const middleware = flightRecorder({ threshold: 10_000, dir: scope.dir })
    const app = express().use(middleware)
    app.get('/', (_req, res) => {
      res.send('ok')
    })
    const { server, url } = await listen(app)
    scope.servers.push(server)
    await (await fetch(url)).text()
    return middleware.flightRecorder
  }

  /**
   * Plants a symlink to `target` at `nameOf(ms)` for every millisecond from
   * now until at least one second ahead of the clock once done: every name a
   * snapshot started right after can take.
   */
  async function plantSymlinks(target: string, nameOf: (stamp: string) => string): Promise<void> {
    let next = Date.now()
    while (next < Date.now() + 1000) {
      const links: Array<Promise<void>> = []
      for (const end = next + 500; next < end; next++) {
        const stamp = new Date(next).toISOString().replace(/[-:]/g, '')
        links.push(symlink(target, join(scope.dir, nameOf(stamp))))
      }
      await Promise.all(links)
    }
  }

  it('are created with mode 0600, inside dir', async () => {
    const capture = await startApp()
    const { path } = await capture.snapshot()
    expect(path).toBeDefined()
    const file = path as string
    expect(file.startsWith(`${scope.dir}/`)).toBe(true)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await readdir(scope.dir)).toEqual([file.slice(scope.dir.length + 1)])
  })

  it('replace a symlink at the final path instead of writing through it', async () => {
    const outside = await makeTempDir('flightrec-outside-')
    const victim = join(outside, 'victim')
    try {
      const capture = await startApp()
      await plantSymlinks(victim, (stamp) => `flightrec-${stamp}-${process.pid}.json`)
      const { path } = await capture.snapshot()
      const file = path as string
      expect((await lstat(file)).isFile()).toBe(true)
      await readSnapshot(file)
      await expect(stat(victim)).rejects.toMatchObject({ code: 'ENOENT' })
    } finally {
      await removeDir(outside)
    }
  })

  it('never write through a symlink at the temporary path', async () => {
    const outside = await makeTempDir('flightrec-outside-')
    const victim = join(outside, 'victim')
    const original = crypto.randomBytes
    try {
      const capture = await startApp()
      // An attacker who could predict the temporary name: make it predictable.
      crypto.randomBytes = ((size: number) => Buffer.alloc(size)) as typeof crypto.randomBytes
      syncBuiltinESMExports()
      const zeros = '0'.repeat(12)
      await plantSymlinks(victim, (stamp) => `.flightrec-${stamp}-${process.pid}.json.tmp-${zeros}`)
      await expect(capture.snapshot()).rejects.toBeDefined()
      await expect(stat(victim)).rejects.toMatchObject({ code: 'ENOENT' })
      // Nothing else was written, and the planted links are as they were.
      const names = await readdir(scope.dir)
      expect(names.every((n) => n.startsWith('.flightrec-'))).toBe(true)
      expect(await readlink(join(scope.dir, names[0]))).toBe(victim)
    } finally {
      crypto.randomBytes = original
      syncBuiltinESMExports()
      await removeDir(outside)
    }
  })

  it('a missing scope.dir is created with mode 0700', async () => {
    const nested = join(scope.dir, 'nested', 'snapshots')
    const middleware = flightRecorder({ threshold: 10_000, dir: nested })
    scope.servers.push((await listen(express().use(middleware))).server)
    await middleware.flightRecorder.snapshot()
    expect((await stat(nested)).mode & 0o777).toBe(0o700)
    await mkdir(nested, { recursive: true })
    expect((await snapshotFiles(nested)).length).toBe(1)
  })
})
