/**
 * Promise 4, bad files: `flightrec analyze` on an empty, truncated, non-JSON,
 * wrong-schema, enormous or hostile file prints one line and exits 2, without
 * a stack trace; on a valid snapshot it exits 0. A few hundred generated
 * files run through the CLI's main() here; fuzz.ts runs 10 000 through the
 * real command.
 */
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdir, open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeBaseSnapshot } from './base-snapshot.ts'
import { analyzeInChild, analyzeInProcess } from './cli-runner.ts'
import { makeTempDir, removeDir } from './helpers.ts'
import { checkOutcome, type FuzzCase, snapshotCases } from './snapshot-mutations.ts'

/** Generated files run in-process (fuzz.ts runs 10 000 nightly). */
const RUNS = 200
/** Enormous files: over 100 MiB, as the promise says. */
const ENORMOUS = 110 * 1024 * 1024

let dir: string
let base: string

beforeAll(async () => {
  dir = await makeTempDir()
  base = await makeBaseSnapshot()
})

afterAll(async () => {
  await removeDir(dir)
})

/** A snapshot object to edit. */
function baseObject(): {
  traceEvents: unknown[]
  metadata: { flightrec: Record<string, unknown> }
} {
  return JSON.parse(base)
}

let fileCount = 0
async function fileWith(content: string | Buffer): Promise<string> {
  const path = join(dir, `case-${++fileCount}.json`)
  await writeFile(path, content)
  return path
}

describe(`${RUNS} generated bad snapshots, through main()`, () => {
  it('each exits 0 or 2; 2 with one line and no stack; invalid files always 2', async () => {
    const property = fc.asyncProperty(snapshotCases(base), async (c: FuzzCase) => {
      const path = await fileWith(c.bytes)
      const problem = checkOutcome(c, await analyzeInProcess(path))
      if (problem) throw new Error(problem.message)
    })
    // No shrinking: a failure is reported as generated (its `how` says what it is).
    await fc.assert(property, { numRuns: RUNS, endOnFailure: true })
  })
})

describe('the real command on bad files', () => {
  /** [name, expected exit code, make the file]. */
  const table: Array<[string, 0 | 2, () => Promise<string>]> = [
    ['a valid snapshot', 0, () => fileWith(base)],
    ['an empty file', 2, () => fileWith('')],
    ['a truncated snapshot', 2, () => fileWith(base.slice(0, base.length / 2))],
    ['text that is not JSON', 2, () => fileWith('hello, this is not a snapshot\n')],
    ['JSON that is an array', 2, () => fileWith('[1,2,3]')],
    [
      'a Chrome trace from another tool',
      2,
      () => fileWith('{"traceEvents":[{"ph":"X","ts":1,"dur":2,"pid":1,"tid":1,"name":"x"}]}'),
    ],
    [
      'a newer format version',
      2,
      () => {
        const s = baseObject()
        s.metadata.flightrec.formatVersion = 99
        return fileWith(JSON.stringify(s))
      },
    ],
    [
      'a null event',
      2,
      () => {
        const s = baseObject()
        s.traceEvents.splice(3, 0, null)
        return fileWith(JSON.stringify(s))
      },
    ],
    [
      'a category that is a number',
      2,
      () => {
        const s = baseObject()
        for (const e of s.traceEvents as Array<Record<string, unknown>>) e.cat = 7
        return fileWith(JSON.stringify(s))
      },
    ],
    [
      'an end time no date can hold',
      2,
      () => {
        const s = baseObject()
        s.metadata.flightrec.epochMillisAtEnd = 1e20
        return fileWith(JSON.stringify(s))
      },
    ],
    ['100 000 nested arrays', 2, () => fileWith(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)],
    [
      'a directory',
      2,
      async () => {
        const path = join(dir, 'a-directory')
        await mkdir(path)
        return path
      },
    ],
    ['a missing file', 2, async () => join(dir, 'missing.json')],
    ['a character device', 2, async () => '/dev/zero'],
    [
      'a sparse 600 MB file',
      2,
      async () => {
        const path = join(dir, 'sparse.json')
        const handle = await open(path, 'w')
        await handle.truncate(600 * 1024 * 1024)
        await handle.close()
        return path
      },
    ],
  ]

  // Each runs in its own process: run them side by side.
  it.concurrent.each(table)(
    '%s: exits %i, one line on stderr, no stack trace',
    async (how, code, make) => {
      const path = await make()
      const outcome = await analyzeInChild(path)
      const problem = checkOutcome(
        { how, bytes: Buffer.alloc(0), expect: code === 0 ? 'valid' : 'invalid' },
        outcome,
      )
      expect(problem?.message).toBeUndefined()
    },
  )
})

describe('the real command on a named pipe', () => {
  it('exits 2 with one line, and does not wait for a writer (a plain open would)', async () => {
    const path = join(dir, 'a-fifo')
    await promisify(execFile)('mkfifo', [path])
    // The guard only stops a hang from holding the suite; a run that hangs fails.
    const outcome = await analyzeInChild(path, { hangMs: 10_000 })
    const problem = checkOutcome(
      { how: 'a named pipe', bytes: Buffer.alloc(0), expect: 'invalid' },
      outcome,
    )
    expect(problem?.message).toBeUndefined()
  })
})

describe('enormous files (over 100 MiB)', () => {
  /** Writes `size` bytes: `head`, then `body` repeated. */
  async function enormous(name: string, head: string, body: string, size: number) {
    const path = join(dir, name)
    const out = createWriteStream(path)
    out.write(head)
    const chunk = Buffer.from(body.repeat(Math.ceil((1024 * 1024) / body.length)))
    for (let written = head.length; written < size; written += chunk.length) {
      if (!out.write(chunk)) await once(out, 'drain')
    }
    out.end()
    await once(out, 'finish')
    return path
  }

  const probe = new URL('./fixtures/report-max-rss.ts', import.meta.url).pathname

  it.each([
    ['a truncated snapshot', 'truncated'],
    ['bytes that are not JSON', 'garbage'],
  ])(
    '%s: one line, exit 2, and the file is streamed (peak memory below its size)',
    async (_, kind) => {
      let path: string
      if (kind === 'truncated') {
        const events = baseObject().traceEvents.filter((e) => (e as { ph?: string }).ph !== 'P')
        const body = `${events.map((e) => JSON.stringify(e)).join(',')},`
        path = await enormous('enormous-truncated.json', '{"traceEvents":[', body, ENORMOUS)
      } else {
        path = await enormous('enormous-garbage.json', '', 'garbage \u0000\u00ff ', ENORMOUS)
      }
      const outcome = await analyzeInChild(path, {
        nodeArgs: ['--import', probe],
        extraFd: true,
        hangMs: 120_000,
      })
      const problem = checkOutcome(
        { how: kind, bytes: Buffer.alloc(0), expect: 'invalid' },
        outcome,
      )
      expect(problem?.message).toBeUndefined()
      const peakBytes = Number(outcome.fd3) * 1024
      expect(peakBytes).toBeGreaterThan(0)
      expect(peakBytes).toBeLessThan(ENORMOUS)
    },
  )
})
