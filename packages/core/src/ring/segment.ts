import { StringTable } from './string-table.ts'

/** Numeric fields per event besides its kind: ts, a, b, c, d. */
export const FIELDS = 5
/** Bytes one event takes in a segment: a kind byte and five float64s. */
export const EVENT_BYTES = 1 + FIELDS * 8

/** A large structured record kept beside the events, e.g. one CPU profile window. */
export interface Blob {
  kind: number
  ts: number
  data: unknown
  bytes: number
}

/**
 * A self-contained slice of the window: preallocated columns of events, its own
 * string table and blobs. Sealed segments are never written again, so a
 * snapshot can hold on to them without copying.
 */
export class Segment {
  readonly kinds: Uint8Array
  /** Row-major: event i's ts is at i*FIELDS, then a, b, c, d. */
  readonly fields: Float64Array
  readonly strings = new StringTable()
  readonly blobs: Blob[] = []
  readonly capacity: number
  readonly startTs: number
  endTs: number
  count = 0
  blobBytes = 0
  sealed = false

  constructor(capacity: number, startTs: number) {
    this.capacity = capacity
    this.kinds = new Uint8Array(capacity)
    this.fields = new Float64Array(capacity * FIELDS)
    this.startTs = startTs
    this.endTs = startTs
  }

  get full(): boolean {
    return this.count >= this.capacity
  }

  /** Bytes this segment accounts for: the events written, strings and blobs. */
  get bytes(): number {
    return this.count * EVENT_BYTES + this.strings.bytes + this.blobBytes
  }

  push(kind: number, ts: number, a: number, b: number, c: number, d: number): void {
    const i = this.count++
    this.kinds[i] = kind
    const f = i * FIELDS
    const fields = this.fields
    fields[f] = ts
    fields[f + 1] = a
    fields[f + 2] = b
    fields[f + 3] = c
    fields[f + 4] = d
    if (ts > this.endTs) this.endTs = ts
  }

  addBlob(blob: Blob): void {
    this.blobs.push(blob)
    this.blobBytes += blob.bytes
    if (blob.ts > this.endTs) this.endTs = blob.ts
  }

  kind(i: number): number {
    return this.kinds[i]
  }

  ts(i: number): number {
    return this.fields[i * FIELDS]
  }

  /** Field 1..4 (a..d) of event i. */
  field(i: number, n: 1 | 2 | 3 | 4): number {
    return this.fields[i * FIELDS + n]
  }
}
