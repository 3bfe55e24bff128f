/**
 * Helpers shared by the capture tests of core and of the three adapters:
 * temporary snapshot directories, reading a snapshot back (validated), and a
 * real pino logger whose lines the test can read.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import { expect, vi } from 'vitest'
import { validateTrace } from '../src/index.ts'
import type { RequestArgs, SnapshotFile, TraceEvent } from '../src/snapshot/trace-format.ts'

export { sleep }

/** A fresh directory for snapshots; remove it with {@link removeDir}. */
export function makeTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'flightrec-capture-'))
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true })
}

/** Snapshot files in `dir` (finished ones: temporary files start with a dot). */
export async function snapshotFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir)
  return names
    .filter((n) => /^flightrec-\d{8}T\d{6}\.\d{3}Z-\d+\.json$/.test(n))
    .map((n) => join(dir, n))
}

/** Every entry of `dir`, temporary files included. */
export function dirEntries(dir: string): Promise<string[]> {
  return readdir(dir)
}

/** Parses a snapshot and checks it against the trace format (fails the test if invalid). */
export async function readSnapshot(path: string): Promise<SnapshotFile> {
  const file = JSON.parse(await readFile(path, 'utf8')) as SnapshotFile
  expect(validateTrace(file, { requireFlightrec: true })).toEqual([])
  return file
}

/** The `b` event args of every request in a snapshot. */
export function requestsIn(file: SnapshotFile): RequestArgs[] {
  return file.traceEvents
    .filter((e) => e.ph === 'b' && e.cat === 'flightrec.request' && e.args?.requestId !== undefined)
    .map((e) => e.args as unknown as RequestArgs)
}

/** The `b` events of every request in a snapshot (with their timestamps). */
export function requestEvents(file: SnapshotFile): TraceEvent[] {
  return file.traceEvents.filter(
    (e) => e.ph === 'b' && e.cat === 'flightrec.request' && e.args?.requestId !== undefined,
  )
}

/** Trigger instants in a snapshot. */
export function triggersIn(file: SnapshotFile): TraceEvent[] {
  return file.traceEvents.filter((e) => e.cat === 'flightrec.trigger')
}

/** A real pino logger at level info whose parsed lines are in `lines`. */
export function captureLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) lines.push(JSON.parse(line))
      }
      callback()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

/** Waits until `check` stops throwing; the timeout only guards against a hang. */
export function eventually<T>(check: () => T | Promise<T>): Promise<T> {
  return vi.waitFor(check, { timeout: 30_000, interval: 10 })
}

/** The base URL of a listening server. */
export function urlOf(server: Server): string {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('server is not listening')
  return `http://127.0.0.1:${address.port}`
}

/** Closes a server, ending idle keep-alive connections. */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

/**
 * A request the client aborts: starts `path`, waits until `started` resolves
 * (the handler runs) and `afterMs` more, then aborts the fetch.
 */
export async function abortedRequest(
  url: string,
  started: Promise<void>,
  afterMs: number,
): Promise<void> {
  const controller = new AbortController()
  const response = fetch(url, { signal: controller.signal }).catch((err: unknown) => err)
  await started
  await sleep(afterMs)
  controller.abort()
  const outcome = await response
  expect((outcome as Error).name).toBe('AbortError')
}

/** A promise with its resolver, to hold handlers until the test releases them. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** Holds every caller of `wait()` until `open()`; `waiting()` counts them. */
export function barrier(): { wait: () => Promise<void>; waiting: () => number; open: () => void } {
  const { promise, open } = gate()
  let waiting = 0
  return {
    wait: () => {
      waiting++
      return promise
    },
    waiting: () => waiting,
    open,
  }
}
