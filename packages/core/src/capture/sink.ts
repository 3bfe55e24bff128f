import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { lstat, mkdir, readdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { FlightRecorder } from '../recorder.ts'
import type { SnapshotTrigger } from '../snapshot/trace-format.ts'
import { turnBudget } from '../snapshot/turn-budget.ts'

/** Where a capture's snapshots go: a directory, the `onSnapshot` callback's bytes, or both. */
export interface SinkTarget {
  dir: string | undefined
  keepBytes: boolean
}

/** What a sink produced. `bytes` only when the target asked to keep them. */
export interface SinkResult {
  path: string | undefined
  size: number
  bytes: Buffer | undefined
}

/**
 * Writes the recorder's window, with `trigger` in its metadata, to `target`.
 * A file alone is streamed straight to disk; when the bytes are wanted too,
 * the snapshot is collected in memory first and the file written from it.
 */
export async function writeSnapshotTo(
  recorder: FlightRecorder,
  trigger: SnapshotTrigger,
  target: SinkTarget,
): Promise<SinkResult> {
  const name = snapshotFileName()
  if (!target.keepBytes && target.dir !== undefined) {
    let size = 0
    const path = await writeFileAtomically(target.dir, name, async (stream) => {
      size = await recorder.writeTo(stream, trigger)
    })
    return { path, size, bytes: undefined }
  }
  const chunks: Buffer[] = []
  const memory = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk)
      callback()
    },
  })
  await recorder.writeTo(memory, trigger)
  const bytes = await concatInSlices(chunks)
  const path =
    target.dir === undefined
      ? undefined
      : await writeFileAtomically(target.dir, name, async (stream) => {
          stream.write(bytes)
        })
  return { path, size: bytes.length, bytes }
}

/**
 * `Buffer.concat(chunks)`, copied a millisecond's worth per turn of the event
 * loop: in one go, the tens of megabytes of a large window's snapshot would
 * hold the loop for tens of milliseconds.
 */
async function concatInSlices(chunks: readonly Buffer[]): Promise<Buffer> {
  let total = 0
  for (const chunk of chunks) total += chunk.length
  const bytes = Buffer.allocUnsafe(total)
  let offset = 0
  const turnIfDue = turnBudget()
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
    await turnIfDue()
  }
  return bytes
}

/**
 * A snapshot file's name: `flightrec-<UTC timestamp>-<pid>.json`, e.g.
 * `flightrec-20260105T143012.345Z-4242.json`. Unique within a process as long
 * as two snapshots are not written in the same millisecond (captures in a
 * process run one at a time, and each takes longer than that).
 */
export function snapshotFileName(date = new Date(), pid = process.pid): string {
  return `flightrec-${date.toISOString().replace(/[-:]/g, '')}-${pid}.json`
}

/**
 * Creates `dir/name` atomically: `fill` writes into a temporary file
 * `.<name>.tmp-<random>` in `dir`, opened with O_CREAT|O_EXCL (a symlink or
 * file already at that path is never followed or overwritten) and mode 0600;
 * it is fsynced and renamed onto `name`, so a reader never sees a partial
 * snapshot. `dir` is created (mode 0700) if missing. On any failure the
 * temporary file is removed and the error rethrown.
 */
export async function writeFileAtomically(
  dir: string,
  name: string,
  fill: (stream: Writable) => Promise<void>,
): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await removeStaleTemporaries(dir)
  const path = join(dir, name)
  const temp = join(dir, `.${name}.tmp-${randomBytes(6).toString('hex')}`)
  // flush: the file is fsynced before it is closed, so the rename publishes complete data.
  const stream = createWriteStream(temp, { flags: 'wx', mode: 0o600, flush: true })
  // Failures surface through `once` and `finished`; this keeps a late error
  // (a write completing after destroy) from becoming an uncaught exception.
  stream.on('error', () => {})
  let created = false
  try {
    await once(stream, 'open')
    created = true
    await fill(stream)
    stream.end()
    await finished(stream)
    await rename(temp, path)
    return path
  } catch (err) {
    stream.destroy()
    if (created) await unlink(temp).catch(() => {})
    throw err
  }
}

const TEMPORARY = /^\.flightrec-.*-(\d+)\.json\.tmp-[0-9a-f]{12}$/
const STALE_MS = 60 * 60 * 1000
const cleaned = new Set<string>()

/**
 * Removes temporary snapshot files a crashed process left in `dir`: those of a
 * process that no longer runs, or older than an hour. Once per directory per
 * process; best effort (a file it cannot remove stays).
 */
async function removeStaleTemporaries(dir: string): Promise<void> {
  if (cleaned.has(dir)) return
  cleaned.add(dir)
  const names = await readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    const match = TEMPORARY.exec(name)
    if (!match) continue
    const path = join(dir, name)
    const info = await lstat(path).catch(() => undefined)
    if (!info?.isFile()) continue
    const pid = Number(match[1])
    if (pid === process.pid && Date.now() - info.mtimeMs < STALE_MS) continue
    if (Date.now() - info.mtimeMs >= STALE_MS || !processAlive(pid))
      await unlink(path).catch(() => {})
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
