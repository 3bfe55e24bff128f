import type { Writable } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { ErrorCodes, FlightRecorderError } from '../errors.ts'
import type { Segment } from '../ring/segment.ts'
import { type EncodeMeta, encodeSnapshot } from './encode.ts'

/** How long one encoding slice may hold the event loop, in ms. */
const SLICE_MS = 2
/** Text buffered before a write to the stream. */
const CHUNK_CHARS = 64 * 1024

export interface WriteMeta extends EncodeMeta {
  /** Checked between slices: true if the recorder was stopped meanwhile. */
  aborted(): boolean
}

/**
 * Drives {@link encodeSnapshot} in slices of about {@link SLICE_MS} ms,
 * yielding to the event loop between them, and writes the text to `stream`
 * with backpressure. Resolves with the bytes written. On a stream error,
 * rejects with ERR_FLIGHTREC_SINK_FAILED whose `bytesWritten` is the count
 * accepted before it.
 */
export async function writeSnapshot(
  stream: Writable | NodeJS.WritableStream,
  segments: Segment[],
  meta: WriteMeta,
): Promise<number> {
  const writer = new StreamWriter(stream)
  try {
    const chunks = encodeSnapshot(segments, meta)
    let buffer: string[] = []
    let buffered = 0
    let sliceStart = performance.now()
    for (const chunk of chunks) {
      if (chunk.length > 0) {
        buffer.push(chunk)
        buffered += chunk.length
        if (buffered >= CHUNK_CHARS) {
          await writer.write(buffer.join(''))
          buffer = []
          buffered = 0
        }
      }
      if (performance.now() - sliceStart >= SLICE_MS) {
        await nextTurn()
        if (meta.aborted()) {
          throw new FlightRecorderError(
            ErrorCodes.STOPPED_DURING_WRITE,
            'flight recorder stopped while writing',
          )
        }
        sliceStart = performance.now()
      }
    }
    if (buffered > 0) await writer.write(buffer.join(''))
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

/** Writes with backpressure and turns a stream 'error' into a rejection of the pending write. */
class StreamWriter {
  bytes = 0
  #stream: Writable | NodeJS.WritableStream
  #error: unknown
  #wake: (() => void) | undefined
  #onError = (err: unknown) => {
    this.#error ??= err
    this.#wake?.()
  }
  #onDrain = () => this.#wake?.()

  constructor(stream: Writable | NodeJS.WritableStream) {
    this.#stream = stream
    stream.on('error', this.#onError)
    stream.on('drain', this.#onDrain)
    stream.on('close', this.#onDrain)
  }

  check(): void {
    if (this.#error !== undefined) throw this.#error
    const s = this.#stream as Partial<Writable>
    if (s.destroyed || s.writableEnded)
      throw new Error('the stream was closed before the snapshot was written')
  }

  async write(text: string): Promise<void> {
    this.check()
    const ok = this.#stream.write(text)
    this.bytes += Buffer.byteLength(text)
    if (!ok) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
      this.#wake = undefined
      this.check()
    }
  }

  release(): void {
    this.#stream.removeListener('error', this.#onError)
    this.#stream.removeListener('drain', this.#onDrain)
    this.#stream.removeListener('close', this.#onDrain)
  }
}
