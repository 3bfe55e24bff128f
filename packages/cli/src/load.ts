import { type FileHandle, open, stat } from 'node:fs/promises'
import {
  SNAPSHOT_FORMAT,
  SNAPSHOT_FORMAT_VERSION,
  type SnapshotFile,
  type SnapshotMetadata,
} from '@flightrec/core/trace-format'
import {
  type EventSink,
  JsonSyntaxError,
  type StreamedSnapshot,
  streamSnapshot,
} from './snapshot-stream.ts'

/**
 * The largest file the analyzer reads, in bytes (500 MiB). Events are read a
 * batch at a time, so memory follows the model (roughly the file's size for
 * a snapshot of many small requests), but time grows with the file; the
 * recorder's `maxBytes` (default 10 MiB) keeps real snapshots far below this.
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
 * format version. The events themselves are checked by the model as it
 * reads them. Holds every event; `loadModel` (model.ts) reads the file into
 * the analyzer's model without.
 *
 * @example
 * const { file } = await loadSnapshot('flightrec-20250919T165202Z-4242.json')
 */
export async function loadSnapshot(path: string): Promise<LoadedSnapshot> {
  let events: unknown[] = []
  const { members, bytes } = await streamSnapshotFile(path, () => {
    events = []
    return {
      add(batch) {
        for (const e of batch) events.push(e)
      },
    }
  })
  const file = Object.fromEntries(members) as unknown as SnapshotFile
  file.traceEvents = events as SnapshotFile['traceEvents']
  return { file, bytes }
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
    const truncated = /end of (JSON )?input|Unterminated/i.test(reason)
    throw syntaxError(reason, truncated || !/[}\]]\s*$/.test(text))
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SnapshotLoadError(NOT_AN_OBJECT)
  }
  const file = parsed as SnapshotFile
  checkSnapshot(file.metadata, Array.isArray(file.traceEvents))
  return file
}

/**
 * Streams a snapshot file: its events to the sink `events()` returns (see
 * {@link streamSnapshot}), then checks it is a flightrec snapshot this
 * analyzer reads (as {@link parseSnapshot} does). An error the sink throws
 * is held until the whole file has been read and checked, then rethrown:
 * a file that is not JSON, or not a snapshot, is refused as that first.
 * Resolves with the file's metadata, its other top-level members (but a
 * streamed `traceEvents`), and its size.
 *
 * @example
 * const { meta } = await streamSnapshotFile(path, () => ({ add: (events) => count += events.length }))
 */
export async function streamSnapshotFile(
  path: string,
  events: () => EventSink,
): Promise<{ meta: SnapshotMetadata; members: Map<string, unknown>; bytes: number }> {
  const { handle, size } = await openCapped(path)
  let sinkError: { error: unknown } | undefined
  const deferErrors = (): EventSink => {
    sinkError = undefined
    const sink = events()
    return {
      add(batch, firstIndex) {
        if (sinkError) return
        try {
          sink.add(batch, firstIndex)
        } catch (error) {
          sinkError = { error }
        }
      },
    }
  }
  try {
    if (size > PRECHECK_BYTES) await precheckEnds(handle, size)
    let top: StreamedSnapshot
    try {
      top = await streamSnapshot(handle, size, deferErrors)
    } catch (err) {
      if (!(err instanceof JsonSyntaxError)) throw err
      throw syntaxError(err.message, err.truncated || !(await endsLikeJson(handle, size)))
    }
    if (top.kind === 'not-object') throw new SnapshotLoadError(NOT_AN_OBJECT)
    const meta = checkSnapshot(top.members.get('metadata'), top.streamedEvents)
    if (sinkError) throw sinkError.error
    return { meta, members: top.members, bytes: size }
  } catch (err) {
    if (err instanceof SnapshotLoadError || sinkError?.error === err) throw err
    throw new SnapshotLoadError(`cannot read: ${(err as Error).message}`)
  } finally {
    await handle.close()
  }
}

const NOT_AN_OBJECT = 'not a flightrec snapshot: the JSON is not an object'

function syntaxError(reason: string, truncated: boolean): SnapshotLoadError {
  return new SnapshotLoadError(
    truncated
      ? 'truncated: the JSON ends before the snapshot does'
      : `malformed JSON: ${reason.split('\n')[0]}`,
  )
}

/** Checks the top level of a parsed snapshot and returns its metadata. */
function checkSnapshot(metadata: unknown, eventsAreArray: boolean): SnapshotMetadata {
  const meta = (metadata as SnapshotFile['metadata'] | undefined)?.flightrec
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
  if (!eventsAreArray) {
    throw new SnapshotLoadError('malformed snapshot: traceEvents is not an array')
  }
  for (const key of ['startMicros', 'endMicros'] as const) {
    if (typeof meta[key] !== 'number' || !Number.isFinite(meta[key])) {
      throw new SnapshotLoadError(`malformed snapshot: metadata.flightrec.${key} is not a number`)
    }
  }
  return meta
}

/** Opens a regular file no larger than {@link MAX_SNAPSHOT_BYTES}, or refuses it. */
async function openCapped(path: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle
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
    const info = await handle.stat()
    if (info.isDirectory()) throw new SnapshotLoadError('is a directory, not a snapshot file')
    if (!info.isFile()) throw new SnapshotLoadError('not a regular file')
    if (info.size > MAX_SNAPSHOT_BYTES) {
      throw new SnapshotLoadError(
        `too large to analyze: ${mib(info.size)} MiB (the limit is ${mib(MAX_SNAPSHOT_BYTES)} MiB)`,
      )
    }
    if (info.size === 0) throw new SnapshotLoadError('truncated: the file is empty')
    return { handle, size: info.size }
  } catch (err) {
    await handle.close()
    if (err instanceof SnapshotLoadError) throw err
    throw new SnapshotLoadError(`cannot read: ${(err as Error).message}`)
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

/** Files above this size get their first and last bytes checked before being read. */
const PRECHECK_BYTES = 8 * 1024 * 1024

/**
 * A snapshot is one JSON object: it starts with `{` and ends with `}`. Checking
 * both ends first refuses a truncated or non-JSON file of any size without
 * reading all of it.
 */
async function precheckEnds(handle: FileHandle, size: number): Promise<void> {
  const probe = Buffer.alloc(4096)
  const head = await handle.read(probe, 0, probe.length, 0)
  const first = probe.subarray(0, head.bytesRead).toString('latin1').trimStart()[0]
  if (first !== '{') throw new SnapshotLoadError('malformed JSON: the file does not start with {')
  if (!(await endsLikeJson(handle, size, '}'))) {
    throw new SnapshotLoadError('truncated: the JSON ends before the snapshot does')
  }
}

/**
 * Whether the file's last non-blank character closes an object or array
 * (`ends`): when not, a syntax error in it is reported as truncation, the
 * likelier cause.
 */
async function endsLikeJson(handle: FileHandle, size: number, ends = '}]'): Promise<boolean> {
  const probe = Buffer.alloc(Math.min(4096, size))
  const tail = await handle.read(probe, 0, probe.length, size - probe.length)
  const last = probe.subarray(0, tail.bytesRead).toString('latin1').trimEnd().at(-1)
  return last !== undefined && ends.includes(last)
}
