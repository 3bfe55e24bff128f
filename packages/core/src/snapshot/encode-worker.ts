/**
 * The encoding worker: rebuilds the window's segments as they arrive, encodes
 * them with {@link encodeSnapshot} and sends the JSON back in chunks, so none
 * of the encoding runs on the recorded process's event loop. It runs at the
 * lowest scheduling priority, so it takes spare CPU rather than the app's.
 */
import { constants, setPriority } from 'node:os'
import { parentPort } from 'node:worker_threads'
import { Segment } from '../ring/segment.ts'
import { type EncodeMeta, encodeSnapshot } from './encode.ts'
import { CHUNK_CHARS, CHUNKS_IN_FLIGHT, type FromWorker, type ToWorker } from './worker-protocol.ts'

const port = parentPort
if (!port) throw new Error('encode-worker.ts runs as a worker thread')

// Encoding is background work: where the OS allows (Linux: per thread), let
// the recorded process's own threads go first when cores are short.
try {
  setPriority(constants.priority.PRIORITY_LOW)
} catch {
  // Not allowed here; encoding still runs, at normal priority.
}

const segments: Segment[] = []
let credits = CHUNKS_IN_FLIGHT
let wake: (() => void) | undefined

const send = (message: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer)

port.on('message', (message: ToWorker) => {
  if (message.type === 'segment') {
    segments.push(new Segment(0, message.segment.startTs, message.segment))
  } else if (message.type === 'ack') {
    credits++
    wake?.()
  } else {
    encode(message.meta).catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err))
      send({ type: 'failed', message: error.message, stack: error.stack })
    })
  }
})
send({ type: 'ready' })

async function encode(meta: EncodeMeta): Promise<void> {
  const encoder = new TextEncoder()
  let parts: string[] = []
  let chars = 0
  const flush = async () => {
    const bytes = encoder.encode(parts.join(''))
    parts = []
    chars = 0
    while (credits === 0) {
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
    credits--
    send({ type: 'chunk', bytes }, [bytes.buffer as ArrayBuffer])
  }
  for (const text of encodeSnapshot(segments, meta)) {
    if (text.length === 0) continue
    parts.push(text)
    chars += text.length
    if (chars >= CHUNK_CHARS) await flush()
  }
  if (chars > 0) await flush()
  send({ type: 'end' })
}
