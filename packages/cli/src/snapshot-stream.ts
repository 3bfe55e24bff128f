import type { FileHandle } from 'node:fs/promises'

/** How much {@link streamSnapshot} reads and parses at a time, in bytes. */
export interface StreamSizes {
  /** Read from the file at a time: 1 MiB. */
  readBytes: number
  /**
   * Events are parsed and handed over in batches of about this much JSON:
   * 64 KiB, small enough that a batch's text and objects are young-generation
   * garbage (V8 puts strings over 128 KiB in a space only a full GC empties).
   */
  batchBytes: number
}

const defaultSizes: StreamSizes = Object.freeze({ readBytes: 1024 * 1024, batchBytes: 64 * 1024 })

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const NEWLINE = 0x0a
/** {@link ChunkReader.lineCut}: the bytes read so far end before a line does. */
const NEED_MORE = -2

/** Receives the elements of a `traceEvents` array, in order, a batch at a time. */
export interface EventSink {
  /** `firstIndex` is the index in `traceEvents` of `events[0]`. */
  add(events: unknown[], firstIndex: number): void
}

/** What {@link streamSnapshot} found at the top level of the file. */
export type StreamedSnapshot =
  | {
      kind: 'object'
      /** Every member but a `traceEvents` array (that went to the sink), parsed; the last of duplicate keys wins. */
      members: Map<string, unknown>
      /** Whether the (last) `traceEvents` member was an array, streamed to the sink. */
      streamedEvents: boolean
    }
  /** The file holds JSON, but not an object. */
  | { kind: 'not-object' }

/**
 * Why the file's bytes are not one JSON object: `truncated` when the text
 * ends before the object does. The message is one line.
 */
export class JsonSyntaxError extends Error {
  readonly truncated: boolean
  constructor(message: string, truncated: boolean) {
    super(message)
    this.name = 'JsonSyntaxError'
    this.truncated = truncated
  }
}

/**
 * Reads the first `size` bytes of a file holding one JSON object without
 * holding them whole: the elements of its `traceEvents` array go to the sink
 * `events()` returns, in batches of ~64 KiB of text (a second `traceEvents`
 * array starts a new sink: the last of duplicate keys wins, as in
 * `JSON.parse`); every other member is parsed and returned. Accepts exactly
 * the texts `JSON.parse` accepts (invalid UTF-8 decodes to U+FFFD, as
 * `Buffer#toString` does): each batch and member is checked by `JSON.parse`,
 * the structure around them here. A file that does not start with `{` is
 * read whole and only parsed. Rejects with a {@link JsonSyntaxError} for a
 * text that is not JSON; an error thrown by a sink propagates as is.
 *
 * Memory: the batch being parsed, the largest single event, and the other
 * members; not guaranteed for a file that does not start with `{`. `sizes`
 * (tests set tiny ones, to put every byte at a boundary) change only that.
 *
 * @example
 * const events: unknown[] = []
 * const top = await streamSnapshot(handle, size, () => ({
 *   add: (batch) => { for (const e of batch) events.push(e) },
 * }))
 */
