import { open, stat } from 'node:fs/promises'
import {
  SNAPSHOT_FORMAT,
  SNAPSHOT_FORMAT_VERSION,
  type SnapshotFile,
} from '@flightrec/core/trace-format'

/**
 * The largest file the analyzer reads, in bytes (500 MiB): a JSON text must
 * fit in one V8 string (about 512 MiB). The recorder's `maxBytes` (default
 * 10 MiB) keeps real snapshots far below this.
 *
 * @example
 * if ((await stat(path)).size > MAX_SNAPSHOT_BYTES) console.error('too large')
 */
export const MAX_SNAPSHOT_BYTES = 500 * 1024 * 1024

/**
 * Why a file could not be analyzed; `message` is one plain line, without the
 * path (the CLI prefixes it).
 *
 * @example
 * try { await loadSnapshot(path) } catch (err) {
 *   if (err instanceof SnapshotLoadError) console.error(`${path}: ${err.message}`)
 * }
 */
export class SnapshotLoadError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SnapshotLoadError'
  }
}

/** A parsed snapshot and its size on disk. */
export interface LoadedSnapshot {
  file: SnapshotFile
  bytes: number
}

/**
 * Reads and parses a snapshot file, refusing anything that is not a complete
 * flightrec snapshot this analyzer understands. Every refusal is a
 * {@link SnapshotLoadError} with a one-line message: missing or unreadable
 * file, larger than {@link MAX_SNAPSHOT_BYTES}, truncated or malformed JSON,
 * a JSON file that is not a flightrec snapshot, or one written by a newer
 * format version. The events themselves are checked by the model as it reads them.
 *
 * @example
 * const { file } = await loadSnapshot('flightrec-20250919T165202Z-4242.json')
 */
export async function loadSnapshot(path: string): Promise<LoadedSnapshot> {
  const text = await readCapped(path)
  return { file: parseSnapshot(text), bytes: Buffer.byteLength(text) }
}

/**
 * Parses and checks a snapshot's text, with the same refusals as
 * {@link loadSnapshot} (size aside).
 *
 * @example
 * const file = parseSnapshot(await readFile(path, 'utf8'))
 */
export function parseSnapshot(text: string): SnapshotFile {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    const reason = (err as Error).message
    if (/end of (JSON )?input|Unterminated/i.test(reason) || !/[}\]]\s*$/.test(text)) {
      throw new SnapshotLoadError('truncated: the JSON ends before the snapshot does')
    }
    throw new SnapshotLoadError(`malformed JSON: ${reason.split('\n')[0]}`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SnapshotLoadError('not a flightrec snapshot: the JSON is not an object')
  }
  const file = parsed as SnapshotFile
  const meta = file.metadata?.flightrec
  if (meta === undefined || meta === null || typeof meta !== 'object') {
    throw new SnapshotLoadError('not a flightrec snapshot: no metadata.flightrec')
  }
  if (meta.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotLoadError(
      `not a flightrec snapshot: metadata.flightrec.format is ${describeValue(meta.format)}`,
    )
  }
  if (typeof meta.formatVersion !== 'number' || meta.formatVersion > SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotLoadError(
      `snapshot format version ${meta.formatVersion} is not supported (this analyzer reads up to ${SNAPSHOT_FORMAT_VERSION})`,
    )
  }
  if (!Array.isArray(file.traceEvents)) {
    throw new SnapshotLoadError('malformed snapshot: traceEvents is not an array')
  }
  for (const key of ['startMicros', 'endMicros'] as const) {
    if (typeof meta[key] !== 'number' || !Number.isFinite(meta[key])) {
      throw new SnapshotLoadError(`malformed snapshot: metadata.flightrec.${key} is not a number`)
    }
  }
  return file
}

async function readCapped(path: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    // stat before open: opening a FIFO would wait for a writer forever.
    const info = await stat(path)
    if (info.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' })
    if (!info.isFile()) throw new SnapshotLoadError('not a regular file, not a snapshot file')
    handle = await open(path, 'r')
  } catch (err) {
    if (err instanceof SnapshotLoadError) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new SnapshotLoadError('no such file')
    if (code === 'EISDIR') throw new SnapshotLoadError('is a directory, not a snapshot file')
    throw new SnapshotLoadError(`cannot open: ${(err as Error).message}`)
  }
  try {
    const stat = await handle.stat()
    if (stat.isDirectory()) throw new SnapshotLoadError('is a directory, not a snapshot file')
    if (!stat.isFile()) throw new SnapshotLoadError('not a regular file')
    const size = stat.size
    if (size > MAX_SNAPSHOT_BYTES) {
      throw new SnapshotLoadError(
        `too large to analyze: ${mib(size)} MiB (the limit is ${mib(MAX_SNAPSHOT_BYTES)} MiB)`,
      )
    }
    if (size === 0) throw new SnapshotLoadError('truncated: the file is empty')
    if (size > PRECHECK_BYTES) await precheckEnds(handle, size)
    const buffer = await handle.readFile()
    if (buffer.length > MAX_SNAPSHOT_BYTES) {
      throw new SnapshotLoadError(`too large to analyze: ${mib(buffer.length)} MiB`)
    }
    return buffer.toString('utf8')
  } catch (err) {
    if (err instanceof SnapshotLoadError) throw err
    throw new SnapshotLoadError(`cannot read: ${(err as Error).message}`)
  } finally {
    await handle.close()
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}

/** A short description of a JSON value for an error line (never serialises it whole). */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40))
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

/** Files above this size get their first and last bytes checked before being read whole. */
const PRECHECK_BYTES = 8 * 1024 * 1024

/**
 * A snapshot is one JSON object: it starts with `{` and ends with `}`. Checking
 * both ends first refuses a truncated or non-JSON file of any size without
 * reading (and holding) all of it.
 */
async function precheckEnds(handle: Awaited<ReturnType<typeof open>>, size: number): Promise<void> {
  const probe = Buffer.alloc(4096)
  const head = await handle.read(probe, 0, probe.length, 0)
  const first = probe.subarray(0, head.bytesRead).toString('latin1').trimStart()[0]
  if (first !== '{') throw new SnapshotLoadError('malformed JSON: the file does not start with {')
  const tail = await handle.read(probe, 0, probe.length, Math.max(0, size - probe.length))
  const last = probe.subarray(0, tail.bytesRead).toString('latin1').trimEnd().at(-1)
  if (last !== '}') throw new SnapshotLoadError('truncated: the JSON ends before the snapshot does')
}
