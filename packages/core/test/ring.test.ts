/**
 * The ring of segments: unit rules, then fast-check properties:
 * - it never holds more than maxBytes plus one segment;
 * - it keeps at least minAge of history whenever that fits in maxBytes;
 * - any suffix of its segments decodes into a valid trace.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BlobKind, EventKind } from '../src/events.ts'
import { recorderDefaults, resolveRecorderOptions } from '../src/options.ts'
import { Ring } from '../src/ring/ring.ts'
import { EVENT_BYTES, type Segment } from '../src/ring/segment.ts'
import { encodeSnapshot } from '../src/snapshot/encode.ts'
import type { SnapshotFile } from '../src/snapshot/trace-format.ts'
import { validateTrace } from '../src/snapshot/validate-trace.ts'
import type { CpuProfile } from '../src/sources/cpu-sampler.ts'

const SECOND = 1_000_000

function push(ring: Ring, ts: number, kind: number, a = 0, b = 0, c = 0, d = 0): Segment {
  const seg = ring.current(ts)
  seg.push(kind, ts, a, b, c, d)
  return seg
}

function sealedBytes(ring: Ring): number {
  return ring.segments.filter((s) => s.sealed).reduce((sum, s) => sum + s.bytes, 0)
}

describe('Ring', () => {
  it('rotates a segment when it is full or a second old', () => {
    const ring = new Ring({ minAgeMicros: 60 * SECOND, maxBytes: 1 << 20 })
    const first = push(ring, 0, EventKind.Log)
    expect(push(ring, SECOND - 1, EventKind.Log)).toBe(first)
    const second = push(ring, SECOND, EventKind.Log)
    expect(second).not.toBe(first)
    expect(first.sealed).toBe(true)
    for (let i = 0; i < ring.segmentCapacity; i++) push(ring, SECOND + 1, EventKind.Log)
    expect(ring.segments).toHaveLength(3)
  })

  it('gives room for several events in one segment, so they share its string table', () => {
    const ring = new Ring({ minAgeMicros: 0, maxBytes: 16 * 1024 })
    for (let i = 0; i < ring.segmentCapacity - 1; i++) push(ring, 1, EventKind.Log)
    const before = ring.current(1)
    const seg = ring.current(1, 2)
    expect(seg).not.toBe(before)
    expect(seg.count).toBe(0)
  })

  it('never writes past a full segment', () => {
    const ring = new Ring({ minAgeMicros: 0, maxBytes: 16 * 1024 })
    const seg = ring.current(0)
    for (let i = 0; i < seg.capacity + 10; i++) seg.push(EventKind.Log, 0, 1, 2, 3, 4)
    expect(seg.count).toBe(seg.capacity)
  })

  it('drops segments older than minAge once newer ones cover it', () => {
    const ring = new Ring({ minAgeMicros: 3 * SECOND, maxBytes: 1 << 30 })
    for (let t = 0; t <= 10 * SECOND; t += SECOND / 2) push(ring, t, EventKind.Log)
    const starts = ring.segments.map((s) => s.startTs)
    // At t = 10 s, the oldest kept segment starts at or before 7 s and the next one after it.
    expect(starts[0]).toBeLessThanOrEqual(7 * SECOND)
    expect(starts[1]).toBeGreaterThan(7 * SECOND)
  })

  it('lets maxBytes win over minAge, but always keeps the newest sealed segment', () => {
    const ring = new Ring({ minAgeMicros: 3600 * SECOND, maxBytes: 16 * 1024 })
    const seg = ring.current(0)
    seg.addBlob({ kind: BlobKind.CpuProfile, ts: 0, data: {}, bytes: 1 << 20 })
    push(ring, 2 * SECOND, EventKind.Log)
    push(ring, 3 * SECOND, EventKind.Log)
    // The 1 MiB segment is over maxBytes alone; it goes once a newer sealed one exists.
    expect(ring.segments.map((s) => s.blobs.length)).toEqual([0, 0])
    const sealed = ring.seal(4 * SECOND)
    expect(sealed.length).toBeGreaterThan(0)
  })

  it('seals the whole window for a snapshot without copying', () => {
    const ring = new Ring({ minAgeMicros: 60 * SECOND, maxBytes: 1 << 20 })
    const seg = push(ring, 0, EventKind.Log)
    const sealed = ring.seal(10)
    expect(sealed).toEqual([seg])
    expect(seg.sealed).toBe(true)
    // Recording goes on in a new segment the snapshot does not see.
    push(ring, 11, EventKind.Log)
    expect(sealed).toHaveLength(1)
    expect(ring.seal(12)).toHaveLength(2)
  })
})

interface Op {
  /** µs since the previous op. */
  advance: number
  /** Interned string length (0: no string). */
  text: number
  blob: number
}

