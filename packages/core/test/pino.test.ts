/** pinoDestination with a real pino logger: log lines become instants in the trace. */
import http from 'node:http'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { FlightRecorder, pinoDestination } from '../src/index.ts'
import {
  close,
  eventsOf,
  listen,
  MemorySink,
  nodeMajor,
  requestsByPath,
  snapshot,
} from './helpers.ts'

let recorder: FlightRecorder | undefined
let server: http.Server | undefined
afterEach(async () => {
  recorder?.stop()
  recorder = undefined
  if (server) await close(server)
  server = undefined
})

function start(): FlightRecorder {
  recorder = new FlightRecorder()
  recorder.start()
  return recorder
}

describe('pinoDestination', () => {
  it('records the lines of a pino.multistream logger, and the other stream still gets them', async () => {
    const fr = start()
    const stdout = new MemorySink()
    const logger = pino(
      { level: 'debug' },
      pino.multistream([
        { stream: stdout, level: 'debug' },
        { stream: pinoDestination(), level: 'debug' },
      ]),
    )
    logger.info({ user: 'alice' }, 'user signed in')
    logger.warn('disk almost full')
    logger.debug('below the default minLevel')
    logger.child({ module: 'billing' }).error(new Error('card declined'))
    const { file } = await snapshot(fr)
    const lines = eventsOf(file, 'flightrec.log', 'i').map((e) => e.args)
    expect(lines).toEqual([
      { category: 'pino', message: 'user signed in', level: 30 },
      { category: 'pino', message: 'disk almost full', level: 40 },
      { category: 'pino', message: 'card declined', level: 50 },
    ])
    // Only the message: the line's other fields may hold user data.
    expect(JSON.stringify(file)).not.toContain('alice')
    expect(stdout.text.trim().split('\n')).toHaveLength(4)
  })

  it('works as the only destination, with a category and minLevel of its own', async () => {
    const fr = start()
    const logger = pino({ level: 'trace' }, pinoDestination({ category: 'audit', minLevel: 20 }))
    logger.trace('too low')
    logger.debug('kept at debug')
    logger.info({ id: 1 })
    const { file } = await snapshot(fr)
    expect(eventsOf(file, 'flightrec.log', 'i').map((e) => e.args)).toEqual([
      { category: 'audit', message: 'kept at debug', level: 20 },
      { category: 'audit', message: '', level: 30 },
    ])
  })

  it('drops lines while no recorder runs', async () => {
    const logger = pino(pinoDestination())
    logger.info('nobody records this')
    const fr = start()
    logger.info('recorded')
    const { file } = await snapshot(fr)
    expect(eventsOf(file, 'flightrec.log', 'i').map((e) => e.args?.message)).toEqual(['recorded'])
  })

  it(`attributes a line logged while serving a request ${nodeMajor >= 24 ? 'to it' : '(not on Node.js 22)'}`, async () => {
    const fr = start()
    const logger = pino(pinoDestination())
    server = http.createServer((req, res) => {
      logger.info(`handling ${req.url}`)
      res.end('ok')
    })
    const url = await listen(server)
    await (await fetch(`${url}/logged`)).text()
    const { file } = await snapshot(fr)
    const [request] = requestsByPath(file).get('/logged') ?? []
    const onTrack = file.traceEvents.filter((e) => e.id === request.id && e.args?.type === 'log')
    if (nodeMajor >= 24) {
      expect(onTrack.map((e) => e.args?.message)).toEqual(['handling /logged'])
    } else {
      expect(onTrack).toEqual([])
      expect(eventsOf(file, 'flightrec.log', 'i').map((e) => e.args?.message)).toEqual([
        'handling /logged',
      ])
    }
  })
})
