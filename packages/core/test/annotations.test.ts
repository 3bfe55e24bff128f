/**
 * task / region / log (Go: trace.NewTask, trace.WithRegion, trace.Log), and
 * their attribution to the current request, which depends on the Node.js
 * major: on by default from 24 (AsyncLocalStorage on AsyncContextFrame), on
 * 22 only with --experimental-async-context-frame.
 */
import { execFile } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { FlightRecorder, log, region, task } from '../src/index.ts'
import { MAX_STRING_LENGTH } from '../src/ring/string-table.ts'
import { close, eventsOf, listen, nodeMajor, requestsByPath, snapshot } from './helpers.ts'

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

describe('task, region and log outside any request', () => {
  it('records them on tracks of their own, a region inside its task', async () => {
    const fr = start()
    const result = await task('refresh cache', async () => {
      log('cache', 'refreshing', 40)
      return region('load rows', () => 42)
    })
    expect(result).toBe(42)
    const { file } = await snapshot(fr)
    const [taskBegin] = eventsOf(file, 'flightrec.task', 'b')
    const [regionBegin] = eventsOf(file, 'flightrec.region', 'b')
    const [line] = eventsOf(file, 'flightrec.log', 'i')
    expect(taskBegin).toMatchObject({ name: 'refresh cache', args: { type: 'task' } })
    expect(taskBegin.id).toMatch(/^t\d+$/)
    expect(regionBegin).toMatchObject({ name: 'load rows', args: { type: 'region' } })
    expect(regionBegin.id).toMatch(/^g\d+$/)
    expect(line).toMatchObject({
      name: 'refreshing',
      tid: 4,
      args: { category: 'cache', message: 'refreshing', level: 40 },
    })
    const [taskEnd] = eventsOf(file, 'flightrec.task', 'e')
    const [regionEnd] = eventsOf(file, 'flightrec.region', 'e')
    expect(regionBegin.ts).toBeGreaterThanOrEqual(taskBegin.ts ?? 0)
    expect(regionEnd.ts).toBeLessThanOrEqual(taskEnd.ts ?? 0)
  })

  it('ends a task when its function throws or its promise rejects, and passes the error on', async () => {
    const fr = start()
    expect(() =>
      task('sync failure', () => {
        throw new Error('boom')
      }),
    ).toThrow('boom')
    await expect(
      task('async failure', async () => Promise.reject(new Error('later'))),
    ).rejects.toThrow('later')
    const { file } = await snapshot(fr)
    const begins = eventsOf(file, 'flightrec.task', 'b')
    expect(begins.map((e) => e.name).sort()).toEqual(['async failure', 'sync failure'])
    expect(begins.every((e) => e.args?.inFlight === undefined)).toBe(true)
  })

  it('shows a task still running at the snapshot as in flight', async () => {
    const fr = start()
    let finish: () => void = () => {}
    const running = task(
      'long job',
      () =>
        new Promise<void>((resolve) => {
          finish = resolve
        }),
    )
    const { file } = await snapshot(fr)
    finish()
    await running
    expect(eventsOf(file, 'flightrec.task', 'b')[0].args).toMatchObject({ inFlight: true })
  })

  it('costs nothing but running fn when no recorder runs', () => {
    expect(task('no recorder', () => 'value')).toBe('value')
    expect(region('no recorder', () => 7)).toBe(7)
    expect(() => log('none', 'dropped')).not.toThrow()
  })

  it('cuts a long log message at MAX_STRING_LENGTH characters', async () => {
    const fr = start()
    log('big', 'x'.repeat(10_000))
    const { file } = await snapshot(fr)
    const [line] = eventsOf(file, 'flightrec.log', 'i')
    expect(String(line.args?.message)).toHaveLength(MAX_STRING_LENGTH)
    expect(String(line.args?.message).endsWith('…')).toBe(true)
    expect(String(line.name).length).toBeLessThanOrEqual(80)
  })
})

describe('attribution to the current request', () => {
  it(`puts a handler's task, region and log on its request's track ${nodeMajor >= 24 ? '(Node.js >= 24)' : '(not on Node.js 22 by default)'}`, async () => {
    const fr = start()
    server = http.createServer(async (_req, res) => {
      await task('handle', async () => {
        log('app', 'inside the request')
        await region('work', () => new Promise((resolve) => setTimeout(resolve, 5)))
      })
      res.end('ok')
    })
    const url = await listen(server)
    await (await fetch(`${url}/annotated`)).text()
    const { file } = await snapshot(fr)
    const [request] = requestsByPath(file).get('/annotated') ?? []
    const onTrack = file.traceEvents.filter((e) => e.id === request.id && e.ph !== 'e')
    const types = onTrack.map((e) => e.args?.type).filter((t) => t !== undefined)
    if (nodeMajor >= 24) {
      expect(types.sort()).toEqual(['log', 'region', 'task'])
      expect(onTrack.every((e) => e.args?.requestId === request.args?.requestId)).toBe(true)
      expect(eventsOf(file, 'flightrec.task')).toEqual([])
    } else {
      expect(types).toEqual([])
      expect(eventsOf(file, 'flightrec.task', 'b').map((e) => e.name)).toEqual(['handle'])
      expect(eventsOf(file, 'flightrec.log', 'i').map((e) => e.name)).toEqual([
        'inside the request',
      ])
    }
  })

  const fixture = fileURLToPath(new URL('./fixtures/attribution.ts', import.meta.url))
  const flag = nodeMajor >= 24 ? '--no-async-context-frame' : '--experimental-async-context-frame'
  it(`follows ${flag} in a child process`, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [flag, fixture])
    const placed = JSON.parse(stdout) as Array<{ cat: string; requestId?: number }>
    expect(placed).toHaveLength(3)
    if (nodeMajor >= 24) {
      // AsyncContextFrame turned off: AsyncLocalStorage would cost every promise, so no attribution.
      expect(placed.map((p) => p.cat).sort()).toEqual([
        'flightrec.log',
        'flightrec.region',
        'flightrec.task',
      ])
    } else {
      expect(placed.every((p) => p.cat === 'flightrec.request' && p.requestId === 1)).toBe(true)
    }
  })
})
