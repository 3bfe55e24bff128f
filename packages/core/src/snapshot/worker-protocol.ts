import type { Blob, SegmentData } from '../ring/segment.ts'
import type { EncodeMeta } from './encode.ts'

/**
 * Messages between {@link writeSnapshot} and the encoding worker. The main
 * thread sends the window oldest segment first: each `segment` (its blobs
 * empty), then its blobs one `blob` at a time, then `encode` with a shared
 * buffer of {@link CHUNK_SLOTS} slots of {@link SLOT_BYTES}. The worker
 * encodes UTF-8 JSON straight into a free slot and sends `chunk` (which slot,
 * how many bytes); the main thread `ack`s the slot once the stream is done
 * with those bytes; then `end`. The main thread's heap never holds the
 * snapshot's bytes, so writing it brings on no collections there.
 */
export type ToWorker =
  | { type: 'segment'; segment: SegmentData }
  /** A blob of the last segment sent. */
  | { type: 'blob'; blob: Blob }
  | { type: 'encode'; meta: EncodeMeta; slots: SharedArrayBuffer }
  | { type: 'ack'; slot: number }

export type FromWorker =
  | { type: 'ready' }
  | { type: 'chunk'; slot: number; length: number }
  | { type: 'end' }
  | { type: 'failed'; message: string; stack?: string }

/** Slots of the shared buffer: chunks the worker may have encoded ahead of the stream. */
export const CHUNK_SLOTS = 4

/** Bytes per slot, and characters of JSON the worker gathers before encoding them into slots. */
export const SLOT_BYTES = 256 * 1024
