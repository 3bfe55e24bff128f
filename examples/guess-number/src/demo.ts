/**
 * The whole story in one command: starts the client (which also plays the
 * report service) and the server as two processes, waits for the flight
 * recorder's snapshot, stops them, prints the analysis, and says how to open
 * the file in Perfetto UI.
 *
 *   node src/demo.ts              the blog's bug (locks held across the POST)
 *   node src/demo.ts --blocking   a report built synchronously: a blocked loop
 *   node src/demo.ts --fixed      the fix: no request over 100 ms, no snapshot
 *
 * Options: --dir <dir> (default: a new temporary directory), --level default
 * (the recorder's cheap level; the demo records at 'causal' for the flow arrows),
 * --json (print the analysis as JSON), --timeout <s> (default 40).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { analyzeFile, renderText } from '@flightrec/cli'

const here = new URL('.', import.meta.url).pathname

const { values } = parseArgs({
  // `pnpm demo -- --fixed` passes the `--` along: ignore it.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    blocking: { type: 'boolean', default: false },
    fixed: { type: 'boolean', default: false },
    level: { type: 'string', default: 'causal' },
    dir: { type: 'string' },
    json: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '40' },
    'report-interval': { type: 'string', default: '1000' },
  },
})
if (values.blocking && values.fixed) fail('--blocking and --fixed exclude each other')
const variant = values.fixed ? 'fixed' : values.blocking ? 'blocking' : 'deferred-unlock'
const reportInterval = Number(values['report-interval'])
const dir = resolve(values.dir ?? (await mkdtemp(join(tmpdir(), 'flightrec-demo-'))))
const deadline = performance.now() + Number(values.timeout) * 1000
const say = (text: string) => {
  if (!values.json) process.stdout.write(`${text}\n`)
}

say(`guess-number demo: variant ${variant}, recorder level ${values.level}`)
say(`snapshots go to ${dir}`)

// The server's port is picked first, so the client can start guessing (and
// retrying) while the server boots; the server learns the report URL from the client.
const serverPort = await freePort()
const client = start('client.ts', [
  '--server',
  `http://localhost:${serverPort}`,
  '--report-port',
  '0',
])
const reportUrl = await ready(client)
const server = start('server.ts', [
  '--variant',
  variant,
  '--port',
  String(serverPort),
  '--report-url',
  reportUrl,
  '--report-interval',
  String(reportInterval),
  '--dir',
  dir,
  '--level',
  values.level,
])
echoServerLog(server)
await ready(server)
say(`server on http://localhost:${serverPort}, reports to ${reportUrl} every ${reportInterval} ms`)

let snapshot: string | undefined
if (variant === 'fixed') {
  // Long enough for several reports: had any request taken over 100 ms, a snapshot would be here.
  await sleep(reportInterval * 4 + 500)
  snapshot = await findSnapshot(dir)
} else {
  while (!snapshot && performance.now() < deadline) {
    await sleep(100)
    snapshot = await findSnapshot(dir)
  }
}
const summary = await stop(client)
await stop(server)

if (!snapshot) {
  if (variant !== 'fixed') fail(`no snapshot was written within ${values.timeout} s`)
  const slowest = summary
    ? `; the slowest the client saw took ${summary.slowestMs.toFixed(1)} ms`
    : ''
  say(`no request took over 100 ms, so no snapshot was written${slowest}.`)
  if (values.json) process.stdout.write(`${JSON.stringify({ snapshot: null, summary })}\n`)
  process.exit(0)
}

const analysis = await analyzeFile(snapshot)
if (values.json) {
  process.stdout.write(`${JSON.stringify({ snapshot, analysis }, null, 2)}\n`)
} else {
  say('')
  process.stdout.write(
    renderText(analysis, { colour: process.stdout.isTTY === true, path: snapshot }),
  )
  say('')
  say(`snapshot: ${snapshot}`)
  say('Open it: https://ui.perfetto.dev, "Open trace file", pick the file above. The')
  say('requests are async tracks under the process; the event loop, GC and stall')
  say('tracks are its threads; press / to search for slow requests (see README.md).')
}

/** Runs one of the example's programs as a child process with an IPC channel. */
function start(script: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [join(here, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  // Never leave a child behind, whatever ends the demo.
  process.once('exit', () => child.kill('SIGKILL'))
  return child
}

/** Resolves with the `ready` value a child sends once it listens. */
async function ready(child: ChildProcess): Promise<string> {
  const timeout = AbortSignal.timeout(Math.max(1, Math.round(deadline - performance.now())))
  while (true) {
    const [message] = (await once(child, 'message', { signal: timeout })) as [{ ready?: string }]
    if (message.ready) return message.ready
  }
}

async function stop(child: ChildProcess): Promise<{ slowestMs: number } | undefined> {
  if (child.exitCode !== null) return undefined
  let summary: { slowestMs: number } | undefined
  child.on('message', (m: { summary?: { slowestMs: number } }) => {
    summary ??= m.summary
  })
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
  return summary
}

/**
 * Shows the server's log as the blog does: the first few request lines, then
 * only the slow ones (> 100 ms) and the capture line. The client's log is not shown.
 */
function echoServerLog(child: ChildProcess): void {
  let shown = 0
  let slowShown = 0
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let entry: { msg?: string; endpoint?: string; guess?: number; duration?: string }
    try {
      entry = JSON.parse(line)
    } catch {
      return
    }
    if (entry.msg === 'HTTP request') {
      const slow = /ms$/.test(entry.duration ?? '') && Number.parseFloat(entry.duration ?? '') > 100
      if (shown < 3 || (slow && slowShown < 8)) {
        shown++
        if (slow) slowShown++
        say(
          `  HTTP request: endpoint=${entry.endpoint} guess=${entry.guess} duration=${entry.duration}`,
        )
      }
    } else if (entry.msg?.startsWith('captured a flight recorder snapshot')) {
      say(`  ${entry.msg}`)
    }
  })
}

async function findSnapshot(directory: string): Promise<string | undefined> {
  const names = await readdir(directory)
  const name = names.filter((n) => /^flightrec-.*\.json$/.test(n)).sort()[0]
  return name ? join(directory, name) : undefined
}

async function freePort(): Promise<number> {
  const probe = createServer()
  probe.listen(0)
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  probe.close()
  await once(probe, 'close')
  return port
}

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`)
  process.exit(1)
}
