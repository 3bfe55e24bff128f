/**
 * fast-check arbitraries of bad (and some good) snapshot files, made from a
 * real snapshot: truncated, bytes flipped or inserted, values replaced by
 * wrong types, huge strings or deep nesting, keys deleted, events shuffled or
 * duplicated, other JSON, random bytes. Each case says what `flightrec
 * analyze` must do with it, and {@link checkOutcome} checks that it did.
 * Shared by cli-input.test.ts (a few hundred runs) and fuzz.ts (10 000).
 */
import fc from 'fast-check'

/** What the CLI must do: 'invalid' exit 2; 'valid' exit 0; 'either' 0 or 2. */
export type Expectation = 'invalid' | 'valid' | 'either'

export interface FuzzCase {
  /** How the case was made, for the failure message. */
  how: string
  bytes: Buffer
  expect: Expectation
}

/** What a run of `flightrec analyze <file>` produced. */
export interface Outcome {
  code: number | null
  stdout: string
  stderr: string
}

const SENTINEL = '__flightrec_fuzz_value__'

/** A JSON value given as raw text, so it may be nested deeper than JSON.stringify can go. */
interface RawJson {
  raw: string
  label: string
}

/** Values no field of a snapshot should hold. */
const hostileValue: fc.Arbitrary<RawJson> = fc.oneof(
  fc.constantFrom<RawJson>(
    { raw: 'null', label: 'null' },
    { raw: 'true', label: 'true' },
    { raw: '0', label: '0' },
    { raw: '-1', label: '-1' },
    { raw: '1e308', label: '1e308' },
    { raw: '-1e308', label: '-1e308' },
    { raw: '1e20', label: '1e20' },
    { raw: '9007199254740993', label: '2^53+1' },
    { raw: '0.000001', label: 'tiny' },
    { raw: '""', label: 'empty string' },
    { raw: '[]', label: '[]' },
    { raw: '{}', label: '{}' },
    { raw: '{"__proto__":{"polluted":true}}', label: '__proto__ object' },
    { raw: '"constructor"', label: '"constructor"' },
  ),
  fc.jsonValue({ maxDepth: 3 }).map((v) => ({ raw: JSON.stringify(v) ?? 'null', label: 'json' })),
  fc.string({ maxLength: 40 }).map((s) => ({ raw: JSON.stringify(s), label: 'string' })),
  fc
    .integer({ min: 100_000, max: 2_000_000 })
    .map((n) => ({ raw: JSON.stringify('x'.repeat(n)), label: `string of ${n}` })),
  fc
    .integer({ min: 1_000, max: 100_000 })
    .map((n) => ({ raw: `${'['.repeat(n)}${']'.repeat(n)}`, label: `${n} nested arrays` })),
  fc
    .integer({ min: 1_000, max: 20_000 })
    .map((n) => ({ raw: `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`, label: `${n} nested objects` })),
)

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Path = Array<string | number>

/** Paths of every value under `root` (at most `limit`), breadth first. */
function pathsOf(root: Json, limit = 50_000): Path[] {
  const paths: Path[] = []
  const queue: Array<[Json, Path]> = [[root, []]]
  for (let next = 0; next < queue.length && paths.length < limit; next++) {
    const [value, path] = queue[next]
    if (path.length > 0) paths.push(path)
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) queue.push([value[i], [...path, i]])
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) queue.push([v, [...path, k]])
    }
  }
  return paths
}

function parentOf(root: Json, path: Path): { parent: Json; key: string | number } {
  let parent = root
  for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[key]
  return { parent, key: path[path.length - 1] }
}

/** A copy of `root` with the value at `path` replaced by `raw` JSON text. */
function replaced(root: Json, path: Path, raw: string): string {
  const copy = structuredClone(root)
  const { parent, key } = parentOf(copy, path)
  ;(parent as Record<string | number, Json>)[key] = SENTINEL
  return JSON.stringify(copy).replace(`"${SENTINEL}"`, () => raw)
}

/** A copy of `root` without the value at `path`. */
function deleted(root: Json, path: Path): string {
  const copy = structuredClone(root)
  const { parent, key } = parentOf(copy, path)
  if (Array.isArray(parent)) parent.splice(key as number, 1)
  else delete (parent as Record<string, Json>)[key as string]
  return JSON.stringify(copy)
}

/**
 * What the CLI must make of `text`: anything that is not JSON, or JSON that is
 * not an object with `metadata.flightrec.format` 'flightrec-snapshot', is invalid.
 */
function classify(text: string): Expectation {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return 'invalid'
  }
  const format = (parsed as { metadata?: { flightrec?: { format?: unknown } } } | null)?.metadata
    ?.flightrec?.format
  return format === 'flightrec-snapshot' ? 'either' : 'invalid'
}

function textCase(how: string, text: string, expect?: Expectation): FuzzCase {
  return { how, bytes: Buffer.from(text), expect: expect ?? classify(text) }
}

