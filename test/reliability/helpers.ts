/**
 * Shared by the reliability tests (promises in docs/reliability.md): each
 * test's scope (a temporary directory, servers and recorders undone after
 * it), real servers on port 0, raw HTTP over sockets, a recording logger, a
 * trap for uncaught errors, forced GC, and the ring's memory bound.
 */
import { once } from 'node:events'
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer, type RequestListener, type Server } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import v8 from 'node:v8'
import vm from 'node:vm'
import { afterEach, beforeEach, expect } from 'vitest'
import {
  FlightRecorder,
  type FlightRecorderOptions,
  type Logger,
  resetProcessRecorder,
  validateTrace,
} from '../../packages/core/src/index.ts'
import type { SnapshotFile } from '../../packages/core/src/snapshot/trace-format.ts'

/** The workspace root. */
export const root = new URL('../../', import.meta.url).pathname

/** A fresh temporary directory; remove it with {@link removeDir}. */
export function makeTempDir(prefix = 'flightrec-reliability-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true })
}

/** Finished snapshot files in `dir` (temporary files start with a dot). */
export async function snapshotFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir)
  return names
    .filter((n) => /^flightrec-\d{8}T\d{6}\.\d{3}Z-\d+\.json$/.test(n))
    .map((n) => join(dir, n))
}

/** Parses a snapshot's text and fails the test if it is not a valid flightrec trace. */
export function parseSnapshot(text: string): SnapshotFile {
  const file = JSON.parse(text) as SnapshotFile
  const problems = validateTrace(file, { requireFlightrec: true })
  if (problems.length > 0) throw new Error(`invalid snapshot: ${problems.join('; ')}`)
  return file
}

export async function readSnapshot(path: string): Promise<SnapshotFile> {
  return parseSnapshot(await readFile(path, 'utf8'))
}

/** A Writable that keeps what it is given; `text()` is everything so far. */
export function memorySink(): Writable & { text(): string } {
  const chunks: Buffer[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk)
      callback()
    },
  })
  return Object.assign(sink, { text: () => Buffer.concat(chunks).toString('utf8') })
}

/** Listens on an ephemeral port of 127.0.0.1 and resolves with the server's base URL. */
export async function listen(
  target: Server | RequestListener,
  backlog = 511,
): Promise<{ server: Server; url: string }> {
  const server = typeof target === 'function' ? createServer(target) : target
  server.listen({ port: 0, host: '127.0.0.1', backlog })
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  return { server, url: `http://127.0.0.1:${address.port}` }
}

/** Closes a server, ending idle keep-alive connections. */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

/** A finished response reduced to what a client can observe. */
export interface Observed {
  status: number
  headers: Record<string, string>
  body: string
}

/** Headers whose value differs between two identical responses. */
const VOLATILE_HEADERS = new Set(['date', 'keep-alive', 'connection'])

/** Fetches and reduces the response to status, stable headers and body. */
export async function observe(url: string, init?: RequestInit): Promise<Observed> {
  const response = await fetch(url, { redirect: 'manual', ...init })
  const body = await response.text()
  const headers: Record<string, string> = {}
  for (const [name, value] of response.headers) {
    if (!VOLATILE_HEADERS.has(name)) headers[name] = value
  }
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies.join(' | ')
  return { status: response.status, headers, body }
}

/**
 * Sends `raw` bytes on a new TCP connection and resolves with everything the
 * server sent back until it closed the connection (or `endAfterMs` elapsed
 * after the last byte, for keep-alive responses). `destroyAfterWrite` hangs
 * up right after writing, as a client that goes away does.
 */
export function rawRequest(
  url: string,
  raw: string | Buffer,
  options: { destroyAfterWrite?: boolean; endAfterMs?: number } = {},
): Promise<string> {
  const { port, hostname } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    const chunks: Buffer[] = []
    let idle: NodeJS.Timeout | undefined
    const done = () => {
      clearTimeout(idle)
      resolve(Buffer.concat(chunks).toString('latin1'))
    }
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      clearTimeout(idle)
      idle = setTimeout(() => socket.destroy(), options.endAfterMs ?? 200)
    })
    socket.on('close', done)
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') done()
      else reject(err)
    })
    socket.write(raw, () => {
      if (options.destroyAfterWrite) socket.destroy()
    })
  })
}

/** The status code of a raw HTTP/1.1 response (0 if there was none). */
export function statusOf(raw: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw)
  return match ? Number(match[1]) : 0
}