export async function streamSnapshot(
  handle: FileHandle,
  size: number,
  events: () => EventSink,
  sizes: StreamSizes = defaultSizes,
): Promise<StreamedSnapshot> {
  const reader = new ChunkReader(handle, size, sizes)
  await reader.skipWhitespace()
  if (reader.peek() !== OPEN_BRACE) {
    const text = await reader.rest()
    try {
      JSON.parse(text)
    } catch (err) {
      const reason = String((err as Error)?.message ?? err).split('\n')[0]
      throw new JsonSyntaxError(reason, /end of (JSON )?input|Unterminated/i.test(reason))
    }
    return { kind: 'not-object' }
  }
  reader.pos++
  const members = new Map<string, unknown>()
  let streamedEvents = false
  await reader.skipWhitespace()
  if (reader.peek() === CLOSE_BRACE) reader.pos++
  else {
    for (;;) {
      const key = await reader.key()
      await reader.skipWhitespace()
      if (reader.peek() !== COLON) throw reader.unexpected(`':' after key ${JSON.stringify(key)}`)
      reader.pos++
      await reader.skipWhitespace()
      if (key === 'traceEvents' && reader.peek() === OPEN_BRACKET) {
        members.delete(key)
        await reader.array(events())
        streamedEvents = true
      } else {
        members.set(key, await reader.value())
        if (key === 'traceEvents') streamedEvents = false
      }
      await reader.skipWhitespace()
      const next = reader.peek()
      reader.pos++
      if (next === CLOSE_BRACE) break
      if (next !== COMMA) throw reader.unexpected("',' or '}' after a member", reader.pos - 1)
      await reader.skipWhitespace()
    }
  }
  await reader.skipWhitespace()
  if (reader.peek() !== -1) throw reader.unexpected('nothing after the closing }')
  return { kind: 'object', members, streamedEvents }
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

/**
 * A window on the file's bytes: `buffer[0, length)` holds the file from
 * `offset`; `pos` is where reading is; bytes before `keep` may be dropped
 * when more are read (positions then shift down: callers read theirs back
 * from `keep`).
 */
class ChunkReader {
  buffer: Buffer
  length = 0
  pos = 0
  keep = 0
  /** File offset of buffer[0]. */
  offset = 0
  /** Scan state of {@link delimiter} between calls: nesting depth, and whether inside a string. */
  depth = 0
  inString = false
  readonly handle: FileHandle
  readonly size: number
  readonly readBytes: number
  readonly batchBytes: number

  constructor(handle: FileHandle, size: number, sizes: StreamSizes) {
    this.handle = handle
    this.size = size
    this.readBytes = sizes.readBytes
    this.batchBytes = sizes.batchBytes
    this.buffer = Buffer.allocUnsafe(2 * sizes.readBytes)
  }

  /** The byte at `pos`, or -1 at the end of the file. Call after a method that ensured data. */
  peek(): number {
    return this.pos < this.length ? this.buffer[this.pos] : -1
  }

  /**
   * Reads more of the file, dropping the bytes before `keep`. False at the
   * end of the file (its size when opened: bytes appended later are not read).
   */
  async more(): Promise<boolean> {
    const remaining = this.size - this.offset - this.length
    if (remaining <= 0) return false
    const dropped = this.keep
    if (dropped > 0) {
      this.buffer.copyWithin(0, dropped, this.length)
      this.length -= dropped
      this.pos -= dropped
      this.keep = 0
      this.offset += dropped
    }
    if (this.buffer.length - this.length < this.readBytes) {
      const grown = Buffer.allocUnsafe(
        Math.max(2 * this.buffer.length, this.length + this.readBytes),
      )
      this.buffer.copy(grown, 0, 0, this.length)
      this.buffer = grown
    }
    const { bytesRead } = await this.handle.read(
      this.buffer,
      this.length,
      Math.min(this.buffer.length - this.length, remaining),
      this.offset + this.length,
    )
    this.length += bytesRead
    return bytesRead > 0
  }

  async skipWhitespace(): Promise<void> {
    for (;;) {
      while (this.pos < this.length && isWhitespace(this.buffer[this.pos])) this.pos++
      this.keep = this.pos
      if (this.pos < this.length || !(await this.more())) return
    }
  }

  /** The rest of the file from `pos`, as text. */
  async rest(): Promise<string> {
    this.keep = this.pos
    let more = true
    while (more) more = await this.more()
    return this.buffer.toString('utf8', this.keep, this.length)
  }

  /** A member's key: a JSON string at `pos`. */
  async key(): Promise<string> {
    if (this.peek() !== QUOTE) throw this.unexpected('a key in double quotes')
    this.keep = this.pos
    this.pos++
    this.inString = true
    while (!this.delimiter(true)) {
      if (!(await this.more())) throw this.truncated()
    }
    return this.parse(this.keep, this.pos, 'a key') as string
  }

  /** A member's value (anything but the streamed array), parsed; `pos` moves past it. */
  async value(): Promise<unknown> {
    this.keep = this.pos
    this.depth = 0
    this.inString = false
    while (!this.delimiter(false)) {
      if (!(await this.more())) throw this.truncated()
    }
    if (this.buffer[this.pos] === CLOSE_BRACKET) throw this.unexpected("',' or '}' after a member")
    return this.parse(this.keep, this.pos, 'a value')
  }

  /**
   * The elements of an array at `pos` (its `[`), handed to `sink` in
   * batches; `pos` moves past its `]`. `keep` stays on the byte before the
   * batch being read (the `[`, or the `,` the last batch ended at).
   *
   * Writers put one event a line, so a batch is first cut at a line that
   * ends in `,`: if the text up to there parses as a list of elements, that
   * comma was between two of them, and no byte needed scanning. The first
   * cut that does not parse (other formatting, or an error) turns to the
   * byte scan for the rest of the array, which finds errors where they are.
   */
  async array(sink: EventSink): Promise<void> {
    this.keep = this.pos
    this.pos++
    this.depth = 0
    this.inString = false
    let index = 0
    let batches = 0
    let byLines = true
    for (;;) {
      if (byLines) {
        const cut = this.lineCut()
        if (cut === NEED_MORE) {
          if (!(await this.more())) byLines = false
          continue
        }
        let elements: unknown[] | undefined
        if (cut >= 0) {
          try {
            elements = this.elements(this.keep, cut)
          } catch {}
        }
        if (elements !== undefined && elements.length > 0) {
          sink.add(elements, index)
          index += elements.length
          batches++
          this.keep = cut
          this.pos = cut + 1
          continue
        }
        byLines = false
      }
      if (!this.delimiter(false)) {
        if (!(await this.more())) throw this.truncated()
        continue
      }
      const c = this.buffer[this.pos]
      if (c === COMMA) {
        if (this.pos - this.keep > this.batchBytes) {
          index += this.batch(sink, this.keep, this.pos, index, true)
          batches++
          this.keep = this.pos
        }
        this.pos++
        continue
      }
      if (c !== CLOSE_BRACKET) throw this.unexpected("',' or ']' in traceEvents")
      this.batch(sink, this.keep, this.pos, index, batches > 0)
      this.pos++
      this.keep = this.pos
      return
    }
  }

  /**
   * Where to try cutting a batch: the first line end at least `batchBytes`
   * past `keep`, if the line ends in `,` (its index); -1 if it does not, or
   * if no line ends within `readBytes` after that; {@link NEED_MORE} if the
   * bytes read so far end first.
   */
  lineCut(): number {
    const buffer = this.buffer
    const from = this.keep + this.batchBytes
    const newline = from < this.length ? buffer.indexOf(NEWLINE, from) : -1
    if (newline < 0 || newline >= this.length) {
      return this.length - from < this.readBytes ? NEED_MORE : -1
    }
    let last = newline - 1
    while (isWhitespace(buffer[last])) last--
    return buffer[last] === COMMA ? last : -1
  }

  /** Parses and hands over the elements between the delimiters at `open` and `close`; returns how many. */
  batch(sink: EventSink, open: number, close: number, index: number, nonEmpty: boolean): number {
    const elements = this.elements(open, close)
    if (elements.length === 0 && nonEmpty) throw this.unexpected('a value in traceEvents', close)
    if (elements.length > 0) sink.add(elements, index)
    return elements.length
  }

  /**
   * The elements between the delimiters at `open` (`[` or `,`) and `close`
   * (`,` or `]`), parsed.
   */
  elements(open: number, close: number): unknown[] {
    const buffer = this.buffer
    // Made `[` and `]` for a moment, the delimiters turn the batch into one array's text.
    const before = buffer[open]
    const after = buffer[close]
    buffer[open] = OPEN_BRACKET
    buffer[close] = CLOSE_BRACKET
    const text = buffer.toString('utf8', open, close + 1)
    buffer[open] = before
    buffer[close] = after
    try {
      return JSON.parse(text)
    } catch (err) {
      throw this.syntax(err, open, text, 'the events')
    }
  }

  /**
   * Moves `pos` to the next `,`, `}` or `]` outside strings and at depth 0
   * (the end of the value being scanned), or with `stringOnly` to the quote
   * that ends the string `pos` is in. False if the bytes read so far end
   * first: call again after {@link more}, and the scan goes on where it stopped.
   */
  delimiter(stringOnly: boolean): boolean {
    const buffer = this.buffer
    const length = this.length
    let depth = this.depth
    let i = this.pos
    let inString = this.inString
    for (; i < length; i++) {
      const c = buffer[i]
      if (inString) {
        // The string's content up to its closing quote; a backslash escapes the next byte.
        for (; i < length; i++) {
          const d = buffer[i]
          if (d === QUOTE) break
          if (d === BACKSLASH) {
            if (i + 1 === length) break
            i++
          }
        }
        if (i >= length || buffer[i] !== QUOTE) break
        inString = false
        if (stringOnly) break
      } else if (c === QUOTE) inString = true
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (depth === 0) break
        depth--
      } else if (c === COMMA && depth === 0) break
    }
    this.depth = depth
    this.inString = inString
    if (i >= length || inString) {
      this.pos = i
      return false
    }
    this.pos = stringOnly ? i + 1 : i
    return true
  }

  /** `buffer[start, end)` parsed as JSON. */
  parse(start: number, end: number, what: string): unknown {
    const text = this.buffer.toString('utf8', start, end)
    try {
      return JSON.parse(text)
    } catch (err) {
      throw this.syntax(err, start, text, what)
    }
  }

  /**
   * A `JSON.parse` error on `text`, read from `buffer[start]`, placed in the
   * file: at the byte it names, else in the text from `start` on.
   */
  syntax(err: unknown, start: number, text: string, what: string): JsonSyntaxError {
    const message = String((err as Error)?.message ?? err).split('\n')[0]
    const position = / (?:in JSON )?at position (\d+)(?: \(line \d+ column \d+\))?/
    const at = position.exec(message)?.[1]
    // JSON.parse counts UTF-16 units from the start of its text.
    const reason =
      at === undefined
        ? `${message} (in ${what} from byte ${this.offset + start})`
        : message.replace(
            position,
            ` at byte ${this.offset + start + Buffer.byteLength(text.slice(0, Number(at)))}`,
          )
    return new JsonSyntaxError(reason, false)
  }

  truncated(): JsonSyntaxError {
    return new JsonSyntaxError('the JSON ends before the snapshot does', true)
  }

  /** A syntax error at `at` (default `pos`): what was expected, and what is there. */
  unexpected(expected: string, at = this.pos): JsonSyntaxError {
    if (at >= this.length) return this.truncated()
    const found = this.buffer.toString('utf8', at, Math.min(this.length, at + 12))
    return new JsonSyntaxError(
      `expected ${expected} at byte ${this.offset + at}, found ${JSON.stringify(found)}`,
      false,
    )
  }
}
