/**
 * Promise 1, sink faults: a snapshot destination that is missing, not
 * writable, or fails midway, an encoder that fails, and stop() during a
 * write never affect a response, never escape as an uncaught error, are
 * logged once with a stable code and counted, never stop the recording, and
 * never leave a partial file at the final path.
 */
import { spawn } from 'node:child_process'
import dc from 'node:diagnostics_channel'
import { once } from 'node:events'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { Worker } from 'node:worker_threads'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { ErrorCodes, type FlightRecorder, log } from '../../packages/core/src/index.ts'
import {
  type ExpressFlightRecorderOptions,
  flightRecorder,
} from '../../packages/express/src/index.ts'
import {
  eventually,
  expectNothingEscaped,
  listen,
  makeTempDir,
  memorySink,
  observe,
  parseSnapshot,
  recordingLogger,
  removeDir,
  snapshotFiles,
  useTestScope,
} from './helpers.ts'

const isRoot = process.getuid?.() === 0
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname

const scope = useTestScope()

/** A Writable that accepts `limit` bytes, then fails every write with `code`. */
function failingAfter(limit: number, code: string): Writable & { accepted: number } {
  let accepted = 0
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (accepted + chunk.length > limit) {
        callback(Object.assign(new Error(`${code}: injected write failure`), { code }))
        return
      }
      accepted += chunk.length
      setImmediate(callback)
    },
  })
  return Object.assign(sink, {
    get accepted() {
      return accepted
    },
  })
}

/**
 * Hands over the next worker thread the process creates (Node.js publishes
 * each new Worker on the `worker_threads` diagnostics channel): the way to
 * crash the snapshot encoding worker from outside.
 */
function nextWorker(onCreated?: (worker: Worker) => void): { worker(): Worker | undefined } {
  let created: Worker | undefined
  const onWorker = (message: unknown) => {
    dc.unsubscribe('worker_threads', onWorker)
    created = (message as { worker: Worker }).worker
    onCreated?.(created)
  }
  dc.subscribe('worker_threads', onWorker)
  return { worker: () => created }
}

/** Fills the window with `n` log events (cheap, and they make the snapshot long). */
function fillWindow(n: number): void {
  for (let i = 0; i < n; i++) log('reliability', `event ${i} ${'x'.repeat(40)}`)
}

