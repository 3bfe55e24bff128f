import { WriteStream } from 'node:fs'
import type { Writable } from 'node:stream'
import { ErrorCodes, FlightRecorderError } from '../errors.ts'

/**
 * Writes a snapshot's text or bytes to a stream with backpressure, counts the
 * bytes the stream accepted, and turns a stream 'error' (or an early close)
 * into a rejection of the pending write, as does `signal` aborting (the
 * recorder was stopped): a stalled stream never holds a stopped recorder's
 * write forever. The stream is never ended.
 */
export class StreamWriter {
  bytes = 0
  /**
   * Whether the stream lets go of a chunk once it called back for it, so the
   * chunk's memory may be reused then: true of a file stream, which writes
   * each chunk to its file descriptor and keeps nothing; not assumed of any
   * other stream (a PassThrough or a collecting Writable keeps its chunks).
   */
  readonly releasesChunks: boolean
  #stream: Writable | NodeJS.WritableStream
  #signal: AbortSignal
  #error: unknown
  #wake: (() => void) | undefined
  #onError = (err: unknown) => {
    this.#error ??= err
    this.#wake?.()
  }
  #onDrain = () => this.#wake?.()

  constructor(stream: Writable | NodeJS.WritableStream, signal: AbortSignal) {
    this.#stream = stream
    this.#signal = signal
    this.releasesChunks = stream instanceof WriteStream
    signal.addEventListener('abort', this.#onDrain)
    stream.on('error', this.#onError)
    stream.on('drain', this.#onDrain)
    stream.on('close', this.#onDrain)
  }

  /** Throws if the recorder was stopped, or the stream failed, closed or ended. */
  check(): void {
    if (this.#signal.aborted) throw stoppedError()
    if (this.#error !== undefined) throw this.#error
    const s = this.#stream as Partial<Writable>
    if (s.destroyed || s.writableEnded) {
      throw new Error('the stream was closed before the snapshot was written')
    }
  }

  /** Writes `chunk`, then waits for 'drain' if the stream asked for it. `written` is the stream's callback for the chunk. */
  async write(chunk: string | Uint8Array, written?: (err?: Error | null) => void): Promise<void> {
    this.check()
    const ok = written ? this.#stream.write(chunk, written) : this.#stream.write(chunk)
    this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength
    if (!ok) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
      this.#wake = undefined
      this.check()
    }
  }

  release(): void {
    this.#signal.removeEventListener('abort', this.#onDrain)
    this.#stream.removeListener('error', this.#onError)
    this.#stream.removeListener('drain', this.#onDrain)
    this.#stream.removeListener('close', this.#onDrain)
  }
}

/** The rejection of a write whose recorder was stopped. */
export function stoppedError(): FlightRecorderError {
  return new FlightRecorderError(
    ErrorCodes.STOPPED_DURING_WRITE,
    'flight recorder stopped while writing',
  )
}