/** One call of a {@link RecordingLogger} method. */
interface LogLine {
  level: 'info' | 'warn' | 'error'
  obj: Record<string, unknown>
  msg: string | undefined
}

/** A Logger (pino's shape) that keeps every line it is given. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg })
    }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

/**
 * Collects every uncaught exception, unhandled rejection and process warning
 * from now on; `release()` removes the listeners. A test asserts the lists
 * are empty to prove nothing escaped the recorder.
 */
export function trapProcessErrors(): {
  uncaught: unknown[]
  unhandled: unknown[]
  warnings: Error[]
  release(): void
} {
  const uncaught: unknown[] = []
  const unhandled: unknown[] = []
  const warnings: Error[] = []
  const onUncaught = (err: unknown) => uncaught.push(err)
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  const onWarning = (warning: Error) => warnings.push(warning)
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUnhandled)
  process.on('warning', onWarning)
  return {
    uncaught,
    unhandled,
    warnings,
    release() {
      process.off('uncaughtException', onUncaught)
      process.off('unhandledRejection', onUnhandled)
      process.off('warning', onWarning)
    },
  }
}

let collect: (() => void) | undefined

/** Runs a full garbage collection (exposes `gc` without a command-line flag). */
function fullGc(): void {
  if (!collect) {
    v8.setFlagsFromString('--expose-gc')
    collect = vm.runInNewContext('gc') as () => void
  }
  collect()
  collect()
}

/** Heap used after a full GC, in bytes. */
export function heapAfterGc(): number {
  fullGc()
  return process.memoryUsage().heapUsed
}

/**
 * The most bytes a window of `maxBytes` may hold, as its docs promise:
 * maxBytes plus the one segment being written (the ring trims sealed
 * segments only). The ring sizes a segment so that about 16 fit in maxBytes,
 * so one segment is maxBytes / 16 of events and the strings they intern;
 * `profileAllowance` adds room for the one CPU profile window that may land
 * in it whole (a few KiB at a 100 ms sampling interval, up to several hundred
 * KiB at the default 1 ms).
 */
export function windowBound(maxBytes: number, profileAllowance: number): number {
  return maxBytes + maxBytes / 16 + profileAllowance
}

/** Resolves after `check` stops throwing; the timeout only guards against a hang. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

/** What {@link useTestScope} gives each test, fresh, and undoes after it. */
export interface TestScope {
  /** A new temporary directory; made writable again and removed after the test. */
  readonly dir: string
  /** Every uncaught exception, unhandled rejection and warning during the test. */
  readonly trap: ReturnType<typeof trapProcessErrors>
  /** Servers to close after the test. */
  readonly servers: Server[]
  /** Makes and starts a recorder that is stopped after the test. */
  startRecorder(options?: FlightRecorderOptions): FlightRecorder
}

/**
 * Registers the `beforeEach`/`afterEach` pair every reliability test file
 * needs and returns the scope they fill. After each test: servers closed,
 * recorders stopped, the process recorder the adapters share reset, the
 * trap released, the directory removed.
 */
export function useTestScope(): TestScope {
  const recorders: FlightRecorder[] = []
  let dir: string | undefined
  let trap: ReturnType<typeof trapProcessErrors> | undefined
  const scope: TestScope = {
    get dir() {
      if (dir === undefined) throw new Error('scope.dir is made before each test')
      return dir
    },
    get trap() {
      if (trap === undefined) throw new Error('scope.trap is set before each test')
      return trap
    },
    servers: [],
    startRecorder(options = {}) {
      const recorder = new FlightRecorder(options)
      recorder.start()
      recorders.push(recorder)
      return recorder
    },
  }
  beforeEach(async () => {
    trap = trapProcessErrors()
    dir = await makeTempDir()
  })
  afterEach(async () => {
    await Promise.all(scope.servers.splice(0).map(closeServer))
    for (const recorder of recorders.splice(0)) recorder.stop()
    await resetProcessRecorder()
    trap?.release()
    if (dir !== undefined) {
      await chmod(dir, 0o700).catch(() => {})
      await removeDir(dir)
    }
    trap = undefined
    dir = undefined
  })
  return scope
}

/** Nothing escaped the recorder as an uncaught exception or unhandled rejection. */
export function expectNothingEscaped(scope: TestScope): void {
  expect(scope.trap.uncaught).toEqual([])
  expect(scope.trap.unhandled).toEqual([])
}
