import { extname } from 'node:path'
import type { Writable } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import { ErrorCodes, FlightRecorderError } from '../errors.ts'
import { FIELDS, type Segment } from '../ring/segment.ts'
import { type EncodeMeta, encodeSnapshot } from './encode.ts'
import { StreamWriter, stoppedError } from './stream-writer.ts'
import { turnBudget } from './turn-budget.ts'
import { CHUNK_SLOTS, type FromWorker, SLOT_BYTES, type ToWorker } from './worker-protocol.ts'

/** Text buffered before a write to the stream when encoding on the main thread. */
const CHUNK_CHARS = 64 * 1024

export interface WriteMeta extends EncodeMeta {
  /** Aborted when the recorder is stopped: the write then rejects at once. */
  signal: AbortSignal
  /** Where a failure to start the encoding worker is reported (once per process). */
  report(code: string, message: string, err: unknown): void
  /** Encode on the main thread, in slices, instead of in a worker. */
  mainThread?: boolean
}

/** Set once the worker failed to start: later snapshots go straight to the main thread. */
let workerUnavailable = false

/**
 * Writes a sealed window to `stream` as Chrome Trace Event JSON and resolves
 * with the bytes written. The encoding runs in a worker thread; the main
 * thread only starts it, hands over the segments (about a millisecond's
 * worth per turn of the event loop) and writes the bytes that come back,
 * with backpressure. A file stream (`fs.WriteStream`) is written straight
 * from the buffer the worker encodes into; any other stream gets a copy of
 * each chunk, as it may keep the chunks it was given. Where no worker can
 * start (a bundle without the worker file, `--permission` without
 * `--allow-worker`), the same encoder runs on the main thread in slices of
 * about a millisecond.
 *
 * Rejects with ERR_FLIGHTREC_SINK_FAILED if the stream fails (`bytesWritten`:
 * what it accepted before), ERR_FLIGHTREC_STOPPED_DURING_WRITE as soon as
 * `signal` aborts, ERR_FLIGHTREC_ENCODE_FAILED if the encoder throws.
 */
export async function writeSnapshot(
  stream: Writable | NodeJS.WritableStream,
  segments: Segment[],
  meta: WriteMeta,
): Promise<number> {
  const writer = new StreamWriter(stream, meta.signal)
  try {
    if (meta.mainThread || workerUnavailable) {
      await encodeOnMainThread(writer, segments, meta)
    } else {
      const worked = await encodeInWorker(writer, segments, meta)
      if (!worked) await encodeOnMainThread(writer, segments, meta)
    }
    writer.check()
    return writer.bytes
  } catch (err) {
    if (err instanceof FlightRecorderError) throw Object.assign(err, { bytesWritten: writer.bytes })
    throw Object.assign(
      new FlightRecorderError(ErrorCodes.SINK_FAILED, 'writing the snapshot failed', {
        cause: err,
      }),
      { bytesWritten: writer.bytes },
    )
  } finally {
    writer.release()
  }
}

function encodeFailed(cause: unknown): FlightRecorderError {
  return new FlightRecorderError(ErrorCodes.ENCODE_FAILED, 'encoding the snapshot failed', {
    cause,
  })
}

/** What the worker needs of the meta: plain data only (no logger, no functions). */
function portableMeta(meta: WriteMeta): EncodeMeta {
  return {
    options: { ...meta.options, allow: { ...meta.options.allow }, logger: undefined },
    startMicros: meta.startMicros,
    endMicros: meta.endMicros,
    epochMillisAtEnd: meta.epochMillisAtEnd,
    level: meta.level,
    trigger: meta.trigger === undefined ? undefined : JSON.parse(JSON.stringify(meta.trigger)),
    errors: { ...meta.errors },
  }
}

/**
 * Encodes in a worker. Resolves false, having written nothing, if the worker
 * could not start; the caller then encodes on the main thread. Starting the
 * worker costs the main thread a few tenths of a millisecond (2 ms the first
 * time), so it gets a turn of its own, apart from the seal that writeTo just did.
 */