const ops = fc.array(
  fc.record({
    advance: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 400_000 })),
    text: fc.integer({ min: 0, max: 300 }),
    blob: fc.oneof(
      fc.constant(0),
      fc.constant(0),
      fc.constant(0),
      fc.integer({ min: 1, max: 40_000 }),
    ),
  }),
  { minLength: 1, maxLength: 600 },
)
const bounds = fc.record({
  maxBytes: fc.integer({ min: 16 * 1024, max: 256 * 1024 }),
  minAgeMicros: fc.integer({ min: 0, max: 20 * SECOND }),
  segmentSpanMicros: fc.integer({ min: 50_000, max: 2 * SECOND }),
})

/** Replays `script` into a ring, calling `check(now, rotated)` after each op. */
function replay(
  ring: Ring,
  script: Op[],
  check: (now: number, rotated: boolean, dropped: Segment | undefined) => void,
): void {
  let now = 0
  let n = 0
  const everKept: Segment[] = []
  for (const op of script) {
    now += op.advance
    const before = ring.segments[ring.segments.length - 1]
    const seg = ring.current(now)
    if (op.text > 0) seg.strings.intern(`${n++}:${'x'.repeat(op.text)}`)
    seg.push(EventKind.Log, now, 0, 0, -1, 30)
    if (op.blob > 0) seg.addBlob({ kind: 99, ts: now, data: null, bytes: op.blob })
    for (const s of ring.segments) if (!everKept.includes(s)) everKept.push(s)
    const firstKept = everKept.indexOf(ring.segments[0])
    check(now, seg !== before, firstKept > 0 ? everKept[firstKept - 1] : undefined)
  }
}

describe('Ring properties', () => {
  it('never holds more than maxBytes plus one segment', () => {
    fc.assert(
      fc.property(bounds, ops, (options, script) => {
        const ring = new Ring(options)
        replay(ring, script, () => {
          const sealed = ring.segments.filter((s) => s.sealed)
          const current = ring.segments[ring.segments.length - 1]
          // The sealed segments fit in maxBytes, unless a single one is over it alone.
          if (sealed.length > 1) expect(sealedBytes(ring)).toBeLessThanOrEqual(options.maxBytes)
          expect(ring.bytes).toBeLessThanOrEqual(
            Math.max(options.maxBytes, sealed[sealed.length - 1]?.bytes ?? 0) + current.bytes,
          )
          // A segment holds at most its capacity in events.
          expect(current.count * EVENT_BYTES).toBeLessThanOrEqual(
            ring.segmentCapacity * EVENT_BYTES,
          )
        })
      }),
      { numRuns: 200 },
    )
  })

  it('keeps at least minAge of history whenever that fits in maxBytes', () => {
    fc.assert(
      fc.property(bounds, ops, (options, script) => {
        const ring = new Ring(options)
        replay(ring, script, (now, rotated, lastDropped) => {
          // Trimming happens when a segment is sealed; check right after.
          if (!rotated || lastDropped === undefined) return
          const coversMinAge = ring.segments[0].startTs <= now - options.minAgeMicros
          const keepingItWouldOverflow = sealedBytes(ring) + lastDropped.bytes > options.maxBytes
          expect(coversMinAge || keepingItWouldOverflow).toBe(true)
        })
      }),
      { numRuns: 200 },
    )
  })

  it('decodes any suffix of its segments into a valid trace', () => {
    fc.assert(
      fc.property(windowScript, fc.nat(), (script, cut) => {
        const ring = new Ring({
          minAgeMicros: 3600 * SECOND,
          maxBytes: 1 << 30,
          segmentSpanMicros: 20_000,
        })
        const end = play(ring, script)
        const segments = ring.seal(end)
        const suffix = segments.slice(cut % segments.length)
        const file = decode(suffix, end)
        expect(validateTrace(file, { requireFlightrec: true })).toEqual([])
        // Every request with an event in the suffix is in the trace, once.
        const ids = new Set<number>()
        for (const seg of suffix) {
          for (let i = 0; i < seg.count; i++) {
            const kind = seg.kind(i)
            if (kind === EventKind.RequestStart || kind === EventKind.RequestEnd)
              ids.add(seg.field(i, 1))
          }
        }
        const requests = file.traceEvents.filter(
          (e) => e.cat === 'flightrec.request' && e.ph === 'b' && e.args?.type === undefined,
        )
        expect(requests.map((e) => e.args?.requestId).sort()).toEqual([...ids].sort())
      }),
      { numRuns: 150 },
    )
  })
})

