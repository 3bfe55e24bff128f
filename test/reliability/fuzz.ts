/**
 * Fuzz `flightrec analyze` with fast-check: files made from a real snapshot
 * (truncated, bytes flipped, values replaced by wrong types, huge strings or
 * deep nesting, keys deleted, events shuffled or duplicated, other JSON,
 * random bytes; snapshot-mutations.ts), each run through the real command.
 * Every run must exit 0 or 2; exit 2 with exactly one line on stderr and no
 * stack trace; invalid files always 2, valid ones 0. Runs every case (it does
 * not stop at the first failure), groups the failures by rule and message,
 * keeps one file of each group, and exits 1 if there was any.
 *
 *   pnpm fuzz                                 # 10 000 runs of the real command
 *   pnpm fuzz -- --runs 500 --mode in-process # quicker: the CLI's main() in this process
 *   pnpm fuzz -- --seed 42                    # replay a run
 *
 * Options: --runs N (10000), --mode process|in-process (process),
 * --concurrency N (available CPUs), --seed N (random).
 * The CI version is cli-input.test.ts (a few hundred runs, in-process).
 */

import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import fc from 'fast-check'
import { makeBaseSnapshot } from './base-snapshot.ts'
import { analyzeInChild, analyzeInProcess } from './cli-runner.ts'
import { makeTempDir, removeDir } from './helpers.ts'
import { checkOutcome, type FuzzCase, type Outcome, snapshotCases } from './snapshot-mutations.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    mode: { type: 'string', default: 'process' },
    concurrency: { type: 'string', default: String(availableParallelism()) },
    seed: { type: 'string' },
  },
})
const runs = Number(values.runs)
const concurrency = Number(values.concurrency)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
if (!(runs > 0) || !(concurrency > 0) || !Number.isInteger(seed))
  usage('bad --runs, --concurrency or --seed')
if (values.mode !== 'process' && values.mode !== 'in-process')
  usage(`unknown --mode '${values.mode}'`)
const inProcess = values.mode === 'in-process'

function usage(message: string): never {
  process.stderr.write(`fuzz: ${message}\n`)
  process.exit(2)
}

/** Cases are generated in batches (some are megabytes): batch `i` uses seed `seed + i`. */
const BATCH = 200

const work = await makeTempDir('flightrec-fuzz-')
const kept = join(tmpdir(), `flightrec-fuzz-failures-${seed}`)
const base = await makeBaseSnapshot()
const arbitrary = snapshotCases(base)
const codes = new Map<string, number>()
const groups = new Map<string, { count: number; example: string; file?: string }>()
let done = 0
let nextFile = 0

/** The first stderr line without the file's path, digits folded: what a group of failures shares. */
function groupKey(rule: string, outcome: Outcome): string {
  const line = outcome.stderr.split('\n')[0].replace(/^flightrec analyze: [^:]*: /, '')
  return `${rule}: ${line.replace(/\d+/g, '#').slice(0, 160)}`
}

async function runOne(c: FuzzCase): Promise<void> {
  const path = join(work, `case-${nextFile++}.json`)
  await writeFile(path, c.bytes)
  const outcome = inProcess
    ? await analyzeInProcess(path)
    : await analyzeInChild(path, { hangMs: 60_000 })
  const code = String(outcome.code)
  codes.set(code, (codes.get(code) ?? 0) + 1)
  const problem = checkOutcome(c, outcome)
  if (problem) {
    const key = groupKey(problem.rule, outcome)
    const group = groups.get(key)
    if (group) group.count++
    else {
      await mkdir(kept, { recursive: true })
      const file = join(kept, `group-${groups.size + 1}.json`)
      await copyFile(path, file)
      groups.set(key, { count: 1, example: problem.message, file })
    }
  }
  await removeDir(path)
  done++
  if (done % 500 === 0) console.log(`fuzz: ${done}/${runs} runs, ${groups.size} failure groups`)
}

console.log(
  `fuzz: ${runs} runs of flightrec analyze (${inProcess ? 'main() in this process' : 'the real command'}, ${concurrency} at a time), seed ${seed}`,
)
for (let batch = 0; batch * BATCH < runs; batch++) {
  const cases = fc.sample(arbitrary, {
    numRuns: Math.min(BATCH, runs - batch * BATCH),
    seed: seed + batch,
  })
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < cases.length) await runOne(cases[next++])
    }),
  )
}
await removeDir(work)

console.log(`fuzz: exit codes ${JSON.stringify(Object.fromEntries(codes))}`)
if (groups.size === 0) {
  console.log(`fuzz: passed (${done} runs, seed ${seed})`)
} else {
  const sorted = [...groups.entries()].sort((a, b) => b[1].count - a[1].count)
  for (const [key, group] of sorted) {
    console.log(
      `FAIL x${group.count} ${key}\n     e.g. ${group.example.slice(0, 400)}\n     file ${group.file}`,
    )
  }
  console.log(
    `fuzz: FAILED, ${groups.size} kinds of failure in ${done} runs (seed ${seed}); examples in ${kept}`,
  )
  process.exitCode = 1
}
