/**
 * How long does writeTo() hold the event loop? Fills a recorder's window to
 * `maxBytes` with real HTTP traffic (a node:http server and an undici client in
 * this process; each request runs a task, a region, a log line and an outgoing
 * call), stops the traffic, then writes the window to a file while a
 * setImmediate chain measures the longest gap between two turns of the loop.
 *
 * Usage: node packages/core/bench-scripts/snapshot-stall.ts [MiB ...]   (default: 1 10 50)
 * Prints per size the snapshot's size and write time, and for each of three
 * writes the worst gap between two turns of the loop, in main-thread CPU time
 * (the stall on an idle machine) and in wall time (noise of a busy machine
 * included), beside the same for the idle loop over as long.
 */
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { FlightRecorder, log, region, task } from '../src/index.ts'

const sizes = process.argv.slice(2).map(Number)
const MiB = 1024 * 1024

/**
 * Runs `fn` while a setImmediate chain records the gaps between loop turns:
 * in wall time (what a request waiting on the loop sees, machine noise
 * included) and in main-thread CPU time (the work done between two turns: the
 * stall as it would be on an idle machine).
 */
async function gaps<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; wall: Float64Array; cpu: Float64Array }> {
  // Preallocated, so the measuring loop itself adds no garbage to collect.
  const wall = new Float64Array(2_000_000)
  const cpu = new Float64Array(2_000_000)
  let n = 0
  let last = performance.now()
  let lastCpu = threadCpuMs()
  let running = true
  const tick = () => {
    const now = performance.now()
    const nowCpu = threadCpuMs()
    if (n < wall.length) {
      wall[n] = now - last
      cpu[n++] = nowCpu - lastCpu
    }
    last = now
    lastCpu = nowCpu
    if (running) setImmediate(tick)
  }
  setImmediate(tick)
  const result = await fn()
  running = false
  return { result, wall: wall.subarray(0, n), cpu: cpu.subarray(0, n) }
}

function threadCpuMs(): number {
  const { user, system } = process.threadCpuUsage()
  return (user + system) / 1000
}

const worst = (xs: Float64Array) => xs.reduce((a, b) => Math.max(a, b), 0)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]

async function fill(recorder: FlightRecorder, maxBytes: number): Promise<number> {
  let n = 0
  const upstream = http.createServer((_req, res) => res.end('{"ok":true}'))
  const server = http.createServer(async (req, res) => {
    await task('handle', async () => {
      log('app', `serving ${req.url}`)
      const body = await region('call upstream', async () => {
        const r = await upstreamPool.request({ path: `/u${req.url}`, method: 'GET' })
        return r.body.text()
      })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const upstreamPool = new Pool(
    `http://127.0.0.1:${(upstream.address() as { port: number }).port}`,
    {
      connections: 16,
    },
  )
  const pool = new Pool(`http://127.0.0.1:${(server.address() as { port: number }).port}`, {
    connections: 16,
  })
  // Until the ring has trimmed by size, i.e. the window is full.
  const worker = async () => {
    while (recorder.windowBytes < maxBytes * 0.97) {
      const r = await pool.request({ path: `/items/${n++}?page=2`, method: 'GET' })
      await r.body.text()
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
  await pool.close()
  await upstreamPool.close()
  server.close()
  upstream.close()
  return n
}

const REPEATS = 3
for (const mib of sizes.length > 0 ? sizes : [1, 10, 50]) {
  const maxBytes = mib * MiB
  const recorder = new FlightRecorder({ maxBytes, minAge: 3_600_000 })
  recorder.start()
  const t0 = performance.now()
  const requests = await fill(recorder, maxBytes)
  const fillSeconds = (performance.now() - t0) / 1000
  const writes: Array<{
    ms: number
    wall: number
    cpu: number
    idleWall: number
    idleCpu: number
  }> = []
  let bytes = 0
  for (let r = 0; r < REPEATS; r++) {
    await sleep(200)
    const file = join(tmpdir(), `flightrec-stall-${process.pid}.json`)
    const stream = createWriteStream(file)
    const w0 = performance.now()
    const written = await gaps(() => recorder.writeTo(stream))
    const ms = performance.now() - w0
    bytes = written.result
    await new Promise((resolve) => stream.end(resolve))
    await rm(file)
    // The same loop, idle, for as long: what this machine costs on its own.
    const idle = await gaps(() => sleep(ms))
    writes.push({
      ms,
      wall: worst(written.wall),
      cpu: worst(written.cpu),
      idleWall: worst(idle.wall),
      idleCpu: worst(idle.cpu),
    })
  }
  const fmt = (key: 'wall' | 'cpu' | 'idleWall' | 'idleCpu') =>
    writes.map((w) => w[key].toFixed(2)).join(' / ')
  console.log(
    `${String(mib).padStart(3)} MiB window (${recorder.windowBytes} B, ${requests} requests filled in ${fillSeconds.toFixed(1)} s): ` +
      `snapshot ${(bytes / MiB).toFixed(1)} MiB in ${Math.round(median(writes.map((w) => w.ms)))} ms (median of ${REPEATS})\n` +
      `      worst gap between loop turns during writeTo: main-thread CPU ${fmt('cpu')} ms, wall ${fmt('wall')} ms\n` +
      `      idle loop for as long (baseline):           main-thread CPU ${fmt('idleCpu')} ms, wall ${fmt('idleWall')} ms`,
  )
  recorder.stop()
}
