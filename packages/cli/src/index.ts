/**
 * @flightrec/cli: reads a flight recorder snapshot and says why the slow
 * requests in it were slow. The `flightrec` command is {@link main}; the
 * steps are exported for programs that want the analysis itself.
 *
 * @example
 * import { analyzeFile } from '@flightrec/cli'
 * const analysis = await analyzeFile('flightrec-20250919T165202Z-4242.json')
 * console.log(analysis.findings[0]?.summary)
 */

import { type Analysis, type AnalyzeOptions, analyze } from './analyze.ts'
import { loadModel } from './model.ts'

export type {
  Analysis,
  AnalyzeOptions,
  CountersAt,
  RequestCause,
  RequestReport,
} from './analyze.ts'
export { analyze } from './analyze.ts'
export { analyzeDefaults } from './context.ts'
export type { Culprit, Finding, FindingKind, WaitedOn } from './findings/types.ts'
export { loadSnapshot, MAX_SNAPSHOT_BYTES, parseSnapshot, SnapshotLoadError } from './load.ts'
export { ExitCode, main } from './main.ts'
export type { Model } from './model.ts'
export { buildModel, loadModel } from './model.ts'
export { renderText, type TextOptions } from './report.ts'

/**
 * Loads, checks and analyzes a snapshot file (options as {@link analyze};
 * defaults in `analyzeDefaults`). Rejects with `SnapshotLoadError` (a
 * one-line message) for a file that is not a readable flightrec snapshot.
 *
 * @example
 * const { findings } = await analyzeFile('snapshot.json', { slowMs: 200 })
 */
export async function analyzeFile(path: string, options?: AnalyzeOptions): Promise<Analysis> {
  return analyze(await loadModel(path), options)
}
