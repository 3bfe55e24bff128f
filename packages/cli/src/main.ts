import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { analyze } from './analyze.ts'
import { SnapshotLoadError } from './load.ts'
import { loadModel } from './model.ts'
import { renderText } from './report.ts'

/**
 * Where {@link main} writes, whether stdout is a terminal (colour only then,
 * and never with `NO_COLOR` or `TERM=dumb`), and the environment it reads.
 *
 * @example
 * await main(['analyze', path], { stdout: process.stdout, stderr: process.stderr, isTTY: false, env: {} })
 */
export interface MainIo {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  isTTY: boolean
  env: Record<string, string | undefined>
}

/**
 * Exit codes of {@link main}: 0 done, 2 bad usage or a file that is not a
 * readable snapshot (including one whose events break the analysis).
 *
 * @example
 * if ((await main(['analyze', path])) === ExitCode.Usage) process.exit(2)
 */
export const ExitCode = { Ok: 0, Usage: 2 } as const

const HELP = `Usage: flightrec <command> [options]

Reads flight recorder snapshots (the JSON files @flightrec/* adapters write).

Commands:
  analyze <snapshot.json>   explain why the slow requests in it were slow

Options:
  -h, --help                this help (flightrec analyze --help for its own)
  -v, --version             print the version

Exit status: 0 done, 2 bad usage or not a readable flightrec snapshot.
`

const ANALYZE_HELP = `Usage: flightrec analyze [options] <snapshot.json>

Prints a short report: the trigger; findings ranked by the latency they
explain (waited-on-task, waited-on-upstream, blocked-loop, gc, cpu-saturated),
each naming the function behind it; the slowest requests, on CPU versus
waiting, and what each waited on, followed to its root; event-loop stalls;
GC share; the counters around the trigger.

Options:
  --json          print the analysis as JSON instead
  --slow <ms>     explain requests at least this slow (default: 100, or the
                  triggering request's duration if lower)
  --top <n>       how many of the slowest requests to detail (default 5)
  --no-color      no colour, even on a terminal (also NO_COLOR=1)
  -h, --help      show this help

Exit status: 0 done, 2 bad usage or not a readable flightrec snapshot
(missing, truncated, malformed, or another kind of JSON).
`

/**
 * The `flightrec` command: parses `argv` (without node and the script),
 * writes to `io`, and resolves with the exit code. Never throws.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2))
 */
export async function main(argv: string[], io: MainIo = processIo()): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.stdout.write(HELP)
    return command === undefined ? ExitCode.Usage : ExitCode.Ok
  }
  if (command === '-v' || command === '--version') {
    io.stdout.write(`${version()}\n`)
    return ExitCode.Ok
  }
  if (command !== 'analyze') {
    io.stderr.write(`flightrec: unknown command '${command}' (try flightrec --help)\n`)
    return ExitCode.Usage
  }
  let parsed: ReturnType<typeof parseAnalyzeArgs>
  try {
    parsed = parseAnalyzeArgs(rest)
  } catch (err) {
    io.stderr.write(`flightrec analyze: ${(err as Error).message} (try flightrec analyze --help)\n`)
    return ExitCode.Usage
  }
  if (parsed.help) {
    io.stdout.write(ANALYZE_HELP)
    return ExitCode.Ok
  }
  const { path } = parsed
  try {
    const analysis = analyze(await loadModel(path), { slowMs: parsed.slowMs, top: parsed.top })
    if (parsed.json) io.stdout.write(`${JSON.stringify(analysis, null, 2)}\n`)
    else {
      const colour = io.isTTY && !parsed.noColor && !io.env.NO_COLOR && io.env.TERM !== 'dumb'
      io.stdout.write(renderText(analysis, { colour, path }))
    }
    return ExitCode.Ok
  } catch (err) {
    if (err instanceof SnapshotLoadError) {
      io.stderr.write(`flightrec analyze: ${path}: ${err.message}\n`)
      return ExitCode.Usage
    }
    // The file parsed as a snapshot but its events do not hold what the format
    // promises (wrong types, impossible values): a bad file, not a crash.
    const reason = String((err as Error)?.message ?? err).split('\n')[0]
    io.stderr.write(`flightrec analyze: ${path}: malformed snapshot: ${reason}\n`)
    return ExitCode.Usage
  }
}

function parseAnalyzeArgs(args: string[]): {
  help: boolean
  json: boolean
  noColor: boolean
  path: string
  slowMs?: number
  top?: number
} {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      slow: { type: 'string' },
      top: { type: 'string' },
      'no-color': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return { help: true, json: false, noColor: false, path: '' }
  if (positionals.length !== 1) {
    throw new Error(
      positionals.length === 0 ? 'missing <snapshot.json>' : 'expects one snapshot file',
    )
  }
  return {
    help: false,
    json: values.json,
    noColor: values['no-color'],
    path: positionals[0],
    slowMs: positiveNumber(values.slow, '--slow'),
    top: positiveNumber(values.top, '--top', true),
  }
}

function positiveNumber(
  text: string | undefined,
  name: string,
  integer = false,
): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`)
  }
  return n
}

function version(): string {
  const pkg = createRequire(import.meta.url)('../package.json') as { version: string }
  return pkg.version
}

function processIo(): MainIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stdout.isTTY === true,
    env: process.env,
  }
}
