import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { snapshotFileName, writeFileAtomically, writeSnapshotTo } from '../src/capture/sink.ts'
import { FlightRecorder, validateTrace } from '../src/index.ts'
import { dirEntries, makeTempDir, readSnapshot, removeDir } from './capture-helpers.ts'

let dir: string

beforeEach(async () => {
  dir = await makeTempDir()
})

afterEach(async () => {
  await removeDir(dir)
})

describe('snapshotFileName', () => {
  it('names the UTC time and the pid', () => {
    expect(snapshotFileName(new Date(Date.UTC(2026, 0, 5, 14, 30, 12, 345)), 4242)).toBe(
      'flightrec-20260105T143012.345Z-4242.json',
    )
  })
})

describe('writeFileAtomically', () => {
  it('writes the file with mode 0600 and leaves no temporary file', async () => {
    const path = await writeFileAtomically(dir, 'a.json', async (stream) => {
      stream.write('{"a":')
      stream.write('1}')
    })
    expect(path).toBe(join(dir, 'a.json'))
    expect(await readFile(path, 'utf8')).toBe('{"a":1}')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(await dirEntries(dir)).toEqual(['a.json'])
  })

  it('creates a missing directory with mode 0700', async () => {
    const nested = join(dir, 'x', 'y')
    await writeFileAtomically(nested, 'b.json', async (stream) => {
      stream.write('{}')
    })
    expect((await stat(nested)).mode & 0o777).toBe(0o700)
  })

  it('removes the temporary file and rethrows when filling fails, keeping an earlier file', async () => {
    await writeFile(join(dir, 'c.json'), 'old')
    await expect(
      writeFileAtomically(dir, 'c.json', async (stream) => {
        stream.write('partial')
        throw new Error('encoder failed')
      }),
    ).rejects.toThrow('encoder failed')
    expect(await dirEntries(dir)).toEqual(['c.json'])
    expect(await readFile(join(dir, 'c.json'), 'utf8')).toBe('old')
  })

  it('rejects when the directory cannot be created', async () => {
    await writeFile(join(dir, 'file'), '')
    await expect(
      writeFileAtomically(join(dir, 'file', 'sub'), 'd.json', async () => {}),
    ).rejects.toMatchObject({ code: 'ENOTDIR' })
  })
})

describe('writeSnapshotTo', () => {
  const trigger = { reason: 'test' }

  it('streams a valid snapshot to a file', async () => {
    const recorder = new FlightRecorder()
    recorder.start()
    try {
      const result = await writeSnapshotTo(recorder, trigger, { dir, keepBytes: false })
      expect(result.bytes).toBeUndefined()
      expect(result.size).toBe((await stat(result.path as string)).size)
      const file = await readSnapshot(result.path as string)
      expect(file.metadata?.flightrec?.trigger).toEqual(trigger)
    } finally {
      recorder.stop()
    }
  })

  it('keeps the bytes in memory, and writes the same bytes to a file when asked', async () => {
    const recorder = new FlightRecorder()
    recorder.start()
    try {
      const memory = await writeSnapshotTo(recorder, trigger, { dir: undefined, keepBytes: true })
      expect(memory.path).toBeUndefined()
      expect(memory.size).toBe(memory.bytes?.length)
      expect(validateTrace(JSON.parse(String(memory.bytes)), { requireFlightrec: true })).toEqual(
        [],
      )
      expect(await dirEntries(dir)).toEqual([])

      const both = await writeSnapshotTo(recorder, trigger, { dir, keepBytes: true })
      expect(await readFile(both.path as string)).toEqual(both.bytes)
    } finally {
      recorder.stop()
    }
  })
})