/** Rejection of `promise`, which must reject. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  throw new Error('expected a rejection')
}

describe('writeTo with a failing stream', () => {
  it('rejects with ERR_FLIGHTREC_SINK_FAILED when the stream fails midway, and keeps recording', async () => {
    const recorder = scope.startRecorder({ maxBytes: 16 * 1024 * 1024 })
    fillWindow(20_000)
    const sink = failingAfter(64 * 1024, 'ENOSPC')
    const err = await rejectionOf(recorder.writeTo(sink))
    expect(err.code).toBe(ErrorCodes.SINK_FAILED)
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOSPC')
    expect(err.bytesWritten).toBeGreaterThan(0)
    expect(recorder.enabled).toBe(true)

    log('reliability', 'after the failure')
    const good = memorySink()
    await recorder.writeTo(good)
    const file = parseSnapshot(good.text())
    expect(
      file.traceEvents.some((e) => e.cat === 'flightrec.log' && e.name === 'after the failure'),
    ).toBe(true)
    expectNothingEscaped(scope)
  })

  it.skipIf(!existsSync('/dev/full'))(
    'rejects with ERR_FLIGHTREC_SINK_FAILED on a full device (ENOSPC)',
    async () => {
      const recorder = scope.startRecorder()
      fillWindow(2_000)
      const full = createWriteStream('/dev/full')
      const err = await rejectionOf(recorder.writeTo(full))
      expect(err.code).toBe(ErrorCodes.SINK_FAILED)
      expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOSPC')
      full.destroy()
      expect(recorder.enabled).toBe(true)
      expect(await recorder.writeTo(memorySink())).toBeGreaterThan(0)
      expectNothingEscaped(scope)
    },
  )

  it('rejects with ERR_FLIGHTREC_SINK_FAILED when write() throws (EIO)', async () => {
    const recorder = scope.startRecorder()
    fillWindow(100)
    const throwing = new Writable()
    throwing.write = () => {
      throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })
    }
    const err = await rejectionOf(recorder.writeTo(throwing))
    expect(err.code).toBe(ErrorCodes.SINK_FAILED)
    expect(err.bytesWritten).toBe(0)
    expect(await recorder.writeTo(memorySink())).toBeGreaterThan(0)
    expectNothingEscaped(scope)
  })

  it('rejects with ERR_FLIGHTREC_SINK_FAILED on a stream already destroyed', async () => {
    const recorder = scope.startRecorder()
    const destroyed = memorySink()
    destroyed.destroy()
    const err = await rejectionOf(recorder.writeTo(destroyed))
    expect(err.code).toBe(ErrorCodes.SINK_FAILED)
    expect(await recorder.writeTo(memorySink())).toBeGreaterThan(0)
    expectNothingEscaped(scope)
  })

  it('contains an encoder failure (a trigger that cannot be serialised)', async () => {
    const recorder = scope.startRecorder({ maxBytes: 16 * 1024 * 1024 })
    fillWindow(5_000)
    const sink = memorySink()
    // JSON cannot encode a BigInt: the encoder throws when it reaches the trigger.
    const trigger = { reason: 'manual', request: { method: 'GET', durationMs: 10n } }
    const err = await rejectionOf(
      recorder.writeTo(sink, trigger as unknown as Parameters<FlightRecorder['writeTo']>[1]),
    )
    expect(typeof err.code).toBe('string')
    expect(Object.values(ErrorCodes)).toContain(err.code)
    expect(recorder.enabled).toBe(true)
    expect(await recorder.writeTo(memorySink())).toBeGreaterThan(0)
    expectNothingEscaped(scope)
  })

  it('rejects at once with ERR_FLIGHTREC_WRITE_IN_PROGRESS while another write runs', async () => {
    const recorder = scope.startRecorder({ maxBytes: 16 * 1024 * 1024 })
    fillWindow(5_000)
    const first = recorder.writeTo(memorySink())
    const err = await rejectionOf(recorder.writeTo(memorySink()))
    expect(err.code).toBe(ErrorCodes.WRITE_IN_PROGRESS)
    expect(err.bytesWritten).toBe(0)
    expect(await first).toBeGreaterThan(0)
    expectNothingEscaped(scope)
  })
})

describe('the encoding worker crashing', () => {
  it('midway: writeTo rejects with ERR_FLIGHTREC_ENCODE_FAILED; the next write works', async () => {
    const recorder = scope.startRecorder({ maxBytes: 16 * 1024 * 1024 })
    fillWindow(50_000)
    const encoder = nextWorker()
    let crashed = false
    const sink = new Writable({
      write(_chunk, _encoding, callback) {
        if (!crashed) {
          crashed = true
          void encoder.worker()?.terminate()
        }
        callback()
      },
    })
    const err = await rejectionOf(recorder.writeTo(sink))
    expect(crashed).toBe(true)
    expect(err.code).toBe(ErrorCodes.ENCODE_FAILED)
    expect(recorder.enabled).toBe(true)
    log('reliability', 'after the crash')
    const good = memorySink()
    await recorder.writeTo(good)
    expect(parseSnapshot(good.text()).traceEvents.some((e) => e.name === 'after the crash')).toBe(
      true,
    )
    expectNothingEscaped(scope)
  })

  it('through the adapter: no file is left, the error is logged once, the next snapshot is written', async () => {
    const logger = recordingLogger()
    const { capture, url } = await startApp({
      dir: scope.dir,
      logger,
      maxSnapshots: 2,
      maxBytes: 16 * 1024 * 1024,
    })
    fillWindow(50_000)
    nextWorker((worker) => {
      // Crash it once it is busy encoding.
      worker.once('message', () => void worker.terminate())
    })
    expect(await observe(`${url}/slow?n=1`)).toMatchObject({ status: 201, body: 'slow 1' })
    await eventually(() => expect(capture.stats.failed).toBe(1))
    expect(await readdir(scope.dir)).toEqual([])
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.obj.code)).toEqual([
      ErrorCodes.ENCODE_FAILED,
    ])
    expect(await observe(`${url}/slow?n=2`)).toMatchObject({ status: 201, body: 'slow 2' })
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    expect(await snapshotFiles(scope.dir)).toHaveLength(1)
    expectNothingEscaped(scope)
  })
})

describe('stop() while writeTo runs', () => {
  it('rejects the write with ERR_FLIGHTREC_STOPPED_DURING_WRITE; the recorder starts again', async () => {
    const recorder = scope.startRecorder({ maxBytes: 16 * 1024 * 1024 })
    fillWindow(50_000)
    let stopped = false
    const sink = new Writable({
      highWaterMark: 1024,
      write(_chunk, _encoding, callback) {
        if (!stopped) {
          stopped = true
          recorder.stop()
        }
        setImmediate(callback)
      },
    })
    const err = await rejectionOf(recorder.writeTo(sink))
    expect(stopped).toBe(true)
    expect(err.code).toBe(ErrorCodes.STOPPED_DURING_WRITE)
    expect(recorder.enabled).toBe(false)

    recorder.start()
    log('reliability', 'after restart')
    const good = memorySink()
    await recorder.writeTo(good)
    const file = parseSnapshot(good.text())
    expect(file.traceEvents.some((e) => e.name === 'after restart')).toBe(true)
    expectNothingEscaped(scope)
  })
})

/** An express app with the adapter; `/slow` is over the threshold, `/fast` under it. */
async function startApp(options: ExpressFlightRecorderOptions) {
  const middleware = flightRecorder({ threshold: 30, ...options })
  const app = express()
  app.use(middleware)
  app.get('/fast', (_req, res) => {
    res.json({ ok: true })
  })
  app.get('/slow', (req, res) => {
    setTimeout(() => res.status(201).send(`slow ${req.query.n ?? ''}`), 60)
  })
  const { server, url } = await listen(app)
  scope.servers.push(server)
  return { capture: middleware.flightRecorder, url }
}

