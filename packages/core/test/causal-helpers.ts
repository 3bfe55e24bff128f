/**
 * Helpers of the causal-level tests: real servers on port 0, a snapshot read
 * back (and validated) from a real stream, and the flows a snapshot draws
 * into a request, followed end to end.
 */
import type { Server } from 'node:http'
import { Writable } from 'node:stream'
import { expect } from 'vitest'
import { type FlightRecorder, validateTrace } from '../src/index.ts'
import { Cat, type SnapshotFile, Tid, type TraceEvent } from '../src/snapshot/trace-format.ts'

/** Listens on a free port of 127.0.0.1, remembers the server in `servers`, and returns its URL. */
export async function listen(server: Server, servers: Server[]): Promise<string> {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  return `http://127.0.0.1:${address.port}`
}

/** Closes every server in `servers` (ending keep-alive connections) and empties it. */
export async function closeAll(servers: Server[]): Promise<void> {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

/** Writes the recorder's window to a stream, parses it, and fails the test if it is not valid. */
export async function snapshot(fr: FlightRecorder): Promise<SnapshotFile> {
  const chunks: Buffer[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk)
      callback()
    },
  })
  await fr.writeTo(sink)
  const file = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SnapshotFile
  expect(validateTrace(file, { requireFlightrec: true })).toEqual([])
  return file
}

/** A promise and its resolver. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** The id the snapshot gave the (first) request for `path`. */
export function requestIdFor(events: TraceEvent[], path: string): number {
  const begin = events.find((e) => e.ph === 'b' && e.cat === Cat.Request && e.args?.path === path)
  expect(begin, `a request for ${path}`).toBeDefined()
  return begin?.args?.requestId as number
}

/** One flow into a request, from the callback that released it. */
export interface Flow {
  /** The request's wait slice (`b`) and its end. */
  wait: TraceEvent
  waitEnd: TraceEvent
  /** The instant where the flow ends (`flow_in`), on the request's track. */
  resume: TraceEvent
  /** The 1 µs slice where the flow starts (`flow_out`), on Tid.AsyncTasks. */
  resolve: TraceEvent
  /** The callback slice that holds `resolve`. */
  releaser: TraceEvent
}

/**
 * Every flow that ends in request `requestId`, checked end to end: a resume
 * instant with `flow_in` right after a wait slice released by the same
 * callback, the one resolve slice with `flow_out` and the same `bind_id`
 * before it, nested in a callback slice on Tid.AsyncTasks.
 */
export function flowsInto(events: TraceEvent[], requestId: number): Flow[] {
  const track = requestTrack(events, requestId)
  const flows: Flow[] = []
  for (const resume of track.filter((e) => e.ph === 'n' && e.flow_in)) {
    expect(resume.args?.type).toBe('resume')
    const releasedBy = resume.args?.releasedBy as { asyncId: number }
    const outs = events.filter((e) => e.flow_out && e.bind_id === resume.bind_id)
    expect(outs, `one flow out for ${resume.bind_id}`).toHaveLength(1)
    const [resolve] = outs
    expect(resolve).toMatchObject({ ph: 'X', cat: Cat.Resolve, tid: Tid.AsyncTasks })
    expect(resolve.ts ?? 0).toBeLessThan(resume.ts ?? 0)
    const releaser = events.find(
      (e) =>
        e.ph === 'X' &&
        e.cat === Cat.AsyncTask &&
        (e.ts ?? 0) <= (resolve.ts ?? 0) &&
        (resolve.ts ?? 0) + (resolve.dur ?? 0) <= (e.ts ?? 0) + (e.dur ?? 0),
    ) as TraceEvent
    expect(releaser?.args?.asyncId).toBe(releasedBy.asyncId)
    const waitEnd = track
      .filter((e) => e.ph === 'e' && (e.ts ?? 0) <= (resume.ts ?? 0) && e.name?.startsWith('wait '))
      .at(-1) as TraceEvent
    const wait = track.find(
      (e) =>
        e.ph === 'b' &&
        e.args?.type === 'wait' &&
        e.name === waitEnd?.name &&
        (e.args?.releasedBy as { asyncId?: number } | undefined)?.asyncId === releasedBy.asyncId,
    ) as TraceEvent
    expect(wait, `the wait before ${resume.bind_id}`).toBeDefined()
    expect(wait.args?.releasedBy).toEqual(releasedBy)
    flows.push({ wait, waitEnd, resume, resolve, releaser })
  }
  return flows
}

/** The events on a request's track: id `r<id>`, and `r<id>.<lane>` for children that overlap. */
export function requestTrack(events: TraceEvent[], requestId: number): TraceEvent[] {
  const id = `r${requestId}`
  return events.filter(
    (e) => e.cat === Cat.Request && (e.id === id || e.id?.startsWith(`${id}.`) === true),
  )
}

/** The wait slices (`b`) on a request's track. */
export function waitsOf(events: TraceEvent[], requestId: number): TraceEvent[] {
  return requestTrack(events, requestId).filter((e) => e.ph === 'b' && e.args?.type === 'wait')
}
