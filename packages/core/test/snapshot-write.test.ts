/**
 * Writing a sealed window: encoded in a worker thread, or on the main thread
 * in slices where no worker can start; both give the same bytes.
 */
import { execFile } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { BlobKind, EventKind } from '../src/events.ts'
import { resolveRecorderOptions } from '../src/options.ts'
import { Ring } from '../src/ring/ring.ts'
import type { Segment } from '../src/ring/segment.ts'
import { CHUNK_SLOTS, SLOT_BYTES } from '../src/snapshot/worker-protocol.ts'
import { writeSnapshot } from '../src/snapshot/write.ts'
import type { CpuProfile } from '../src/sources/cpu-sampler.ts'
import { MemorySink, parseValid } from './helpers.ts'

const T0 = 5_000_000_000

/** A window with `requests` requests, calls, logs and a CPU profile, spread over a few segments. */
function window(profile: unknown = cpuProfile(), requests = 400): Segment[] {
  const ring = new Ring({ minAgeMicros: 60_000_000, maxBytes: 1 << 24, segmentSpanMicros: 10_000 })
  for (let i = 0; i < requests; i++) {
    const ts = T0 + i * 500
    const seg = ring.current(ts, 3)
    const s = seg.strings
    seg.push(EventKind.RequestStart, ts, i, s.intern('GET'), s.intern(`/items/${i}`), -1)
    seg.push(EventKind.ClientStart, ts + 10, i, s.intern('GET'), s.intern('http://upstream/x'), i)
    seg.push(EventKind.Log, ts + 20, s.intern('app'), s.intern(`line ${i} é ✓`), i, 30)
    const end = ring.current(ts + 300, 2)
    end.push(EventKind.ClientEnd, ts + 250, i, 200, -1, 0)
    end.push(EventKind.RequestEnd, ts + 300, i, 200, 0, 0)
  }
  ring
    .current(T0 + 200_000)
    .addBlob({ kind: BlobKind.CpuProfile, ts: T0 + 200_000, data: profile, bytes: 1000 })
  return ring.seal(T0 + 210_000)
}

function cpuProfile(): CpuProfile {
  const frame = (functionName: string, url = '') => ({
    functionName,
    url,
    lineNumber: 1,
    columnNumber: 1,
    scriptId: '1',
  })
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3] },
      { id: 2, callFrame: frame('handler', 'file:///app/server.ts'), children: [] },
      { id: 3, callFrame: frame('(idle)'), children: [] },
    ],
    startTime: T0,
    endTime: T0 + 200_000,
    samples: Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 2 : 3)),
    timeDeltas: Array.from({ length: 200 }, () => 1000),
  }
}

function meta(signal = new AbortController().signal, mainThread = false) {
  return {
    options: resolveRecorderOptions({ logger: { warn() {}, error() {} } }),
    startMicros: T0,
    endMicros: T0 + 210_000,
    epochMillisAtEnd: 1_700_000_000_000,
    level: 'default' as const,
    errors: {},
    trigger: { reason: 'manual' },
    signal,
    report() {},
    mainThread,
  }
}

/** A file stream whose every write starts 10 ms late. */
function slowFile(path: string): WriteStream {
  const out = createWriteStream(path)
  const write = out._write.bind(out)
  out._write = (chunk, encoding, callback) => {
    setTimeout(() => write(chunk, encoding, callback), 10)
  }
  return out
}

async function failure(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; bytesWritten?: number }> {
  try {
    await promise
  } catch (err) {
    return err as Error & { code?: string; bytesWritten?: number }
  }
  throw new Error('expected a rejection')
}

const fixture = fileURLToPath(new URL('./fixtures/no-worker.ts', import.meta.url))