/** Every kind of mutation of `base` (a snapshot's text), and files made from scratch. */
export function snapshotCases(base: string): fc.Arbitrary<FuzzCase> {
  const root = JSON.parse(base) as Json
  const paths = pathsOf(root)
  const metaPaths = paths.filter((p) => p[0] === 'metadata')
  const events = (root as { traceEvents: Json[] }).traceEvents
  const bytes = Buffer.from(base)
  const anyPath = fc.nat(paths.length - 1).map((i) => paths[i])
  const metaPath = fc.nat(metaPaths.length - 1).map((i) => metaPaths[i])

  return fc.oneof(
    // Cut anywhere: a snapshot whose writer died.
    fc.nat(bytes.length - 1).map((n) => textCase(`truncated at ${n}`, base.slice(0, n))),
    // Bytes replaced by random ones.
    fc
      .array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      })
      .map((flips) => {
        const copy = Buffer.from(bytes)
        for (const [at, value] of flips) copy[at] = value
        const text = copy.toString('utf8')
        return {
          how: `bytes flipped at ${flips.map((f) => f[0])}`,
          bytes: copy,
          expect: classify(text),
        }
      }),
    // Garbage inserted.
    fc
      .tuple(fc.nat(base.length), fc.string({ minLength: 1, maxLength: 20 }))
      .map(([at, junk]) =>
        textCase(
          `inserted ${JSON.stringify(junk)} at ${at}`,
          base.slice(0, at) + junk + base.slice(at),
        ),
      ),
    // Any value replaced by a hostile one.
    fc
      .tuple(anyPath, hostileValue)
      .map(([path, value]) =>
        textCase(`${path.join('.')} = ${value.label}`, replaced(root, path, value.raw)),
      ),
    // A metadata field replaced (metadata is a small share of all paths).
    fc
      .tuple(metaPath, hostileValue)
      .map(([path, value]) =>
        textCase(`${path.join('.')} = ${value.label}`, replaced(root, path, value.raw)),
      ),
    // A key or an element deleted.
    anyPath.map((path) => textCase(`deleted ${path.join('.')}`, deleted(root, path))),
    // Events shuffled, or some duplicated.
    fc
      .shuffledSubarray(events, { minLength: events.length, maxLength: events.length })
      .map((shuffled) =>
        textCase('events shuffled', JSON.stringify({ ...(root as object), traceEvents: shuffled })),
      ),
    fc
      .subarray(events, { minLength: 1 })
      .map((extra) =>
        textCase(
          `${extra.length} events duplicated`,
          JSON.stringify({ ...(root as object), traceEvents: [...events, ...extra] }),
        ),
      ),
    // The same snapshot, pretty-printed: must be analyzed.
    fc.constant(textCase('pretty-printed', JSON.stringify(root, null, 2), 'valid')),
    // Other JSON, or no JSON at all.
    fc.jsonValue().map((v) => textCase('other JSON', JSON.stringify(v) ?? 'null')),
    fc.uint8Array({ maxLength: 4096 }).map((b) => ({
      how: `${b.length} random bytes`,
      bytes: Buffer.from(b),
      expect: classify(Buffer.from(b).toString('utf8')),
    })),
    fc.constant(textCase('empty file', '', 'invalid')),
    fc.constant({
      how: 'UTF-16 text',
      bytes: Buffer.from(base, 'utf16le'),
      expect: 'invalid' as const,
    }),
  )
}

/** Lines of `text` (a trailing newline ends the last line; it does not start another). */
function lines(text: string): string[] {
  return text.split('\n').slice(0, text.endsWith('\n') ? -1 : undefined)
}

/** A rule a run broke: `rule` names it (to group failures), `message` says what happened. */
export interface Problem {
  rule: string
  message: string
}

/**
 * Checks one run against its case: exit 0 or 2, never anything else; exit 2
 * prints exactly one line on stderr (no stack trace) and nothing on stdout;
 * exit 0 prints a report and nothing on stderr; an invalid file exits 2 and
 * a valid one 0. Returns the first rule broken, or undefined.
 */
export function checkOutcome(c: FuzzCase, outcome: Outcome): Problem | undefined {
  const { code, stdout, stderr } = outcome
  const message = (rule: string) => ({
    rule,
    message: `${rule}; ${c.how}: exit ${code}, stderr ${JSON.stringify(stderr.slice(0, 300))}`,
  })
  if (code !== 0 && code !== 2) return message('expected exit 0 or 2')
  if (c.expect === 'invalid' && code !== 2) return message('expected exit 2 for an invalid file')
  if (c.expect === 'valid' && code !== 0) return message('expected exit 0 for a valid file')
  if (code === 2) {
    if (lines(stderr).length !== 1) return message('expected one line on stderr')
    if (/^\s+at /m.test(stderr)) return message('stack trace on stderr')
    if (stdout !== '') return message('expected nothing on stdout with exit 2')
  }
  if (code === 0) {
    if (stderr !== '') return message('expected nothing on stderr with exit 0')
    if (stdout === '') return message('expected a report on stdout')
  }
  return undefined
}