describe('adapter with a destination that cannot be written', () => {
  /**
   * Two slow requests against a broken destination: both responses are
   * untouched, the error is logged once with its code and counted twice, and
   * the recorder keeps recording (the failed snapshot did not use the budget).
   */
  async function expectContained(destination: string, expectedCode: string) {
    const logger = recordingLogger()
    const { capture, url } = await startApp({ dir: destination, logger })
    for (const n of [1, 2]) {
      expect(await observe(`${url}/slow?n=${n}`)).toMatchObject({ status: 201, body: `slow ${n}` })
      await eventually(() => expect(capture.stats.failed).toBe(n))
    }
    expect(await observe(`${url}/fast`)).toMatchObject({ status: 200, body: '{"ok":true}' })
    const errors = logger.lines.filter((l) => l.level === 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0].obj.code).toBe(expectedCode)
    expect(capture.stats).toMatchObject({ snapshots: 0, failed: 2 })
    const recorder = capture.recorder
    expect(recorder?.enabled).toBe(true)
    const sink = memorySink()
    await recorder?.writeTo(sink)
    const paths = parseSnapshot(sink.text())
      .traceEvents.filter((e) => e.ph === 'b' && e.cat === 'flightrec.request')
      .map((e) => e.args?.path)
    expect(paths).toContain('/fast')
    expectNothingEscaped(scope)
  }

  it('a path that is a file: logged once as ERR_FLIGHTREC_SINK_FAILED, counted, recording goes on', async () => {
    const file = join(scope.dir, 'not-a-directory')
    await writeFile(file, 'x')
    await expectContained(join(file, 'snapshots'), ErrorCodes.SINK_FAILED)
  })

  it.skipIf(isRoot)('a read-only directory: logged once, counted, recording goes on', async () => {
    const readOnly = join(scope.dir, 'read-only')
    await mkdir(readOnly, { mode: 0o500 })
    await expectContained(readOnly, ErrorCodes.SINK_FAILED)
    expect(await readdir(readOnly)).toEqual([])
  })

  it.skipIf(process.platform !== 'linux')(
    'a directory that cannot be created (under /sys, even for root): logged once, counted',
    async () => {
      await expectContained('/sys/flightrec-reliability/snapshots', ErrorCodes.SINK_FAILED)
    },
  )

  it('a missing directory is created (mode 0700) and the snapshot written there', async () => {
    const missing = join(scope.dir, 'a', 'b', 'snapshots')
    const { capture, url } = await startApp({ dir: missing })
    expect(await observe(`${url}/slow`)).toMatchObject({ status: 201 })
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    expect((await stat(missing)).mode & 0o777).toBe(0o700)
    expect(await snapshotFiles(missing)).toHaveLength(1)
    expectNothingEscaped(scope)
  })
})

