import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BenchResults } from '../results.ts'
import { median } from '../stats.ts'
import { throughputChart } from './chart.ts'
import { busyMachineCpus, checkGoals, type GoalCheck } from './goals.ts'
import { formatJson } from './json.ts'
import { keptNotes, renderMarkdown } from './markdown.ts'
import { summarizeThroughput } from './summarize.ts'

/**
 * Writes a run's results: results.json, benchmarks.md and the chart into
 * `outDir`, or, without it, bench/results/latest.json, docs/benchmarks.md
 * and docs/benchmarks-throughput.svg under `repo` (keeping the page's
 * hand-written notes). Returns the goals checked and where it wrote.
 */
export async function writeResults(
  results: BenchResults,
  repo: string,
  outDir: string | undefined,
): Promise<{ goals: GoalCheck[]; wrote: string }> {
  const summaries = summarizeThroughput(results.throughput)
  const goals = checkGoals(results, summaries)
  const docsPage = join(repo, 'docs/benchmarks.md')
  const existing = existsSync(docsPage) ? await readFile(docsPage, 'utf8') : undefined
  const { rounds, connections } = results.settings
  const other = median(results.throughput.map((r) => r.otherCpus).filter(Number.isFinite))
  const subtitle = `${results.machine.cpus} CPUs, Node.js ${results.machine.node}, ${connections} connections, ${
    rounds === 1 ? 'one round' : `median of ${rounds} rounds`
  }${other > busyMachineCpus ? `; busy machine: other processes used ${other.toFixed(2)} CPUs, see the notes` : ''}`
  const markdown = renderMarkdown(results, summaries, goals, keptNotes(existing))
  const chart = throughputChart(summaries, subtitle)
  const json = formatJson(results)
  if (outDir) {
    await mkdir(outDir, { recursive: true })
    await writeFile(join(outDir, 'results.json'), json)
    await writeFile(join(outDir, 'benchmarks.md'), markdown)
    await writeFile(join(outDir, 'benchmarks-throughput.svg'), chart)
    return { goals, wrote: `Results in ${outDir}` }
  }
  await mkdir(join(repo, 'bench/results'), { recursive: true })
  await writeFile(join(repo, 'bench/results/latest.json'), json)
  await writeFile(docsPage, markdown)
  await writeFile(join(repo, 'docs/benchmarks-throughput.svg'), chart)
  return {
    goals,
    wrote: 'Wrote docs/benchmarks.md, docs/benchmarks-throughput.svg and bench/results/latest.json',
  }
}
