/**
 * The encoding worker: rebuilds the window's segments as they arrive, encodes
 * them with {@link encodeSnapshot} and writes the UTF-8 JSON into the slots
 * of the buffer it shares with the main thread, one chunk per free slot, so
 * none of the encoding runs on the recorded process's event loop. It runs at
 * the lowest scheduling priority, so it takes spare CPU rather than the app's.
 */
import { constants, setPriority } from 'node:os'
import { parentPort } from 'node:worker_threads'
import { Segment } from '../ring/segment.ts'
import { type EncodeMeta, encodeSnapshot } from './encode.ts'
import { CHUNK_SLOTS, type FromWorker, SLOT_BYTES, type ToWorker } from './worker-protocol.ts'

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
/** Slots of the shared buffer the main thread is not writing from. */
const freeSlots = Array.from({ length: CHUNK_SLOTS }, (_, slot) => slot)
let wake: (() => void) | undefined

const post = (message: FromWorker) => port.postMessage(message)

port.on('message', (message: ToWorker) => {
  if (message.type === 'segment') {
    segments.push(new Segment(0, message.segment.startTs, message.segment))
  } else if (message.type === 'blob') {
    segments[segments.length - 1]?.addBlob(message.blob)
  } else if (message.type === 'ack') {
    freeSlots.push(message.slot)
    wake?.()
  } else {
    encode(message.meta, new Uint8Array(message.slots)).catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err))
      post({ type: 'failed', message: error.message, stack: error.stack })
    })
  }
})
post({ type: 'ready' })

async function freeSlot(): Promise<number> {
  for (;;) {
    const slot = freeSlots.shift()
    if (slot !== undefined) return slot
    await new Promise<void>((resolve) => {
      wake = resolve
    })
  }
}

/**
 * Encodes the snapshot into the shared slots: text is gathered into batches
 * of about a slot's worth of characters, and each batch encoded on from where
 * the last one stopped; a slot goes to the main thread once full.
 */
async function encode(meta: EncodeMeta, slots: Uint8Array): Promise<void> {
  const encoder = new TextEncoder()
  let slot = -1
  let used = 0
  const send = () => {
    post({ type: 'chunk', slot, length: used })
    slot = -1
  }
  const put = async (batch: string) => {
    let text = batch
    while (text.length > 0) {
      if (slot < 0) {
        slot = await freeSlot()
        used = 0
      }
      const start = slot * SLOT_BYTES
      const { read, written } = encoder.encodeInto(
        text,
        slots.subarray(start + used, start + SLOT_BYTES),
      )
      used += written
      text = text.slice(read)
      // Text left over means the slot is full (or too full for its next character).
      if (text.length > 0) send()
    }
  }
  let parts: string[] = []
  let chars = 0
  for (const text of encodeSnapshot(segments, meta)) {
    if (text.length === 0) continue
    parts.push(text)
    chars += text.length
    if (chars >= SLOT_BYTES / 4) {
      await put(parts.join(''))
      parts = []
      chars = 0
    }
  }
  await put(parts.join(''))
  if (slot >= 0 && used > 0) send()
  post({ type: 'end' })
}
