import autocannon from 'autocannon'
import type { LoadMessage, LoadRequest, LoadResult, LoadRun } from '../protocol.ts'
import { percentile } from '../stats.ts'

/**
 * The load process: runs autocannon against a server process when the
 * harness asks, one run at a time, and replies with the result. Latency
 * percentiles come from every 2xx response's own duration (µs precision;
 * autocannon's histogram keeps whole milliseconds).
 */
function send(message: LoadMessage): void {
  process.send?.(message)
}

async function run(options: LoadRun): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16)
  let count = 0
  let instance: autocannon.Instance | undefined
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        ...(options.amount ? { amount: options.amount } : { duration: options.durationSeconds }),
        ...(options.overallRate ? { overallRate: options.overallRate } : {}),
        ...(options.paths ? { requests: options.paths.map((path) => ({ path })) } : {}),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    )
  })
  if (!instance) throw new Error('autocannon did not start')
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
    if (statusCode < 200 || statusCode > 299) return
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2)
      grown.set(latencies)
      latencies = grown
    }
    latencies[count++] = ms
  })
  const result = await done
  const sorted = latencies.subarray(0, count).sort()
  const durationSeconds = result.duration
  return {
    requests: count,
    durationSeconds,
    requestsPerSecond: count / durationSeconds,
    latencyP50Ms: percentile(sorted, 0.5),
    latencyP99Ms: percentile(sorted, 0.99),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  }
}

process.on('message', (raw) => {
  const request = raw as LoadRequest
  run(request.run).then(
    (result) => send({ id: request.id, type: 'result', result }),
    (err: unknown) => send({ id: request.id, type: 'error', message: String(err) }),
  )
})
process.on('disconnect', () => process.exit(0))
send({ type: 'ready' })
