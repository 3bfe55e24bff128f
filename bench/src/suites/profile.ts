import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Target } from '../configurations.ts'
import { type BenchContext, startServer } from '../context.ts'
import type { ConfigurationName } from '../protocol.ts'
import { type AnalyzerResult, measureAnalyzer } from './analyzer.ts'
import { measureSnapshots, type SnapshotResult, snapshotForAnalyzer } from './snapshot-cost.ts'

/** Self time of one function in a CPU profile. */
export interface HotFunction {
  name: string
  location: string
  selfPercent: number
}

/** Where a configuration's server spends its CPU under load. */
export interface ProfileResult extends ProfileSummary {
  profileFile: string
  requestsPerSecond: number
}

interface CpuProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: CpuProfileNode[]
  samples: number[]
  startTime: number
  timeDeltas: number[]
}

/** A span of time on the profile's clock, µs. */
export interface TimeRange {
  startMicros: number
  endMicros: number
}

const isFlightrec = (url: string) =>
  /\/packages\/(core|express|fastify|koa|cli)\/(src|bin)\//.test(url)

/** A profile's (or part of a profile's) hottest functions. */
export interface ProfileSummary {
  /** Samples counted. */
  samples: number
  /** Share of samples whose own function is in flightrec's packages. */
  flightrecSelfPercent: number
  /** Share of samples with a flightrec function anywhere on the stack. */
  flightrecTotalPercent: number
  top: HotFunction[]
}

/**
 * Summarizes a `.cpuprofile` (only the samples within `range`, if given): top
 * self time, and how much of it flightrec's code has.
 */
export function summarizeProfile(
  profile: CpuProfile,
  topCount: number,
  range?: TimeRange,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id)
  const self = new Map<string, number>()
  let flightrecSelf = 0
  let flightrecTotal = 0
  const underFlightrec = new Map<number, boolean>()
  const onStack = (id: number): boolean => {
    const known = underFlightrec.get(id)
    if (known !== undefined) return known
    const node = byId.get(id)
    const up = parent.get(id)
    const value =
      Boolean(node && isFlightrec(node.callFrame.url)) || (up !== undefined && onStack(up))
    underFlightrec.set(id, value)
    return value
  }
  let at = profile.startTime
  let counted = 0
  for (const [i, id] of profile.samples.entries()) {
    at += profile.timeDeltas[i] ?? 0
    if (range && (at < range.startMicros || at > range.endMicros)) continue
    counted++
    const node = byId.get(id)
    if (!node) continue
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'}\t${url.replace(/^.*\/(node_modules|packages|bench)\//, '$1/')}:${lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + 1)
    if (isFlightrec(url)) flightrecSelf++
    if (onStack(id)) flightrecTotal++
  }
  const total = Math.max(counted, 1)
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topCount)
    .map(([key, count]) => {
      const [name, location] = key.split('\t')
      return { name, location, selfPercent: (count / total) * 100 }
    })
  return {
    samples: counted,
    flightrecSelfPercent: (flightrecSelf / total) * 100,
    flightrecTotalPercent: (flightrecTotal / total) * 100,
    top,
  }
}

/**
 * Runs one configuration of one server route under the usual load with
 * `node --cpu-prof`, and summarizes the profile: the evidence to look at
 * when a goal is missed.
 */
export async function profileTarget(
  context: BenchContext,
  target: Target,
  configuration: ConfigurationName,
): Promise<ProfileResult> {
  const { settings } = context
  const dir = join(context.workDir, `profile-${target.server}-${target.route}-${configuration}`)
  const server = await startServer(context, target.server, configuration, undefined, [
    '--cpu-prof',
    '--cpu-prof-dir',
    dir,
  ])
  let requestsPerSecond = 0
  try {
    const url = `${server.origin}${target.path}`
    const connections = settings.connections
    if (settings.warmupSeconds > 0) {
      await context.load({ url, connections, durationSeconds: settings.warmupSeconds })
    }
    const load = await context.load({ url, connections, durationSeconds: settings.durationSeconds })
    requestsPerSecond = load.requestsPerSecond
  } finally {
    await server.process.close()
  }
  const [file] = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error(`no CPU profile was written to ${dir}`)
  const profileFile = join(dir, file)
  const profile = JSON.parse(await readFile(profileFile, 'utf8')) as CpuProfile
  return { profileFile, requestsPerSecond, ...summarizeProfile(profile, 25) }
}

/** What blocked the event loop during the longest stall of a snapshot. */
export interface SnapshotProfileResult extends ProfileSummary {
  profileFile: string
  cost: SnapshotResult
}

/**
 * Fills a window of `windowMiB` as the snapshot suite does, in a server
 * process run with `node --cpu-prof`, snapshots it, and summarizes the CPU
 * samples taken during the longest event-loop stall of that snapshot.
 */
export async function profileSnapshot(
  context: BenchContext,
  windowMiB: number,
): Promise<SnapshotProfileResult> {
  const dir = join(context.workDir, `profile-snapshot-${windowMiB}MiB`)
  const only = {
    ...context,
    settings: { ...context.settings, snapshotWindowsMiB: [windowMiB], analyzerSnapshotsMiB: [] },
  }
  const [cost] = await measureSnapshots(only, ['--cpu-prof', '--cpu-prof-dir', dir])
  const [file] = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))
  if (!file || !cost) throw new Error(`no CPU profile was written to ${dir}`)
  const profileFile = join(dir, file)
  const profile = JSON.parse(await readFile(profileFile, 'utf8')) as CpuProfile
  return { profileFile, cost, ...summarizeProfile(profile, 25, cost.stall) }
}

/** Where `flightrec analyze` spends its time on a snapshot of about `fileMiB`. */
export async function profileAnalyzer(
  context: BenchContext,
  fileMiB: number,
): Promise<ProfileSummary & { profileFile: string; analyzer: AnalyzerResult }> {
  const dir = join(context.workDir, `profile-analyzer-${fileMiB}MiB`)
  const only = {
    ...context,
    settings: { ...context.settings, snapshotWindowsMiB: [], analyzerSnapshotsMiB: [fileMiB] },
  }
  const snapshot = snapshotForAnalyzer(await measureSnapshots(only), fileMiB)
  if (!snapshot) throw new Error(`no snapshot of ${fileMiB} MiB was written`)
  const analyzer = await measureAnalyzer(context, snapshot, ['--cpu-prof', '--cpu-prof-dir', dir])
  const [file] = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error(`no CPU profile was written to ${dir}`)
  const profileFile = join(dir, file)
  const profile = JSON.parse(await readFile(profileFile, 'utf8')) as CpuProfile
  return { profileFile, analyzer, ...summarizeProfile(profile, 25) }
}