async function encodeInWorker(
  writer: StreamWriter,
  segments: Segment[],
  meta: WriteMeta,
): Promise<boolean> {
  await nextTurn()
  let worker: Worker
  try {
    // The worker file sits beside this one, with this file's extension (.ts in the workspace, .js when built).
    const url = new URL(`./encode-worker${extname(import.meta.url)}`, import.meta.url)
    // Not the app's preloads (APM agents, loaders): the worker needs none of them.
    const execArgv = process.execArgv.filter((arg) => /-types$/.test(arg))
    // Its stdout and stderr are not piped to the process's: the worker prints
    // nothing the app should see, and the piping (and, the first time, making
    // process.stdout and process.stderr) is most of the main thread's cost of
    // starting it.
    worker = new Worker(url, { execArgv, stdout: true, stderr: true })
  } catch (err) {
    unavailable(meta, err)
    return false
  }
  const inbox = new Inbox(worker, meta.signal)
  try {
    const first = await inbox.next()
    if (first instanceof FlightRecorderError) throw first
    if (first instanceof Error) {
      unavailable(meta, first)
      return false
    }
    const post = (message: ToWorker) => worker.postMessage(message)
    await handOver(post, segments, meta.signal)
    const slots = new SharedArrayBuffer(CHUNK_SLOTS * SLOT_BYTES)
    post({ type: 'encode', meta: portableMeta(meta), slots })
    for (;;) {
      const message = await inbox.next()
      if (message instanceof FlightRecorderError) throw message
      if (message instanceof Error) throw encodeFailed(message)
      if (message.type === 'chunk') {
        const { slot, length } = message
        const bytes = Buffer.from(slots, slot * SLOT_BYTES, length)
        const free = () => post({ type: 'ack', slot })
        if (writer.releasesChunks) {
          await writer.write(bytes, free)
        } else {
          await writer.write(Buffer.from(bytes))
          free()
        }
      } else if (message.type === 'end') {
        return true
      } else if (message.type === 'failed') {
        const cause = Object.assign(new Error(message.message), { stack: message.stack })
        throw encodeFailed(cause)
      }
    }
  } finally {
    inbox.close()
    void worker.terminate()
  }
}

/**
 * Sends the window to the worker: each segment's columns and strings, then
 * each of its blobs (CPU profiles), as messages of their own, and lets the
 * loop turn whenever its budget is spent (see {@link turnBudget}). Nothing is copied into
 * this thread's heap on the way: the columns go as views of the sealed
 * segment's arrays, which the message clones straight into its own buffer
 * (a copy first, to transfer it, would be garbage here and bring on
 * collections on the main thread).
 */
async function handOver(
  post: (message: ToWorker) => void,
  segments: Segment[],
  signal: AbortSignal,
): Promise<void> {
  const turnIfDue = turnBudget(signal)
  for (const seg of segments) {
    post({
      type: 'segment',
      segment: {
        kinds: seg.kinds.subarray(0, seg.count),
        fields: seg.fields.subarray(0, seg.count * FIELDS),
        strings: seg.strings.strings,
        blobs: [],
        count: seg.count,
        startTs: seg.startTs,
        endTs: seg.endTs,
      },
    })
    await turnIfDue()
    for (const blob of seg.blobs) {
      post({ type: 'blob', blob })
      await turnIfDue()
    }
  }
}

function unavailable(meta: WriteMeta, err: unknown): void {
  workerUnavailable = true
  meta.report(
    ErrorCodes.WORKER_UNAVAILABLE,
    'the snapshot encoding worker could not start; encoding on the main thread instead',
    err,
  )
}

/**
 * The worker's messages as a queue. A worker 'error', or an exit before 'end',
 * arrives as an Error; the signal aborting, as ERR_FLIGHTREC_STOPPED_DURING_WRITE.
 */
class Inbox {
  #queue: Array<FromWorker | Error> = []
  #waiting: ((message: FromWorker | Error) => void) | undefined
  #worker: Worker
  #signal: AbortSignal
  #onMessage = (message: FromWorker) => this.#deliver(message)
  #onError = (err: Error) => this.#deliver(err)
  #onExit = (code: number) =>
    this.#deliver(new Error(`the encoding worker exited with code ${code}`))
  #onAbort = () => this.#deliver(stoppedError())

  constructor(worker: Worker, signal: AbortSignal) {
    this.#worker = worker
    this.#signal = signal
    if (signal.aborted) this.#onAbort()
    signal.addEventListener('abort', this.#onAbort)
    worker.on('message', this.#onMessage)
    worker.on('error', this.#onError)
    worker.on('exit', this.#onExit)
  }

  next(): Promise<FromWorker | Error> {
    const queued = this.#queue.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    return new Promise((resolve) => {
      this.#waiting = resolve
    })
  }

  close(): void {
    this.#signal.removeEventListener('abort', this.#onAbort)
    this.#worker.off('message', this.#onMessage)
    this.#worker.off('error', this.#onError)
    this.#worker.off('exit', this.#onExit)
  }

  #deliver(message: FromWorker | Error): void {
    const waiting = this.#waiting
    this.#waiting = undefined
    if (waiting) waiting(message)
    else this.#queue.push(message)
  }
}

/** Drives {@link encodeSnapshot} on the main thread in slices of about 1 ms (see {@link turnBudget}). */
async function encodeOnMainThread(
  writer: StreamWriter,
  segments: Segment[],
  meta: WriteMeta,
): Promise<void> {
  let buffer: string[] = []
  let buffered = 0
  const turnIfDue = turnBudget(meta.signal)
  const chunks = encodeSnapshot(segments, meta)
  for (;;) {
    let next: IteratorResult<string>
    try {
      next = chunks.next()
    } catch (err) {
      throw encodeFailed(err)
    }
    if (next.done) break
    const chunk = next.value
    if (chunk.length > 0) {
      buffer.push(chunk)
      buffered += chunk.length
      if (buffered >= CHUNK_CHARS) {
        await writer.write(buffer.join(''))
        buffer = []
        buffered = 0
      }
    }
    await turnIfDue()
  }
  if (buffered > 0) await writer.write(buffer.join(''))
}
