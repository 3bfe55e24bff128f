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
 * A sealed segment as plain data, its columns cut to the events written: what
 * crosses to the encoding worker (snapshot/write.ts sends the columns as views).
 */
export interface SegmentData {
  kinds: Uint8Array
  fields: Float64Array
  strings: string[]
  blobs: Blob[]
  count: number
  startTs: number
  endTs: number
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
  readonly strings: StringTable
  readonly blobs: Blob[] = []
  readonly capacity: number
  readonly startTs: number
  endTs: number
  count = 0
  blobBytes = 0
  sealed = false

  /** A new, empty segment for `capacity` events; or, given `sealed`, a read-only segment over data a snapshot sent. */
  constructor(capacity: number, startTs: number, sealed?: SegmentData) {
    this.capacity = sealed ? sealed.count : capacity
    this.kinds = sealed ? sealed.kinds : new Uint8Array(capacity)
    this.fields = sealed ? sealed.fields : new Float64Array(capacity * FIELDS)
    this.strings = sealed ? StringTable.of(sealed.strings) : new StringTable()
    this.startTs = startTs
    this.endTs = sealed ? sealed.endTs : startTs
    if (sealed) {
      this.count = sealed.count
      for (const blob of sealed.blobs) this.addBlob(blob)
      this.sealed = true
    }
  }

  /** Bytes this segment accounts for: the events written, strings and blobs. */
  get bytes(): number {
    return this.count * EVENT_BYTES + this.strings.bytes + this.blobBytes
  }

  /** Appends one event. A full segment drops it: ask the ring for room first (`Ring.current(ts, room)`). */
  push(kind: number, ts: number, a: number, b: number, c: number, d: number): void {
    const i = this.count
    if (i >= this.capacity) return
    this.count = i + 1
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
