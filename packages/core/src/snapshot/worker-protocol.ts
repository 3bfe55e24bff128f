import type { SegmentData } from '../ring/segment.ts'
import type { EncodeMeta } from './encode.ts'

/**
 * Messages between {@link writeSnapshot} and the encoding worker. The main
 * thread sends the window one segment at a time, then `encode`; the worker
 * answers with chunks of UTF-8 JSON (transferred, not copied), at most
 * {@link CHUNKS_IN_FLIGHT} ahead of the main thread's acks, then `end`.
 */
export type ToWorker =
  | { type: 'segment'; segment: SegmentData }
  | { type: 'encode'; meta: EncodeMeta }
  | { type: 'ack' }

export type FromWorker =
  | { type: 'ready' }
  | { type: 'chunk'; bytes: Uint8Array }
  | { type: 'end' }
  | { type: 'failed'; message: string; stack?: string }

/** Chunks the worker may send before the main thread has written them. */
export const CHUNKS_IN_FLIGHT = 4

/** Characters of JSON per chunk. */
export const CHUNK_CHARS = 256 * 1024
