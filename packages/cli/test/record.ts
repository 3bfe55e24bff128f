import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FlightRecorder, type RecordingLevel, type SnapshotTrigger } from '@flightrec/core'
import { request } from 'undici'

/**
 * Records a real snapshot in this process: starts a recorder, runs
 * `scenario`, writes the window to a file (with `trigger` in its metadata)
 * and stops. Resolves with the file's path.
 */
export async function record(
  level: RecordingLevel,
  scenario: () => Promise<void>,
  trigger: SnapshotTrigger = { reason: 'manual' },
): Promise<string> {
  const recorder = new FlightRecorder({ level })
  recorder.start()
  try {
    await scenario()
    recorder.markTrigger(trigger)
    const path = join(await mkdtemp(join(tmpdir(), 'flightrec-cli-')), 'snapshot.json')
    const stream = createWriteStream(path)
    await recorder.writeTo(stream, trigger)
    stream.end()
    await once(stream, 'close')
    return path
  } finally {
    recorder.stop()
  }
}

/** A node:http server on a free port. */
export async function serve(handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

export async function close(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

/** GET `url` and read the body. */
export async function get(url: string): Promise<string> {
  const res = await request(url)
  return res.body.text()
}

/**
 * A remote service in a child process (so its own requests are not in this
 * process's trace) that answers every request after `delayMs`.
 */
export async function startRemote(delayMs: number): Promise<{ url: string; child: ChildProcess }> {
  const code = `
    import { createServer } from 'node:http'
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => setTimeout(() => res.end('ok'), ${delayMs}))
    }).listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'))
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer]
  return { url: `http://127.0.0.1:${Number(chunk.toString().trim())}`, child }
}

export async function stopRemote(remote: { child: ChildProcess }): Promise<void> {
  if (remote.child.exitCode !== null) return
  const exited = once(remote.child, 'exit')
  remote.child.kill()
  await exited
}
