/**
 * A quick look at the recorder's cost on a plain node:http server: throughput
 * with the recorder at its default level against the same server without it.
 * The server runs in a child process (this file with `serve`), autocannon in
 * this one. Runs alternate (bare, recorder, bare, ...) to spread machine noise.
 * The formal benchmarks live in bench/; this is for checking a change.
 *
 * Usage: node packages/core/bench-scripts/http-overhead.ts [rounds=3] [seconds=5] [connections=20] [options JSON]
 * e.g. `... 5 5 20 '{"samplingInterval":2000}'` to compare recorder options.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import autocannon from 'autocannon'
import { FlightRecorder } from '../src/index.ts'

if (process.argv[2] === 'serve') {
  if (process.argv[3] === 'recorder')
    new FlightRecorder(JSON.parse(process.argv[4] ?? '{}')).start()
  let served = 0
  let cpu = process.cpuUsage()
  process.on('message', (m) => {
    if (m === 'reset') {
      served = 0
      cpu = process.cpuUsage()
    } else {
      const used = process.cpuUsage(cpu)
      process.send?.({ served, cpuMicros: used.user + used.system })
    }
  })
  const server = http.createServer((_req, res) => {
    served++
    res.setHeader('content-type', 'application/json')
    res.end('{"hello":"world"}')
  })
  server.listen(0, '127.0.0.1', () => {
    process.send?.((server.address() as { port: number }).port)
  })
} else {
  const [rounds = 3, seconds = 5, connections = 20] = process.argv.slice(2, 5).map(Number)
  const options = process.argv[5] ?? '{}'
  const results: Record<string, number[]> = { bare: [], recorder: [] }
  const cpuPerRequest: Record<string, number[]> = { bare: [], recorder: [] }
  for (let round = 0; round < rounds; round++) {
    for (const mode of ['bare', 'recorder'] as const) {
      const child: ChildProcess = fork(import.meta.filename, ['serve', mode, options])
      const [port] = (await once(child, 'message')) as [number]
      // Warm up, then measure.
      await autocannon({ url: `http://127.0.0.1:${port}/items/42?x=1`, connections, duration: 1 })
      child.send('reset')
      const result = await autocannon({
        url: `http://127.0.0.1:${port}/items/42?x=1`,
        connections,
        duration: seconds,
      })
      child.send('report')
      const [{ served, cpuMicros }] = (await once(child, 'message')) as [
        { served: number; cpuMicros: number },
      ]
      cpuPerRequest[mode].push(cpuMicros / served)
      child.kill()
      await once(child, 'exit')
      results[mode].push(result.requests.average)
      console.log(
        `round ${round + 1} ${mode}: ${Math.round(result.requests.average)} req/s, ` +
          `server CPU ${(cpuMicros / served).toFixed(2)} µs/request`,
      )
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const ratio = mean(results.recorder) / mean(results.bare)
  const cpuRatio = mean(cpuPerRequest.bare) / mean(cpuPerRequest.recorder)
  console.log(
    `bare ${Math.round(mean(results.bare))} req/s, recorder ${Math.round(mean(results.recorder))} req/s: ` +
      `throughput ratio ${ratio.toFixed(3)}; CPU per request ratio (bare/recorder) ${cpuRatio.toFixed(3)}`,
  )
}
