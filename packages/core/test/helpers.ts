import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { expect } from 'vitest'
import type { FlightRecorder } from '../src/index.ts'
import type { SnapshotFile, SnapshotTrigger, TraceEvent } from '../src/snapshot/trace-format.ts'
import { validateTrace } from '../src/snapshot/validate-trace.ts'

/** A Writable that keeps everything written to it. */
export class MemorySink extends Writable {
  readonly chunks: Buffer[] = []

  override _write(chunk: Buffer, _encoding: string, callback: (error?: Error | null) => void) {
    this.chunks.push(chunk)
    callback()
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8')
  }
}

/**
 * Writes the recorder's window, parses it back and checks it with the
 * project's trace validator: every snapshot a test takes goes through here.
 */
export async function snapshot(
  recorder: FlightRecorder,
  trigger?: SnapshotTrigger,
): Promise<{ file: SnapshotFile; bytes: number }> {
  const sink = new MemorySink()
  const bytes = await recorder.writeTo(sink, trigger)
  return { file: parseValid(sink.text, bytes), bytes }
}

/** Parses a snapshot's text and expects it to be a valid flightrec trace of `bytes` bytes. */
export function parseValid(text: string, bytes?: number): SnapshotFile {
  if (bytes !== undefined) expect(Buffer.byteLength(text)).toBe(bytes)
  const file = JSON.parse(text) as SnapshotFile
  expect(validateTrace(file, { requireFlightrec: true })).toEqual([])
  return file
}

/** Events of one category (and phase, if given). */
export function eventsOf(file: SnapshotFile, cat: string, ph?: string): TraceEvent[] {
  return file.traceEvents.filter((e) => e.cat === cat && (ph === undefined || e.ph === ph))
}

/** The `b` event of every request in the snapshot, by path. */
export function requestsByPath(file: SnapshotFile): Map<string, TraceEvent[]> {
  const out = new Map<string, TraceEvent[]>()
  for (const e of file.traceEvents) {
    if (e.cat !== 'flightrec.request' || e.ph !== 'b' || e.args?.requestId === undefined) continue
    if (e.args.type !== undefined) continue
    const path = String(e.args.path)
    out.set(path, [...(out.get(path) ?? []), e])
  }
  return out
}

/** Starts `server` on an ephemeral port of 127.0.0.1 and returns its base URL. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Closes `server`, dropping idle keep-alive connections. */
export async function close(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

/** Keeps the event loop busy (synchronously) for `ms` milliseconds. */
export function busyFor(ms: number): number {
  const end = performance.now() + ms
  let spins = 0
  while (performance.now() < end) spins++
  return spins
}

/** Whether this Node.js has AsyncContextFrame-backed AsyncLocalStorage by default (>= 24). */
export const nodeMajor = Number(process.versions.node.split('.')[0])
