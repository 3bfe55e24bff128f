import type { Server } from 'node:http'
import type { CaptureOptions, CaptureStats, FlightRecorder } from '@flightrec/core'
import type { WorkOptions } from '../work.ts'

/** What every app module is given. */
export interface AppOptions {
  work: WorkOptions
  /** Set for the flightrec configurations: the app registers its framework's adapter with it. */
  flightrec: { recorder: FlightRecorder; snapshotDir: string } | undefined
}

/** A listening app. */
export interface RunningApp {
  /** The port it listens on; the harness connects to it on 127.0.0.1. */
  port: number
  /** The flightrec adapter's counters, when one is registered. */
  captureStats: (() => CaptureStats) | undefined
  close(): Promise<void>
}

/** Every app module exports this. */
export type StartApp = (options: AppOptions) => Promise<RunningApp>

/**
 * The adapter options every framework gets: `threshold: 100` and the bench's
 * recorder. A saturated server has requests over 100 ms, and a snapshot
 * written in a 5 s measurement would weigh a hundred times more than the one
 * a production process writes in its life; snapshots are measured on their
 * own. So `ignore` drops the slow requests: the adapter still times, names
 * and tests every request, and never stops (its one snapshot is never spent).
 */
export function adapterOptions<Subject>(
  flightrec: NonNullable<AppOptions['flightrec']>,
): CaptureOptions<Subject> {
  return {
    threshold: 100,
    recorder: flightrec.recorder,
    dir: flightrec.snapshotDir,
    ignore: () => true,
  }
}

/** The port `server` listens on; throws if it does not listen on one. */
export function portOf(server: Server): number {
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('server has no port')
  return address.port
}