describe('writeSnapshot', () => {
  it('writes the same bytes from the worker as from the main thread', async () => {
    const segments = window()
    const inWorker = new MemorySink()
    const onMain = new MemorySink()
    const workerBytes = await writeSnapshot(inWorker, segments, meta())
    const mainBytes = await writeSnapshot(onMain, segments, meta(undefined, true))
    expect(workerBytes).toBe(mainBytes)
    expect(inWorker.text).toBe(onMain.text)
    const file = parseValid(inWorker.text, workerBytes)
    expect(file.metadata?.flightrec?.counts).toMatchObject({
      requests: 400,
      outgoingCalls: 400,
      cpuProfiles: 1,
    })
    expect(file.metadata?.flightrec?.trigger).toEqual({ reason: 'manual' })
  })

  it('writes a file stream straight from the shared slots: the same bytes, each slot reused', async () => {
    const segments = window(cpuProfile(), 6000)
    const dir = await mkdtemp(join(tmpdir(), 'flightrec-write-'))
    try {
      const path = join(dir, 'snapshot.json')
      // A slow disk: each chunk reaches the file 10 ms late, while the worker has slots to fill.
      const out = slowFile(path)
      const workerBytes = await writeSnapshot(out, segments, meta())
      out.end()
      await finished(out)
      const onMain = new MemorySink()
      const mainBytes = await writeSnapshot(onMain, segments, meta(undefined, true))
      expect(workerBytes).toBe(mainBytes)
      // Far more chunks than slots, and multi-byte characters cut at slot boundaries.
      expect(workerBytes).toBeGreaterThan(4 * CHUNK_SLOTS * SLOT_BYTES)
      expect(await readFile(path, 'utf8')).toBe(onMain.text)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('leaves the sealed window as it was, for the next snapshot', async () => {
    const segments = window()
    const counts = segments.map((s) => s.count)
    await writeSnapshot(new MemorySink(), segments, meta())
    expect(segments.map((s) => s.count)).toEqual(counts)
    expect(segments.every((s) => s.kinds.length > 0)).toBe(true)
  })

  it.each([false, true])(
    'rejects with ERR_FLIGHTREC_ENCODE_FAILED when the encoder throws (main thread: %s)',
    async (mainThread) => {
      const segments = window({ nodes: null, samples: [], timeDeltas: [] })
      const err = await failure(
        writeSnapshot(new MemorySink(), segments, meta(undefined, mainThread)),
      )
      expect(err.code).toBe('ERR_FLIGHTREC_ENCODE_FAILED')
      expect(String((err.cause as Error).message)).toMatch(/null|not iterable/)
    },
  )

  it('rejects with ERR_FLIGHTREC_STOPPED_DURING_WRITE as soon as the signal aborts', async () => {
    const controller = new AbortController()
    const pending = failure(writeSnapshot(new MemorySink(), window(), meta(controller.signal)))
    controller.abort()
    expect((await pending).code).toBe('ERR_FLIGHTREC_STOPPED_DURING_WRITE')
  })

  it("does not run the app's preloads in the encoding worker", async () => {
    const preload = `data:text/javascript,${encodeURIComponent(
      "import { isMainThread } from 'node:worker_threads'; if (!isMainThread) throw new Error('preload in a worker')",
    )}`
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', preload, fixture])
    const out = JSON.parse(stdout) as { first: string; errors: Record<string, number> }
    parseValid(out.first)
    expect(out.errors.ERR_FLIGHTREC_WORKER_UNAVAILABLE).toBeUndefined()
  })

  it('encodes on the main thread where no worker may start, and says so once', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--permission',
      '--allow-fs-read=*',
      fixture,
    ])
    const out = JSON.parse(stdout) as {
      first: string
      second: string
      errors: Record<string, number>
      logged: Array<{ code: string }>
    }
    for (const text of [out.first, out.second]) {
      const file = parseValid(text)
      expect(file.traceEvents.some((e) => e.args?.message === 'written without a worker')).toBe(
        true,
      )
    }
    expect(out.errors.ERR_FLIGHTREC_WORKER_UNAVAILABLE).toBe(1)
    expect(out.logged.filter((l) => l.code === 'ERR_FLIGHTREC_WORKER_UNAVAILABLE')).toHaveLength(1)
  })
})
