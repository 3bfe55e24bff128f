/**
 * Soak: saturates a real server (soak-server.ts: express + @flightrec/express,
 * a snapshot on a slow request every 30 s, recording all along) with autocannon
 * for minutes, samples its RSS and the recorder's window, and prints a
 * verdict. Exits 1 if the window ever held more than maxBytes plus one
 * segment, if RSS grew more than the tolerance after warm-up, if a request
 * failed at the connection level, or if the recorder reported an error.
 *
 *   pnpm soak                      # 180 s
 *   pnpm soak -- --seconds 600     # longer
 *
 * Options: --seconds N (180), --connections N (32), --max-bytes N (4 MiB),
 * --rss-growth-mb N (48: RSS allowed to grow after warm-up, in MiB),
 * --profile-allowance-kb N (1024: room in the bound for one CPU profile window).
 * The in-suite short version is load.test.ts; it bounds bytes, never time.
 */
import { fork } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { makeTempDir, removeDir, windowBound } from './helpers.ts'
import type { FromServer, SoakFinal, SoakSample } from './soak-server.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '180' },
    connections: { type: 'string', default: '32' },
    'max-bytes': { type: 'string', default: String(4 * 1024 * 1024) },
    'rss-growth-mb': { type: 'string', default: '48' },
    'profile-allowance-kb': { type: 'string', default: '1024' },
  },
})
const seconds = positive(values.seconds, '--seconds')
const connections = positive(values.connections, '--connections')
const maxBytes = positive(values['max-bytes'], '--max-bytes')
const rssGrowthLimit = positive(values['rss-growth-mb'], '--rss-growth-mb') * 1024 * 1024
const bound = windowBound(
  maxBytes,
  positive(values['profile-allowance-kb'], '--profile-allowance-kb') * 1024,
)
/** The first quarter of the run (at least 10 s) fills the window and warms up the JIT. */
const warmupMs = Math.max(10_000, (seconds * 1000) / 4)
const SAMPLE_MS = 500

function positive(text: string, name: string): number {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`soak: ${name} must be a positive number, got '${text}'\n`)
    process.exit(2)
  }
  return n
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

const dir = await makeTempDir('flightrec-soak-')
const samples: SoakSample[] = []
let final: SoakFinal | undefined
const server = fork(new URL('./soak-server.ts', import.meta.url).pathname, [
  String(maxBytes),
  String(SAMPLE_MS),
  dir,
])
const url = await new Promise<string>((resolve, reject) => {
  server.on('error', reject)
  server.on('exit', (code) => reject(new Error(`the soak server exited with code ${code}`)))
  server.on('message', (message: FromServer) => {
    if (message.type === 'ready') resolve(message.url)
    else if (message.type === 'sample') {
      samples.push(message.sample)
      if (samples.length % Math.round(10_000 / SAMPLE_MS) === 0) {
        const s = message.sample
        console.log(
          `${(s.atMs / 1000).toFixed(0).padStart(5)} s  rss ${mib(s.rss).padStart(10)}  heap ${mib(s.heapUsed).padStart(10)}  window ${mib(s.windowBytes).padStart(9)}  snapshots ${s.snapshots}`,
        )
      }
    } else if (message.type === 'final') final = message.final
  })
})

console.log(
  `soak: ${seconds} s of autocannon -c ${connections} on ${url}/mix/<id>; maxBytes ${mib(maxBytes)}, window bound ${mib(bound)}`,
)
/** The part of autocannon's programmatic API used here (it ships no types). */
type Autocannon = (options: {
  url: string
  connections: number
  duration: number
  idReplacement: boolean
  requests: Array<{ method: string; path: string }>
}) => Promise<{
  requests: { total: number; average: number }
  errors: number
  timeouts: number
  non2xx: number
  latency: { p99: number }
}>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
// Load runs here; the server, whose memory is measured, in its own process.
// Every request has a new id in its path, so the window keeps interning new strings.
const load = await autocannon({
  url,
  connections,
  duration: seconds,
  idReplacement: true,
  requests: [{ method: 'GET', path: '/mix/[<id>]' }],
})

server.removeAllListeners('exit')
const exited = new Promise((resolve) => server.on('exit', resolve))
server.send({ type: 'finish' })
await exited

const files = (await readdir(dir)).filter((n) => n.endsWith('.json'))
let snapshotBytes = 0
for (const name of files) snapshotBytes += (await stat(join(dir, name))).size
await removeDir(dir)

const largestWindow = Math.max(...samples.map((s) => s.windowBytes))
const afterWarmup = samples.filter((s) => s.atMs >= warmupMs)
const tenth = Math.max(1, Math.floor(afterWarmup.length / 10))
const rssAtWarmup = median(afterWarmup.slice(0, tenth).map((s) => s.rss))
const rssAtEnd = median(afterWarmup.slice(-tenth).map((s) => s.rss))
const rssGrowth = rssAtEnd - rssAtWarmup

const verdicts: Array<[boolean, string]> = [
  [
    largestWindow <= bound,
    `window: at most ${mib(largestWindow)} (${(largestWindow / maxBytes).toFixed(3)} x maxBytes); bound ${mib(bound)}`,
  ],
  [
    afterWarmup.length >= 2 && rssGrowth <= rssGrowthLimit,
    `rss: ${mib(rssAtWarmup)} after warm-up, ${mib(rssAtEnd)} at the end (${rssGrowth >= 0 ? '+' : ''}${mib(rssGrowth)}; allowed +${mib(rssGrowthLimit)})`,
  ],
  [
    load.errors === 0 && load.timeouts === 0,
    `load: ${load.requests.total} requests (${load.requests.average}/s), ${load.errors} errors, ${load.timeouts} timeouts, ${load.non2xx} non-2xx (1% fail by design), p99 ${load.latency.p99} ms`,
  ],
  [
    final !== undefined && Object.keys(final.errorCounts).length === 0 && final.enabled,
    `recorder: errors ${JSON.stringify(final?.errorCounts)}, still recording: ${final?.enabled}`,
  ],
  [
    final !== undefined && final.stats.snapshots === files.length && final.stats.failed === 0,
    `snapshots: ${files.length} files, ${mib(snapshotBytes)} in all; stats ${JSON.stringify(final?.stats)}`,
  ],
]
for (const [ok, line] of verdicts) console.log(`${ok ? 'ok  ' : 'FAIL'} ${line}`)
const passed = verdicts.every(([ok]) => ok)
console.log(passed ? 'soak: passed' : 'soak: FAILED')
process.exitCode = passed ? 0 : 1