/** Actions of a synthetic service: requests with calls, tasks, regions and logs, and the rest. */
type Action =
  | { do: 'request'; advance: number }
  | { do: 'end'; pick: number; status: number; advance: number; aborted: boolean }
  | { do: 'call'; pick: number; advance: number }
  | { do: 'callEnd'; pick: number; advance: number; failed: boolean }
  | { do: 'task'; pick: number; advance: number; region: boolean }
  | { do: 'taskEnd'; pick: number; advance: number }
  | { do: 'log'; pick: number; advance: number }
  | { do: 'gc' | 'stall' | 'counters' | 'trigger' | 'profile'; advance: number; size: number }

const advance = fc.integer({ min: 0, max: 5000 })
const pick = fc.nat()
const windowScript = fc.array(
  fc.oneof(
    fc.record({ do: fc.constant('request' as const), advance }),
    fc.record({
      do: fc.constant('end' as const),
      pick,
      status: fc.constantFrom(200, 404, 500),
      advance,
      aborted: fc.boolean(),
    }),
    fc.record({ do: fc.constant('call' as const), pick, advance }),
    fc.record({ do: fc.constant('callEnd' as const), pick, advance, failed: fc.boolean() }),
    fc.record({ do: fc.constant('task' as const), pick, advance, region: fc.boolean() }),
    fc.record({ do: fc.constant('taskEnd' as const), pick, advance }),
    fc.record({ do: fc.constant('log' as const), pick, advance }),
    fc.record({
      do: fc.constantFrom(
        'gc' as const,
        'stall' as const,
        'counters' as const,
        'trigger' as const,
        'profile' as const,
      ),
      advance,
      size: fc.integer({ min: 1, max: 60 }),
    }),
  ),
  { minLength: 1, maxLength: 300 },
) as fc.Arbitrary<Action[]>

const T0 = 1_000 * SECOND

