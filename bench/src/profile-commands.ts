import { copyFile, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Target } from './configurations.ts'
import { type BenchContext, openContext } from './context.ts'
import type { ConfigurationName, ServerName } from './protocol.ts'
import type { BenchSettings } from './settings.ts'
import { measureIdle } from './suites/idle.ts'
import {
  type HotFunction,
  profileAnalyzer,
  profileSnapshot,
  profileTarget,
} from './suites/profile.ts'
import { toggleTarget } from './suites/toggle.ts'

/**
 * Runs `--idle`: each configuration's server process left without load
 * ({@link measureIdle}), and prints its CPU per second, whole and by thread.
 */
export async function runIdle(
  server: ServerName,
  configurations: readonly ConfigurationName[],
  seconds: number,
  settings: BenchSettings,
) {
  const context = await openContext(settings)
  try {
    const results = await measureIdle(context, server, configurations, settings.rounds, seconds)
    context.log(
      `${server}, no requests, ${seconds} s per process, median of ${settings.rounds} round(s):`,
    )
    for (const r of results) {
      const threads = Object.entries(r.threads)
        .filter(([, millis]) => millis > 0)
        .sort(([, a], [, b]) => b - a)
        .map(([name, millis]) => `${name} ${millis.toFixed(1)}`)
      context.log(
        `  ${r.configuration.padEnd(22)} ${r.cpuMillisPerSecond.toFixed(2).padStart(6)} ms CPU per second` +
          (threads.length > 0 ? ` (${threads.join(', ')})` : ''),
      )
    }
  } finally {
    await context.close()
  }
}

/**
 * Runs `--toggle`: the recorder stopped and started in one server process
 * between phases of load ({@link toggleTarget}), and prints the result.
 */
export async function runToggle(target: Target, pairs: number, settings: BenchSettings) {
  const context = await openContext(settings)
  try {
    const r = await toggleTarget(context, target, pairs)
    const share = (r.pairedDifferenceMedian / r.offMedian) * 100
    context.log(
      `${target.server} ${target.route}, ${pairs} pairs in one process: recorder off ${r.offMedian.toFixed(1)} µs/req, ` +
        `on ${r.onMedian.toFixed(1)} µs/req (medians); median paired difference ` +
        `${r.pairedDifferenceMedian >= 0 ? '+' : ''}${r.pairedDifferenceMedian.toFixed(1)} µs/req (${share >= 0 ? '+' : ''}${share.toFixed(1)}%)`,
    )
    const threads = Object.entries(r.threadDifferenceMedians)
      .filter(([, micros]) => micros !== 0)
      .map(([name, micros]) => `${name} ${micros >= 0 ? '+' : ''}${micros.toFixed(1)}`)
    if (threads.length > 0)
      context.log(`  by thread, median paired difference µs/req: ${threads.join(', ')}`)
  } finally {
    await context.close()
  }
}

/** What `--profile` was asked for. */
export type ProfileRequest =
  | { kind: 'target'; target: Target; configuration: ConfigurationName }
  | { kind: 'snapshot'; windowMiB: number }
  | { kind: 'analyzer'; fileMiB: number }

/**
 * Runs one `--profile` request under `node --cpu-prof`, prints the hottest
 * functions, and keeps the profile in `outDir` (default: a new temp folder).
 */
export async function runProfile(
  request: ProfileRequest,
  settings: BenchSettings,
  outDir: string | undefined,
): Promise<void> {
  const context = await openContext(settings)
  const keep = async (file: string, name: string) => {
    const kept = join(outDir ?? (await mkdtemp(join(tmpdir(), 'flightrec-bench-'))), name)
    await copyFile(file, kept)
    context.log(`Profile: ${kept} (open in Chrome DevTools > Performance, or speedscope)`)
  }
  try {
    if (request.kind === 'target') {
      const { target, configuration } = request
      const result = await profileTarget(context, target, configuration)
      context.log(
        `${target.server} ${target.route} ${configuration}: ${Math.round(result.requestsPerSecond)} req/s; ` +
          `flightrec code: ${result.flightrecSelfPercent.toFixed(1)}% self, ${result.flightrecTotalPercent.toFixed(1)}% on stack`,
      )
      printTop(context, result.top)
      await keep(result.profileFile, `${target.server}-${target.route}-${configuration}.cpuprofile`)
    } else if (request.kind === 'snapshot') {
      const result = await profileSnapshot(context, request.windowMiB)
      context.log(
        `Longest stall ${result.cost.stallMs.toFixed(2)} ms (${result.samples} samples in it); ` +
          `flightrec code: ${result.flightrecSelfPercent.toFixed(1)}% self, ${result.flightrecTotalPercent.toFixed(1)}% on stack`,
      )
      printTop(context, result.top)
      await keep(result.profileFile, `snapshot-${request.windowMiB}MiB.cpuprofile`)
    } else {
      const result = await profileAnalyzer(context, request.fileMiB)
      context.log(`flightrec code: ${result.flightrecSelfPercent.toFixed(1)}% self`)
      printTop(context, result.top)
      await keep(result.profileFile, `analyzer-${request.fileMiB}MiB.cpuprofile`)
    }
  } finally {
    await context.close()
  }
}

function printTop(context: BenchContext, top: HotFunction[]): void {
  for (const f of top) {
    context.log(`  ${f.selfPercent.toFixed(1).padStart(5)}%  ${f.name}  ${f.location}`)
  }
}
