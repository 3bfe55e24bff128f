import { EVENT_BYTES, Segment } from './segment.ts'

export interface RingOptions {
  /** µs of history to keep at least (if it fits in maxBytes). */
  minAgeMicros: number
  maxBytes: number
  /** A segment is sealed after this many µs even if not full (Go: about one generation a second). */
  segmentSpanMicros?: number
}

/**
 * The window: a list of segments, oldest first. The last one is the segment
 * being written; every other one is sealed and never changes again. Trimming
 * happens when a segment is sealed, at segment granularity, as in Go:
 * - the newest sealed segment is always kept (a snapshot is never empty);
 * - maxBytes wins: older sealed segments go while they add up to more than it;
 * - otherwise the oldest goes only if the segments after it still cover minAge.
 * The segment being written is not counted against maxBytes, so the window may
 * hold up to maxBytes plus one segment.
 */
export class Ring {
  readonly segments: Segment[] = []
  readonly segmentCapacity: number
  readonly #minAge: number
  readonly #maxBytes: number
  readonly #span: number
  /** A segment is also sealed once its events, strings and blobs reach this many bytes. */
  readonly #segmentBytes: number

  constructor(options: RingOptions) {
    this.#minAge = options.minAgeMicros
    this.#maxBytes = options.maxBytes
    this.#span = options.segmentSpanMicros ?? 1_000_000
    this.#segmentBytes = Math.max(4096, Math.floor(options.maxBytes / 16))
    // About 16 segments fit in maxBytes, each at most 8192 events (336 KiB).
    this.segmentCapacity = Math.max(
      64,
      Math.min(8192, Math.floor(options.maxBytes / 16 / EVENT_BYTES)),
    )
  }

  /**
   * The segment to write `room` events at `ts` into (they must share its string
   * table); seals it and starts a new one when it lacks room or is old.
   */
  current(ts: number, room = 1): Segment {
    const segments = this.segments
    const seg = segments[segments.length - 1]
    if (
      seg === undefined ||
      seg.count + room > seg.capacity ||
      ts - seg.startTs >= this.#span ||
      seg.bytes >= this.#segmentBytes
    ) {
      return this.rotate(ts)
    }
    return seg
  }

  /** Seals the segment being written (if any), starts a new one at `ts` and trims. */
  rotate(ts: number): Segment {
    const last = this.segments[this.segments.length - 1]
    if (last) {
      last.sealed = true
      if (last.endTs < ts) last.endTs = ts
    }
    const seg = new Segment(this.segmentCapacity, ts)
    this.segments.push(seg)
    this.trim(ts)
    return seg
  }

  /** Drops the oldest sealed segments that are no longer needed (see class doc). */
  trim(now: number): void {
    const segments = this.segments
    const sealed = segments.length - 1
    if (sealed < 2) return
    let total = 0
    for (let i = 0; i < sealed; i++) total += segments[i].bytes
    let drop = 0
    while (drop < sealed - 1) {
      const overSize = total > this.#maxBytes
      // The rest still covers minAge if the next segment starts at or before now - minAge.
      const tooOld = segments[drop + 1].startTs <= now - this.#minAge
      if (!overSize && !tooOld) break
      total -= segments[drop].bytes
      drop++
    }
    if (drop > 0) segments.splice(0, drop)
  }

  /** Bytes accounted for by every segment in the window, the one being written included. */
  get bytes(): number {
    let total = 0
    for (const s of this.segments) total += s.bytes
    return total
  }

  /**
   * Seals the segment being written (if it holds anything) and returns the
   * sealed segments: an immutable copy of the window that a snapshot can read
   * while recording goes on. O(segments); nothing is copied.
   */
  seal(ts: number): Segment[] {
    const last = this.segments[this.segments.length - 1]
    if (last && (last.count > 0 || last.blobs.length > 0)) this.rotate(ts)
    return this.segments.filter((s) => s.sealed)
  }

  clear(): void {
    this.segments.length = 0
  }
}