/** Plays a script into the ring the way the sources would; returns the time it ended. */
function play(ring: Ring, script: Action[]): number {
  let now = T0
  let nextId = 1
  const open: number[] = []
  const calls: Array<{ id: number }> = []
  const tasks: Array<{ id: number; region: boolean }> = []
  const at = <T>(list: T[], n: number): T | undefined => list[n % Math.max(1, list.length)]
  const str = (seg: Segment, text: string) => seg.strings.intern(text)
  for (const action of script) {
    now += action.advance
    const requestId =
      action.do === 'request' || !('pick' in action) ? -1 : (at(open, action.pick) ?? -1)
    switch (action.do) {
      case 'request': {
        const id = nextId++
        open.push(id)
        const seg = ring.current(now, 2)
        seg.push(EventKind.RequestStart, now, id, str(seg, 'GET'), str(seg, `/items/${id}`), -1)
        seg.push(EventKind.RequestHeader, now, id, str(seg, 'user-agent'), str(seg, 'test'), 0)
        break
      }
      case 'end': {
        const id = at(open, action.pick)
        if (id === undefined) break
        open.splice(open.indexOf(id), 1)
        const seg = ring.current(now, 2)
        seg.push(EventKind.RequestRoute, now, id, str(seg, 'express'), str(seg, '/items/:id'), -1)
        seg.push(EventKind.RequestEnd, now, id, action.status, action.aborted ? 1 : 0, 0)
        break
      }
      case 'call': {
        const id = nextId++
        calls.push({ id })
        const seg = ring.current(now, 2)
        seg.push(
          EventKind.ClientStart,
          now,
          id,
          str(seg, 'GET'),
          str(seg, 'http://upstream/x'),
          requestId,
        )
        seg.push(EventKind.ClientCaller, now, id, str(seg, 'load'), str(seg, '/app/load.ts'), 12)
        break
      }
      case 'callEnd': {
        const call = at(calls, action.pick)
        if (!call) break
        calls.splice(calls.indexOf(call), 1)
        const seg = ring.current(now)
        const error = action.failed ? str(seg, 'ECONNRESET: socket hang up') : -1
        seg.push(EventKind.ClientEnd, now, call.id, action.failed ? 0 : 200, error, 0)
        break
      }
      case 'task': {
        const id = nextId++
        tasks.push({ id, region: action.region })
        const seg = ring.current(now)
        const kind = action.region ? EventKind.RegionBegin : EventKind.TaskBegin
        seg.push(kind, now, id, str(seg, action.region ? 'region' : 'task'), requestId, -1)
        break
      }
      case 'taskEnd': {
        const task = at(tasks, action.pick)
        if (!task) break
        tasks.splice(tasks.indexOf(task), 1)
        ring
          .current(now)
          .push(task.region ? EventKind.RegionEnd : EventKind.TaskEnd, now, task.id, 0, 0, 0)
        break
      }
      case 'log': {
        const seg = ring.current(now)
        seg.push(EventKind.Log, now, str(seg, 'app'), str(seg, `line at ${now}`), requestId, 30)
        break
      }
      case 'gc':
        ring.current(now).push(EventKind.Gc, now - action.size * 10, 1, action.size * 10, 0, 0)
        break
      case 'stall':
        ring
          .current(now)
          .push(EventKind.Stall, now - action.size * 1000, action.size * 1000, -1, 0, 0)
        break
      case 'counters': {
        const seg = ring.current(now, 2)
        seg.push(EventKind.MemoryCounters, now, 1e6, 2e6, 3e6, 4e3)
        seg.push(EventKind.LoopCounters, now, action.size / 7, 0.25, 12, open.length)
        break
      }
      case 'trigger': {
        const seg = ring.current(now)
        seg.push(EventKind.Trigger, now, str(seg, 'manual'), -1, -1, -1)
        break
      }
      case 'profile':
        ring.current(now).addBlob({
          kind: BlobKind.CpuProfile,
          ts: now,
          data: profile(now - action.size * 1000, action.size),
          bytes: 1000,
        })
        break
    }
  }
  return now + 1
}

/** A small CPU profile: `samples` samples 1 ms apart, alternating between a busy function and idle. */
function profile(start: number, samples: number): CpuProfile {
  const frame = (functionName: string, url = '') => ({
    functionName,
    url,
    lineNumber: 3,
    columnNumber: 1,
    scriptId: '1',
  })
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3] },
      { id: 2, callFrame: frame('busyWork', 'file:///app/work.ts'), children: [] },
      { id: 3, callFrame: frame('(idle)'), children: [] },
    ],
    startTime: start,
    endTime: start + samples * 1000,
    samples: Array.from({ length: samples }, (_, i) => (i % 5 < 3 ? 2 : 3)),
    timeDeltas: Array.from({ length: samples }, () => 1000),
  }
}

function decode(segments: Segment[], end: number): SnapshotFile {
  const chunks = encodeSnapshot(segments, {
    options: resolveRecorderOptions({ maxBytes: recorderDefaults.maxBytes }),
    startMicros: segments[0]?.startTs ?? end,
    endMicros: end,
    epochMillisAtEnd: Date.now(),
    level: 'default',
    errors: {},
  })
  return JSON.parse([...chunks].join('')) as SnapshotFile
}
