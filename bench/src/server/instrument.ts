import { createRequire } from 'node:module'
import { FlightRecorder, recorderDefaults } from '@flightrec/core'
import type { ConfigurationName, Evidence, ServerName, ServerSpec } from '../protocol.ts'

const require = createRequire(import.meta.url)
/** The guess-number example's server module (bench/src/server/apps/guess-number.ts runs it). */
const exampleServer = new URL('../../../examples/guess-number/src/server.ts', import.meta.url)

/** A configuration applied to a server process, before its app is loaded. */
export interface Instrumentation {
  /** The recorder, for the flightrec configurations. */
  recorder: FlightRecorder | undefined
  /** Proof that the instrumentation recorded something (called after a measurement). */
  evidence(): Promise<Evidence>
}

const none: Instrumentation = {
  recorder: undefined,
  evidence: async () => ({ summary: 'nothing installed', active: true }),
}

/**
 * Applies `spec.configuration` to this process: nothing, a flight recorder at
 * a level, the OpenTelemetry Node SDK, or the @datadog/pprof wall profiler.
 * Must run before the app's framework is loaded (OpenTelemetry hooks require).
 */
export async function instrument(spec: ServerSpec): Promise<Instrumentation> {
  const setups: Record<ConfigurationName, (spec: ServerSpec) => Promise<Instrumentation>> = {
    bare: async () => none,
    'flightrec-default': async (s) => startRecorder(s, 'default'),
    'flightrec-causal': async (s) => startRecorder(s, 'causal'),
    'flightrec-sampler-1ms': async (s) =>
      startRecorder({ ...s, recorder: { ...s.recorder, samplingInterval: 1000 } }, 'default'),
    'v8-profiler': async () => startV8Profiler(),
    opentelemetry: async (s) => startOpenTelemetry(s.server),
    'pprof-wall': async () => startWallProfiler(),
  }
  return setups[spec.configuration](spec)
}

function startRecorder(spec: ServerSpec, level: 'default' | 'causal'): Instrumentation {
  const recorder = new FlightRecorder({ level, ...spec.recorder })
  recorder.start()
  return {
    recorder,
    evidence: async () => {
      const errors = Object.entries(recorder.errorCounts)
      const window = recorder.windowBytes
      return {
        summary: `${level} level, window ${(window / 1024).toFixed(0)} KiB${
          errors.length ? `, recorder errors ${JSON.stringify(recorder.errorCounts)}` : ''
        }`,
        active: window > 0 && errors.length === 0,
      }
    },
  }
}

/**
 * The OpenTelemetry Node SDK with the http instrumentation and the framework's
 * own (express and the guess-number server, koa: the contrib instrumentations;
 * fastify: @fastify/otel, which fastify recommends), spans kept in memory
 * behind a batch span processor.
 */
async function startOpenTelemetry(server: ServerName): Promise<Instrumentation> {
  const { NodeSDK } = await import('@opentelemetry/sdk-node')
  const { BatchSpanProcessor, InMemorySpanExporter } = await import('@opentelemetry/sdk-trace')
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http')
  const exporter = new InMemorySpanExporter()
  const instrumentations: unknown[] = [new HttpInstrumentation()]
  if (server === 'express' || server === 'guess-number') {
    const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express')
    instrumentations.push(new ExpressInstrumentation())
  } else if (server === 'koa') {
    const { KoaInstrumentation } = await import('@opentelemetry/instrumentation-koa')
    instrumentations.push(new KoaInstrumentation())
  } else if (server === 'fastify') {
    const { FastifyOtelInstrumentation } = await import('@fastify/otel')
    const fastifyOtel = new FastifyOtelInstrumentation()
    instrumentations.push(fastifyOtel)
    const { fastifyPlugins } = await import('./apps/fastify.ts')
    fastifyPlugins.push(async (app) => {
      await app.register(fastifyOtel.plugin())
    })
  }
  const processor = new BatchSpanProcessor({ exporter })
  const sdk = new NodeSDK({
    spanProcessors: [processor],
    instrumentations: instrumentations as never,
  })
  sdk.start()
  // Load node:http through require so the http instrumentation patches it now.
  require('node:http')
  if (server === 'guess-number') {
    // The example imports express (ESM import of a CommonJS module, which the
    // SDK's require hooks do not see). Requiring it first, as the example
    // resolves it, lets the instrumentation patch it in place; the import
    // then gets the same, patched module.
    createRequire(exampleServer)('express')
  }
  let exported = 0
  const names = new Set<string>()
  // The in-memory exporter would keep every span: count them and let them go,
  // as a real exporter sending them away would.
  setInterval(() => {
    const spans = exporter.getFinishedSpans()
    exported += spans.length
    for (const span of spans) names.add(span.instrumentationScope.name)
    exporter.reset()
  }, 1000).unref()
  return {
    recorder: undefined,
    evidence: async () => {
      await processor.forceFlush()
      const spans = exporter.getFinishedSpans()
      exported += spans.length
      for (const span of spans) names.add(span.instrumentationScope.name)
      const frameworkSeen = server === 'node-http' || names.size > 1
      return {
        summary: `${exported} spans exported (${[...names].sort().join(', ')})`,
        active: exported > 0 && frameworkSeen,
      }
    },
  }
}

/**
 * V8's CPU profiler at flightrec's default interval, as flightrec's sampler
 * starts it (an inspector session, `Profiler.start`), with nothing else.
 */
async function startV8Profiler(): Promise<Instrumentation> {
  const { Session } = await import('node:inspector')
  const session = new Session()
  session.connect()
  const post = (method: string, params?: object) =>
    new Promise<void>((resolve, reject) =>
      session.post(method, params, (err) => (err ? reject(err) : resolve())),
    )
  await post('Profiler.enable')
  const interval = recorderDefaults.samplingInterval
  await post('Profiler.setSamplingInterval', { interval })
  await post('Profiler.start')
  return {
    recorder: undefined,
    evidence: async () => ({ summary: `V8's CPU profiler on, every ${interval} µs`, active: true }),
  }
}

/** @datadog/pprof's wall-time profiler, started with its defaults (1 ms period). */
async function startWallProfiler(): Promise<Instrumentation> {
  const { time } = require('@datadog/pprof') as typeof import('@datadog/pprof')
  time.start({})
  return {
    recorder: undefined,
    evidence: async () => {
      const profile = time.stop()
      const samples = profile.sample.length
      return { summary: `${samples} distinct stacks sampled`, active: samples > 0 }
    },
  }
}
