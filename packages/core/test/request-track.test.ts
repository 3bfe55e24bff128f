/**
 * A request's children on its track: nested where they nest, in extra lanes
 * where they overlap a sibling without nesting (parallel calls).
 */
import { describe, expect, it } from 'vitest'
import { type ChildSlice, layOutRequest } from '../src/snapshot/request-track.ts'
import { requestIdOfTrack, requestTrackId, type TraceEvent } from '../src/snapshot/trace-format.ts'
import { validateTrace } from '../src/snapshot/validate-trace.ts'

const pid = 1
const cat = 'flightrec.request'

function child(name: string, start: number, end: number, rank = 0): ChildSlice {
  return {
    begin: { ph: 'b', cat, name, pid, id: 'r7', ts: start },
    end: { ph: 'e', cat, name, pid, id: 'r7', ts: end },
    rank,
  }
}

function layOut(children: ChildSlice[], instants: number[] = []): TraceEvent[] {
  const events = layOutRequest(
    7,
    { ph: 'b', cat, name: 'GET /', pid, id: 'r7', ts: 0 },
    { ph: 'e', cat, name: 'GET /', pid, id: 'r7', ts: 100 },
    children,
    instants.map((ts) => ({ ph: 'n', cat, name: `log ${ts}`, pid, id: 'r7', ts })),
  )
  expect(validateTrace({ traceEvents: events })).toEqual([])
  return events
}

const lanesOf = (events: TraceEvent[]) => {
  const lanes = new Map<string, string[]>()
  for (const e of events)
    if (e.ph === 'b') lanes.set(e.id ?? '', [...(lanes.get(e.id ?? '') ?? []), e.name ?? ''])
  return Object.fromEntries(lanes)
}

describe('layOutRequest', () => {
  it('nests children that nest on the request track', () => {
    const events = layOut([
      child('task', 10, 90),
      child('call', 20, 30, 3),
      child('region', 40, 50, 1),
    ])
    expect(lanesOf(events)).toEqual({ r7: ['GET /', 'task', 'call', 'region'] })
  })

  it('puts parallel calls that overlap without nesting into lanes of their own', () => {
    const events = layOut([
      child('a', 10, 50),
      child('b', 20, 60),
      child('c', 30, 70),
      child('d', 55, 58),
    ])
    expect(lanesOf(events)).toEqual({
      r7: ['GET /', 'a', 'd'],
      'r7.1': ['b'],
      'r7.2': ['c'],
    })
  })

  it('orders a task before the call it encloses when they start and end together', () => {
    const events = layOut([child('call', 10, 20, 3), child('task', 10, 20, 0)])
    expect(events.map((e) => `${e.ph} ${e.name}`)).toEqual([
      'b GET /',
      'b task',
      'b call',
      'e call',
      'e task',
      'e GET /',
    ])
  })

  it('closes a slice before its neighbour that starts when it ends', () => {
    const events = layOut([child('first', 10, 20), child('second', 20, 30), child('empty', 30, 30)])
    expect(events.map((e) => `${e.ph} ${e.name}`)).toEqual([
      'b GET /',
      'b first',
      'e first',
      'b second',
      'b empty',
      'e empty',
      'e second',
      'e GET /',
    ])
  })

  it('merges log instants in by time', () => {
    const events = layOut([child('call', 10, 20)], [5, 15, 25])
    expect(events.map((e) => `${e.ph} ${e.name}`)).toEqual([
      'b GET /',
      'n log 5',
      'b call',
      'n log 15',
      'e call',
      'n log 25',
      'e GET /',
    ])
  })
})

describe('request track ids', () => {
  it('round-trips the request id of every lane', () => {
    expect(requestTrackId(12)).toBe('r12')
    expect(requestTrackId(12, 3)).toBe('r12.3')
    expect(requestIdOfTrack('r12')).toBe(12)
    expect(requestIdOfTrack('r12.3')).toBe(12)
    expect(requestIdOfTrack('c12')).toBeUndefined()
  })
})
