import type { ConfigurationName, ServerName } from './protocol.ts'

/** A way of running a server, as the results name and explain it. */
export interface Configuration {
  name: ConfigurationName
  /** Short label for tables and the chart. */
  label: string
  description: string
  /** Run only when named in `--configurations`: a diagnosis, not one of the compared configurations. */
  optional?: boolean
}

/** Every configuration, bare first: each is compared with bare measured in the same run. */
export const configurations: readonly Configuration[] = [
  { name: 'bare', label: 'bare', description: 'The app alone.' },
  {
    name: 'flightrec-default',
    label: 'flightrec default',
    description:
      "`new FlightRecorder({ level: 'default' }).start()`, plus the framework's adapter (`@flightrec/express`, `/fastify`, `/koa`; for the guess-number server, `@flightrec/express` passed as its `adapter` option in place of the one it builds; threshold 100 ms; slow requests `ignore`d so that no snapshot is written during a measurement: snapshots are measured on their own below).",
  },
  {
    name: 'flightrec-causal',
    label: 'flightrec causal',
    description: "The same at `level: 'causal'`.",
  },
  {
    name: 'flightrec-sampler-1ms',
    label: 'flightrec default, 1 ms sampler',
    description:
      'The default level with `samplingInterval: 1000` (µs, 1 kHz) instead of the default 10 ms: what sampling ten times as often costs. Only with `--configurations`.',
    optional: true,
  },
  {
    name: 'v8-profiler',
    label: "V8's CPU profiler alone",
    description:
      "No flightrec: V8's CPU profiler started through `node:inspector` at flightrec's default sampling interval (100 Hz), its samples never read. What having the profiler on costs, apart from anything flightrec does with it. Only with `--configurations`.",
    optional: true,
  },
  {
    name: 'opentelemetry',
    label: 'OpenTelemetry',
    description:
      "The OpenTelemetry Node SDK (`@opentelemetry/sdk-node`) with the http instrumentation and the framework's (express and the guess-number server, koa: `@opentelemetry/instrumentation-*`; fastify: `@fastify/otel`), an `InMemorySpanExporter` behind a `BatchSpanProcessor`.",
  },
  {
    name: 'pprof-wall',
    label: 'pprof wall',
    description: "`@datadog/pprof`'s wall-time profiler, `time.start({})` (1 ms period).",
  },
]

/** A route of a server the throughput suite loads. */
export interface Target {
  server: ServerName
  /** The bench apps' `hello` and `realistic` routes, or the guess-number server's `guess`. */
  route: 'hello' | 'realistic' | 'guess'
  /** URL path and query autocannon requests (and `--profile` loads). */
  path: string
  /**
   * When set, the throughput suite's connections request these in turn
   * instead of `path` (autocannon's `requests`): a route whose work depends
   * on its query, loaded as its own client loads it.
   */
  paths?: readonly string[]
}
