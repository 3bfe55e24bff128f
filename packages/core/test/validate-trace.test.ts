/**
 * The trace validator every snapshot in the tests goes through: it accepts
 * well-formed traces and catches each kind of broken one.
 */
import { describe, expect, it } from 'vitest'
import type { TraceEvent } from '../src/snapshot/trace-format.ts'
import { validateTrace } from '../src/snapshot/validate-trace.ts'

const pid = 1
const meta = { flightrec: { format: 'flightrec-snapshot' } }
const trace = (traceEvents: unknown[]) => ({ traceEvents, metadata: meta })

const good: TraceEvent[] = [
  { ph: 'M', name: 'thread_name', pid, tid: 1, args: { name: 'loop' } },
  { ph: 'X', name: 'outer', pid, tid: 1, ts: 10, dur: 100 },
  { ph: 'X', name: 'inner', pid, tid: 1, ts: 20, dur: 30, bind_id: 'f1', flow_out: true },
  { ph: 'X', name: 'after', pid, tid: 1, ts: 110, dur: 5 },
  { ph: 'B', name: 'sync', pid, tid: 2, ts: 5 },
  { ph: 'E', pid, tid: 2, ts: 9 },
  { ph: 'b', cat: 'c', name: 'request', pid, id: 'r1', ts: 0 },
  { ph: 'b', cat: 'c', name: 'call', pid, id: 'r1', ts: 10, bind_id: 'f1', flow_in: true },
  { ph: 'n', cat: 'c', name: 'log', pid, id: 'r1', ts: 12 },
  { ph: 'e', cat: 'c', name: 'call', pid, id: 'r1', ts: 20 },
  { ph: 'e', cat: 'c', name: 'request', pid, id: 'r1', ts: 30 },
  { ph: 'C', name: 'memory', pid, ts: 5, args: { heapUsed: 1, rss: 2 } },
  { ph: 'i', s: 'g', name: 'trigger', pid, tid: 1, ts: 7 },
  { ph: 'P', name: 'Profile', pid, tid: 1, id: '0x1', ts: 1, args: { data: { startTime: 1 } } },
  {
    ph: 'P',
    name: 'ProfileChunk',
    pid,
    tid: 1,
    id: '0x1',
    ts: 3,
    args: { data: { cpuProfile: { nodes: [], samples: [1, 1] }, timeDeltas: [1, 1] } },
  },
]

/** `good` with event `index` replaced (or removed, given undefined) and extra events added. */
function broken(index: number, replacement?: Partial<TraceEvent> | null, ...extra: TraceEvent[]) {
  const events: unknown[] = good.map((e, i) =>
    i === index ? (replacement === null ? null : { ...e, ...replacement }) : e,
  )
  return trace([...events, ...extra])
}

describe('validateTrace', () => {
  it('accepts a well-formed trace', () => {
    expect(validateTrace(trace(good), { requireFlightrec: true })).toEqual([])
  })

  it('accepts async events written out of time order, as viewers sort them', () => {
    const shuffled = [...good].reverse()
    expect(validateTrace(trace(shuffled))).toEqual([])
  })

  it.each([
    ['a file without traceEvents', { events: [] }, /no traceEvents/],
    ['a non-object event', broken(1, null), /not an object/],
    ['an unknown phase', broken(1, { ph: 'Q' }), /unknown phase/],
    ['a missing pid', broken(1, { pid: undefined }), /pid missing/],
    ['a missing name', broken(3, { name: undefined }), /name missing/],
    ['a negative ts', broken(3, { ts: -1 }), /ts missing or invalid/],
    ['a missing ts', broken(4, { ts: undefined }), /ts missing or invalid/],
    ['an X without dur', broken(3, { dur: undefined }), /valid dur/],
    ['an X without tid', broken(3, { tid: undefined }), /without tid/],
    ['X slices that overlap without nesting', broken(2, { dur: 200 }), /overlaps 'outer'/],
    ['a B without E', broken(5, { ph: 'i' }), /1 'B' without 'E'/],
    ['an E without B', broken(4, { ph: 'i' }), /'E'.*without 'B'/],
    ['an async e without b', broken(7, { ph: 'n' }), /'e' .*without 'b'/],
    ['a b without e', broken(9, { ph: 'n' }), /1 'b' without 'e'/],
    ['an async event without id', broken(8, { id: undefined }), /without id/],
    ['an instant outside any slice', broken(8, { ts: 40 }), /outside any slice/],
    [
      'async slices that overlap without nesting',
      broken(9, { ts: 35 }),
      /'request' ends at 30 while 'call'/,
    ],
    ['a counter that is not a number', broken(11, { args: { heapUsed: 'x' } }), /not a number/],
    ['a counter without values', broken(11, { args: {} }), /without values/],
    ['an unknown metadata name', broken(0, { name: 'colour' }), /unknown metadata/],
    ['a bad instant scope', broken(12, { s: 'x' as 'g' }), /bad instant scope/],
    ['a profile event without id', broken(13, { id: undefined }), /profile event without id/],
    [
      'samples without matching time deltas',
      broken(14, { args: { data: { cpuProfile: { samples: [1, 2, 3] }, timeDeltas: [1] } } }),
      /3 samples but 1 time deltas/,
    ],
    ['a flow_in without flow_out', broken(2, { flow_out: undefined }), /flow_in without flow_out/],
    ['a flow_out without flow_in', broken(7, { flow_in: undefined }), /flow_out without flow_in/],
    [
      'two flow_out of one flow',
      broken(-1, undefined, {
        ph: 'X',
        name: 'again',
        pid,
        tid: 3,
        ts: 1,
        dur: 1,
        bind_id: 'f1',
        flow_out: true,
      }),
      /2 flow_out/,
    ],
  ])('catches %s', (_what, file, problem) => {
    const problems = validateTrace(file)
    expect(
      problems.some((p) => problem.test(p)),
      problems.join('\n'),
    ).toBe(true)
  })

  it('requires flightrec metadata only when asked', () => {
    const plain = { traceEvents: good }
    expect(validateTrace(plain)).toEqual([])
    expect(validateTrace(plain, { requireFlightrec: true })).toEqual([
      'metadata.flightrec is missing or not a flightrec snapshot',
    ])
  })

  it('lists at most 50 problems', () => {
    const events = Array.from({ length: 200 }, () => ({ ph: 'Q', pid }))
    expect(validateTrace(trace(events))).toHaveLength(50)
  })
})
