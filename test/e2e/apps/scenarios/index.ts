import type { Route } from '../frameworks.ts'
import { batchTimer } from './batch-timer.ts'
import { cpuSaturation } from './cpu-saturation.ts'
import { gcPressure } from './gc-pressure.ts'
import { lockConvoy } from './lock-convoy.ts'
import { slowUpstream } from './slow-upstream.ts'
import { syncCpu } from './sync-cpu.ts'

/** What a scenario app gets from the test: the upstream service's base URL. */
export interface ScenarioEnv {
  upstream: string
}

/**
 * A scenario: its routes, and background work started once the server
 * listens. Its cause is sized to several hundred ms, well above the 250 ms
 * trigger threshold the apps use, and that well above the noise of a shared
 * machine (a process descheduled for 100-200 ms, a slow first compile).
 */
export interface ScenarioApp {
  routes: Route[]
  /** A request slower than this (ms) triggers the snapshot. Default 250. */
  threshold?: number
  start?(): void
  stop?(): void
}

export const scenarios: Record<string, (env: ScenarioEnv) => ScenarioApp> = {
  'slow-upstream': slowUpstream,
  'sync-cpu': syncCpu,
  'lock-convoy': lockConvoy,
  'batch-timer': batchTimer,
  'gc-pressure': gcPressure,
  'cpu-saturation': cpuSaturation,
}
