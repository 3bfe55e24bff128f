import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import type { Analysis } from '@flightrec/cli'
import type { SnapshotFile } from '@flightrec/core/trace-format'
import { Agent, request } from 'undici'
import type { Framework } from '../apps/frameworks.ts'
import { startUpstream } from './upstream.ts'

const root = new URL('../../../', import.meta.url).pathname
const appScript = join(root, 'test/e2e/apps/app.ts')
const cli = join(root, 'packages/cli/bin/flightrec.js')

/** How long the app runs under load before its trigger is armed. */
const WARM_UP_MS = 500

export interface ScenarioRun {
  scenario: string
  framework: Framework
  /** Path of each request the load sends; `i` counts requests. */
  path(i: number): string
  /** Requests in flight at once. */
  concurrency: number
  /** Delay of each upstream path prefix, ms. */
  upstream?: Record<string, number>
  level?: 'default' | 'causal'
  /** Extra node flags for the app (e.g. a heap limit). */
  nodeFlags?: string[]
}

export interface ScenarioResult {
  file: string
  trace: SnapshotFile
  analysis: Analysis
}

/**
 * Runs one scenario end to end: an upstream service here, the app in its own
 * process (its flightrec adapter captures one snapshot), load until the
 * snapshot is on disk, then `flightrec analyze --json` on the file, as a user would.
 */
export async function runScenario(run: ScenarioRun): Promise<ScenarioResult> {
  const dir = await mkdtemp(join(tmpdir(), `flightrec-e2e-${run.scenario}-`))
  const upstream = await startUpstream(run.upstream ?? {})
  const app = spawn(
    process.execPath,
    [
      ...(run.nodeFlags ?? []),
      appScript,
      run.scenario,
      run.framework,
      dir,
      upstream.url,
      run.level ?? 'default',
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  try {
    const url = await message(app, 'ready')
    const snapshot = message(app, 'snapshot')
    const agent = new Agent({ connections: run.concurrency })
    let running = true
    let sent = 0
    const worker = async () => {
      while (running) {
        try {
          const res = await request(url + run.path(sent++), { dispatcher: agent })
          await res.body.dump()
        } catch {
          if (running) await sleep(20)
        }
      }
    }
    const workers = Array.from({ length: run.concurrency }, worker)
    // Let the app warm up under the load, then arm its trigger.
    await sleep(WARM_UP_MS)
    app.send({ arm: true })
    const file = await snapshot
    running = false
    await Promise.all(workers)
    await agent.close()
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [cli, 'analyze', '--json', file],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    )
    return {
      file,
      trace: JSON.parse(await readFile(file, 'utf8')) as SnapshotFile,
      analysis: JSON.parse(stdout) as Analysis,
    }
  } finally {
    await stop(app)
    await upstream.close()
  }
}

/** The value of the first IPC message from `child` with `key`; rejects if it exits first or after 40 s. */
function message(child: ChildProcess, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no '${key}' from the app within 40 s`)),
      40_000,
    )
    const onMessage = (m: Record<string, string>) => {
      if (m[key] === undefined) return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve(m[key])
    }
    child.on('message', onMessage)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the app exited (${code}) before sending '${key}'`))
    })
  })
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  if (child.connected) child.disconnect()
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
