import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  analyze,
  analyzeFile,
  buildModel,
  ExitCode,
  loadSnapshot,
  main,
  SnapshotLoadError,
} from '../src/index.ts'
import { get, record, serve } from './record.ts'

const bin = new URL('../bin/flightrec.js', import.meta.url).pathname

/** Runs main in this process and collects what it writes. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    isTTY: false,
    env: {},
  })
  return { code, stdout, stderr }
}

let dir: string
let real: string
let realText: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flightrec-cli-load-'))
  const { url, server } = await serve((_req, res) => res.end('ok'))
  real = await record('default', async () => {
    for (let i = 0; i < 5; i++) await get(url)
    await sleep(50)
  })
  server.close()
  realText = await readFile(real, 'utf8')
})

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  return path
}

describe('flightrec analyze refuses what is not a readable snapshot', () => {
  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    ['a missing file', async () => join(dir, 'nope.json'), /no such file/],
    ['a directory', async () => dir, /directory/],
    ['an empty file', () => file('empty.json', ''), /truncated/],
    [
      'text that is not JSON',
      () => file('text.json', 'hello, world\n'),
      /malformed JSON|truncated/,
    ],
    [
      'a snapshot cut short',
      () => file('cut.json', realText.slice(0, Math.floor(realText.length / 2))),
      /truncated/,
    ],
    ['a JSON array', () => file('array.json', '[1, 2, 3]'), /not a flightrec snapshot/],
    [
      'a Chrome trace from another tool',
      () =>
        file('chrome.json', JSON.stringify({ traceEvents: [{ ph: 'X', ts: 1, dur: 1, pid: 1 }] })),
      /not a flightrec snapshot: no metadata\.flightrec/,
    ],
    [
      'another format in metadata.flightrec',
      () =>
        file(
          'other.json',
          JSON.stringify({ traceEvents: [], metadata: { flightrec: { format: 'x' } } }),
        ),
      /not a flightrec snapshot/,
    ],
    [
      'a newer format version',
      async () => {
        const json = JSON.parse(realText)
        json.metadata.flightrec.formatVersion = 99
        return file('newer.json', JSON.stringify(json))
      },
      /format version 99 is not supported/,
    ],
    [
      'traceEvents that is not an array',
      async () => {
        const json = JSON.parse(realText)
        json.traceEvents = {}
        return file('events.json', JSON.stringify(json))
      },
      /traceEvents is not an array/,
    ],
    [
      'a request without its id',
      async () => {
        const json = JSON.parse(realText)
        const request = json.traceEvents.find(
          (e: { cat?: string; ph: string }) => e.cat === 'flightrec.request' && e.ph === 'b',
        )
        delete request.args.requestId
        return file('no-id.json', JSON.stringify(json))
      },
      /request without requestId/,
    ],
    [
      'a slice that ends without beginning',
      async () => {
        const json = JSON.parse(realText)
        json.traceEvents.push({ ph: 'e', cat: 'flightrec.request', id: 'r999999', ts: 1, pid: 1 })
        return file('unbalanced.json', JSON.stringify(json))
      },
      /ends a slice never begun/,
    ],
    [
      'an event that is not an object',
      async () => {
        const json = JSON.parse(realText)
        json.traceEvents.push(42)
        return file('not-object.json', JSON.stringify(json))
      },
      /is not a trace event/,
    ],
  ]

  for (const [what, make, message] of cases) {
    it(`${what}: one line on stderr, exit 2`, async () => {
      const path = await make()
      const { code, stdout, stderr } = await run(['analyze', path])
      expect(code).toBe(ExitCode.Usage)
      expect(stdout).toBe('')
      expect(stderr).toMatch(message)
      expect(stderr.trimEnd().split('\n')).toHaveLength(1)
      expect(stderr.startsWith(`flightrec analyze: ${path}: `)).toBe(true)
    })
  }

  it('rejects with a SnapshotLoadError from the API', async () => {
    const path = await file('api.json', '{"traceEvents": [')
    await expect(loadSnapshot(path)).rejects.toBeInstanceOf(SnapshotLoadError)
  })

  it('exits 2 from the installed command too, with --json', () => {
    const path = join(dir, 'missing.json')
    const result = spawnSync(process.execPath, [bin, 'analyze', '--json', path], {
      encoding: 'utf8',
    })
    expect(result.status).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim()).toBe(`flightrec analyze: ${path}: no such file`)
  })

  it('reads the snapshot it was given back unchanged', async () => {
    const { file: parsed, bytes } = await loadSnapshot(real)
    expect(bytes).toBe(Buffer.byteLength(realText))
    expect(parsed).toStrictEqual(JSON.parse(realText))
  })

  it('analyzes a snapshot the same however its JSON is laid out', async () => {
    const json = JSON.parse(realText)
    const { traceEvents, ...rest } = json
    const layouts = [
      file('pretty.json', JSON.stringify(json, null, 2)),
      file('compact.json', JSON.stringify(json)),
      file('metadata-first.json', JSON.stringify({ ...rest, traceEvents })),
    ]
    const expected = (await run(['analyze', '--json', real])).stdout
    expect(JSON.parse(expected).requests.total).toBeGreaterThan(0)
    for (const path of await Promise.all(layouts)) {
      const { code, stdout } = await run(['analyze', '--json', path])
      expect(code).toBe(ExitCode.Ok)
      expect(stdout).toBe(expected)
    }
    expect(await analyzeFile(real)).toStrictEqual(analyze(buildModel(JSON.parse(realText))))
  })

  it('skips event categories it does not know (a newer recorder may add some)', async () => {
    const json = JSON.parse(realText)
    json.traceEvents.push(
      { ph: 'X', cat: 'flightrec.future', name: 'new', ts: 1, dur: 1, pid: 1, tid: 9 },
      { ph: 'X', cat: 'v8.other', name: 'x', ts: 1, dur: 1, pid: 1, tid: 9 },
    )
    const path = await file('future.json', JSON.stringify(json))
    const { code } = await run(['analyze', '--json', path])
    expect(code).toBe(ExitCode.Ok)
  })
})
