import { devNull } from 'node:os'
import { flightRecorder } from '@flightrec/express'
import type { Request } from 'express'
import pino from 'pino'
import { startServer } from '../../../../examples/guess-number/src/server.ts'
import { type AppOptions, adapterOptions, type RunningApp } from './app.ts'

/**
 * The guess-number example's server (examples/guess-number) in its `--fixed`
 * form, as it is: express, a lock per bucket, a pino line per request, and
 * a report POSTed with undici every second, here to the bench's upstream.
 * Without flightrec it runs with `adapter: false`; under flightrec, with
 * @flightrec/express built from the bench's adapter options. Its logs go
 * to the null device through pino's asynchronous destination, in every
 * configuration.
 */
export async function start(options: AppOptions): Promise<RunningApp> {
  const adapter = options.flightrec
    ? flightRecorder(adapterOptions<Request>(options.flightrec))
    : false
  const server = await startServer({
    variant: 'fixed',
    port: 0,
    reportUrl: `${options.work.upstream}/guess-number-report`,
    logger: pino(pino.destination({ dest: devNull, sync: false })),
    adapter,
  })
  return {
    port: Number(new URL(server.url).port),
    captureStats: adapter ? () => adapter.flightRecorder.stats : undefined,
    close: () => server.close(),
  }
}