describe('adapter whose file write fails midway (EFBIG from a file-size limit)', () => {
  interface Report {
    responses: Array<{ status: number; body: string }>
    stats: { failed: number; snapshots: number }
    errors: Array<{ code: unknown; err: unknown }>
    enabled: boolean
    uncaught: number
    files: string[]
  }

  /**
   * Runs the fixture: an express app with the adapter in a process limited
   * to 32 KiB per file, so every snapshot (larger) fails partway through.
   */
  async function runLimitedApp(): Promise<Report> {
    const snapshots = await makeTempDir()
    try {
      const child = spawn(
        'bash',
        [
          '-c',
          'ulimit -f 32 && exec "$0" "$@"',
          process.execPath,
          fixture('file-size-limited-app.ts'),
          snapshots,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk) => {
        stdout += chunk
      })
      child.stderr.on('data', (chunk) => {
        stderr += chunk
      })
      const [code] = await once(child, 'exit')
      if (code !== 0 || stderr !== '') throw new Error(`the fixture failed (${code}): ${stderr}`)
      return { ...(JSON.parse(stdout) as Report), files: await readdir(snapshots) }
    } finally {
      await removeDir(snapshots)
    }
  }
  // One run serves both tests below.
  let run: Promise<Report> | undefined
  const report = () => {
    run ??= runLimitedApp()
    return run
  }

  it('leaves no partial file and no temporary file, logs once, counts both failures', async () => {
    const r = await report()
    expect(r.responses).toEqual([
      { status: 201, body: 'slow 1' },
      { status: 201, body: 'slow 2' },
      { status: 200, body: '{"ok":true}' },
    ])
    expect(r.stats).toMatchObject({ failed: 2, snapshots: 0 })
    expect(r.errors).toHaveLength(1)
    expect(r.errors[0].code).toBe(ErrorCodes.SINK_FAILED)
    expect(r.enabled).toBe(true)
    expect(r.uncaught).toBe(0)
    expect(r.files).toEqual([])
  })

  it('the one error logged names its cause (EFBIG), so an operator can act on it', async () => {
    const r = await report()
    expect(String(r.errors[0]?.err)).toMatch(/EFBIG|file too large/i)
  })
})

describe('temporary files', () => {
  it('removes stale temporary files left by a crashed writer', async () => {
    const stale = join(scope.dir, '.flightrec-20250101T000000.000Z-999999.json.tmp-0123456789ab')
    await writeFile(stale, '{"traceEvents":[')
    const hourAgo = new Date(Date.now() - 3_600_000)
    await utimes(stale, hourAgo, hourAgo)
    const { capture, url } = await startApp({ dir: scope.dir })
    await observe(`${url}/slow`)
    await eventually(() => expect(capture.stats.snapshots).toBe(1))
    const names = await readdir(scope.dir)
    expect(names.filter((n) => n.startsWith('.'))).toEqual([])
    expect(names).toHaveLength(1)
  })

  it('closing the capture while a snapshot is written waits for it: a whole file, no temporary', async () => {
    const { capture, url } = await startApp({ dir: scope.dir, maxBytes: 16 * 1024 * 1024 })
    fillWindow(50_000)
    await observe(`${url}/slow`)
    await eventually(() => expect(capture.stats.requests).toBe(1))
    await capture.close()
    const names = await readdir(scope.dir)
    expect(names.filter((n) => n.startsWith('.'))).toEqual([])
    const files = await snapshotFiles(scope.dir)
    expect(files).toHaveLength(1)
    expectNothingEscaped(scope)
  })
})

// Last in this file: a worker that cannot start switches this process to
// main-thread encoding for good.
describe('the encoding worker failing to start', () => {
  it('falls back to encoding on the main thread: reported once, snapshots still complete', async () => {
    const logger = recordingLogger()
    const recorder = scope.startRecorder({ logger })
    fillWindow(1_000)
    nextWorker((worker) => void worker.terminate())
    const first = memorySink()
    await recorder.writeTo(first)
    parseSnapshot(first.text())
    const second = memorySink()
    await recorder.writeTo(second)
    parseSnapshot(second.text())
    expect(recorder.errorCounts[ErrorCodes.WORKER_UNAVAILABLE]).toBe(1)
    expect(logger.lines.filter((l) => l.obj.code === ErrorCodes.WORKER_UNAVAILABLE)).toHaveLength(1)
    expectNothingEscaped(scope)
  })
})
