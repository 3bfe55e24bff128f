import { EVENT_BYTES, Segment } from './segment.ts'

export interface RingOptions {
  /** µs of history to keep at least (if it fits in maxBytes). */
  minAgeMicros: number
  maxBytes: number
  /** A segment is sealed after this many µs even if not full (Go: about one generation a second). */
  segmentSpanMicros?: number
}

/**
 * The window: a list of segments, oldest first. The newest is the one being
 * written. Trimming happens only when a segment is sealed, at segment
 * granularity, as in Go:
 * - maxBytes wins: the oldest segments go while the total is above it;
 * - otherwise the oldest goes only if the segments after it still cover minAge;
 * - the newest segment is always kept.
 */
export class Ring {
  readonly segments: Segment[] = []
  readonly segmentCapacity: number
  readonly #minAge: number
  readonly #maxBytes: number
  readonly #span: number

  constructor(options: RingOptions) {
    this.#minAge = options.minAgeMicros
    this.#maxBytes = options.maxBytes
    this.#span = options.segmentSpanMicros ?? 1_000_000
    // About 16 segments fit in maxBytes, each at most 8192 events (336 KiB).
    this.segmentCapacity = Math.max(
      64,
      Math.min(8192, Math.floor(options.maxBytes / 16 / EVENT_BYTES)),
    )
  }

  /** The segment to write an event at `ts` into; seals and rotates when full or old. */
  current(ts: number): Segment {
    const segments = this.segments
    let seg = segments[segments.length - 1]
    if (seg === undefined) {
      seg = new Segment(this.segmentCapacity, ts)
      segments.push(seg)
    } else if (seg.full || ts - seg.startTs >= this.#span) {
      seg = this.rotate(ts)
    }
    return seg
  }

  /** Seals the segment being written and starts a new one; trims. Returns the new segment. */
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

  /** Drops the oldest segments that are no longer needed (see class doc). */
  trim(now: number): void {
    const segments = this.segments
    let total = this.bytes
    while (segments.length > 1) {
      const oldest = segments[0]
      const overSize = total > this.#maxBytes
      // The rest still covers minAge if the next segment starts at or before now - minAge.
      const tooOld = segments[1].startTs <= now - this.#minAge
      if (!overSize && !tooOld) break
      segments.shift()
      total -= oldest.bytes
    }
  }

  /** Bytes accounted for by every segment in the window. */
  get bytes(): number {
    let total = 0
    for (const s of this.segments) total += s.bytes
    return total
  }

  /** Seals the current segment (if it has anything) so the whole window is immutable, and returns it. */
  seal(ts: number): Segment[] {
    const last = this.segments[this.segments.length - 1]
    if (last && (last.count > 0 || last.blobs.length > 0)) this.rotate(ts)
    return this.segments.filter((s) => s.sealed)
  }

  clear(): void {
    this.segments.length = 0
  }
}
