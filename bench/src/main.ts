/**
 * `pnpm bench`: flightrec against the bare frameworks, the OpenTelemetry Node
 * SDK and a wall-time profiler. Rewrites docs/benchmarks.md, its chart and
 * bench/results/latest.json. `pnpm bench --smoke` runs everything once with a
 * few requests and writes to a temp folder; `--help` lists the options.
 */
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { configurations } from './configurations.ts'
import { type ProfileRequest, runIdle, runProfile, runToggle } from './profile-commands.ts'
import type { ConfigurationName, ServerName } from './protocol.ts'
import { writeResults } from './report/write.ts'
import type { BenchResults } from './results.ts'
import { runBench, suites } from './run.ts'
import { type BenchSettings, fullSettings, smokeSettings } from './settings.ts'
import { targets } from './targets.ts'

const usage = `Usage: pnpm bench [options]

  --smoke                 everything once with a few requests; results to a temp folder
  --rounds N              interleaved rounds per server route (default ${fullSettings.rounds})
  --duration S            seconds of each measurement (default ${fullSettings.durationSeconds})
  --warmup S              seconds of warm-up before each (default ${fullSettings.warmupSeconds})
  --connections N         autocannon connections (default ${fullSettings.connections})
  --servers a,b           only these servers (${[...new Set(targets.map((t) => t.server))].join(', ')})
  --configurations a,b    only these configurations (bare is always run): ${configurations.map((c) => c.name).join(', ')}
  --suites a,b            only these suites (${suites.join(', ')})
  --out DIR               write results.json, benchmarks.md and the chart to DIR
  --render                measure nothing: render docs/benchmarks.md and the chart again from
                          bench/results/latest.json (after editing the page's notes or the renderer)
  --toggle S/R[/N]        instead: one process of server S with flightrec default on route R; the recorder
                          is stopped and started between phases of load, off-on then on-off, N pairs
                          (default 8); prints CPU per request off and on, and the median paired difference
  --idle S[/T]            instead: start server S under each configuration (or those of --configurations)
                          and send it nothing; prints its CPU per second over T seconds (default ${fullSettings.idleSeconds}),
                          whole and by thread: the standing cost of a quiet service, median of --rounds
  --profile S/R/C         instead: run server S, route R (hello, realistic; guess for guess-number) under configuration C
                          with node --cpu-prof and print where its CPU went, e.g.
                          --profile express/realistic/flightrec-default
  --profile snapshot/M    instead: fill an M MiB window, snapshot it under node --cpu-prof, and
                          print what ran during the longest event-loop stall
  --profile analyzer/M    instead: run flightrec analyze on an M MiB snapshot under node --cpu-prof

A full, unfiltered run without --out rewrites docs/benchmarks.md, docs/benchmarks-throughput.svg
and bench/results/latest.json; any other run writes to --out or a new temp folder.`

const options = {
  smoke: { type: 'boolean', default: false },
  rounds: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  servers: { type: 'string' },
  configurations: { type: 'string' },
  suites: { type: 'string' },
  out: { type: 'string' },
  render: { type: 'boolean', default: false },
  profile: { type: 'string' },
  toggle: { type: 'string' },
  idle: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${usage}\n`)
  process.exit(2)
}

function parseOptions() {
  try {
    return parseArgs({ options }).values
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err))
  }
}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number, got '${value}'`)
  return n
}

function list<T extends string>(value: string | undefined, known: readonly string[], what: string) {
  const items = value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const item of items ?? []) if (!known.includes(item)) fail(`unknown ${what} '${item}'`)
  return items as T[] | undefined
}

function profileRequest(spec: string): ProfileRequest {
  const [first, second, third] = spec.split('/')
  if (first === 'snapshot') return { kind: 'snapshot', windowMiB: positive(second, 'profile', 10) }
  if (first === 'analyzer') return { kind: 'analyzer', fileMiB: positive(second, 'profile', 10) }
  const target = targets.find((t) => t.server === first && t.route === second)
  if (!target) fail(`unknown server/route '${first}/${second}'`)
  if (!configurations.some((c) => c.name === third)) fail(`unknown configuration '${third}'`)
  return { kind: 'target', target, configuration: third as ConfigurationName }
}

const values = parseOptions()
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
const base = values.smoke ? smokeSettings : fullSettings
const settings: BenchSettings = {
  ...base,
  rounds: Math.round(positive(values.rounds, 'rounds', base.rounds)),
  durationSeconds: positive(values.duration, 'duration', base.durationSeconds),
  warmupSeconds: values.warmup === '0' ? 0 : positive(values.warmup, 'warmup', base.warmupSeconds),
  connections: Math.round(positive(values.connections, 'connections', base.connections)),
}
const servers = list<ServerName>(
  values.servers,
  [...new Set(targets.map((t) => t.server))],
  'server',
)
const chosen = list<ConfigurationName>(
  values.configurations,
  configurations.map((c) => c.name),
  'configuration',
)
/** bare and the chosen configurations, or every one that is not optional. */
const runConfigurations = chosen
  ? configurations.map((c) => c.name).filter((n) => n === 'bare' || chosen.includes(n))
  : configurations.filter((c) => !c.optional).map((c) => c.name)
const chosenSuites = list<(typeof suites)[number]>(values.suites, suites, 'suite')
const filtered = Boolean(servers || chosen || chosenSuites)
const repo = fileURLToPath(new URL('../../', import.meta.url))
const outDir =
  values.out ??
  (settings.writeDocs && !filtered ? undefined : await mkdtemp(join(tmpdir(), 'flightrec-bench-')))

if (values.toggle) {
  const [server, route, pairs] = values.toggle.split('/')
  const target = targets.find((t) => t.server === server && t.route === route)
  if (!target) fail(`unknown server/route '${server}/${route}'`)
  await runToggle(target, Math.round(positive(pairs, 'toggle', 8)), settings)
  process.exit(0)
}
if (values.idle) {
  const [server, seconds] = values.idle.split('/')
  if (!targets.some((t) => t.server === server)) fail(`unknown server '${server}'`)
  const idleSeconds = positive(seconds, 'idle', settings.idleSeconds)
  await runIdle(server as ServerName, runConfigurations, idleSeconds, settings)
  process.exit(0)
}
if (values.profile) {
  await runProfile(profileRequest(values.profile), settings, outDir)
  process.exit(0)
}

let results: BenchResults
let failures: string[] = []
if (values.render) {
  results = JSON.parse(await readFile(join(repo, 'bench/results/latest.json'), 'utf8'))
} else {
  ;({ results, failures } = await runBench(
    settings,
    {
      targets: targets.filter((t) => !servers || servers.includes(t.server)),
      configurations: runConfigurations,
      suites: chosenSuites ?? suites,
    },
    repo,
  ))
}
const { goals, wrote } = await writeResults(results, repo, outDir)
console.log(wrote)
for (const goal of results.mode === 'smoke' ? [] : goals) {
  console.log(`${goal.verdict.toUpperCase()}  ${goal.goal}: ${goal.measured}`)
}
console.log(`Took ${(results.durationSeconds / 60).toFixed(1)} minutes`)
if (failures.length) {
  process.stderr.write(`\nBench problems:\n${failures.map((f) => `- ${f}`).join('\n')}\n`)
  process.exitCode = 1
}
