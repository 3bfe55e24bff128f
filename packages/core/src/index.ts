/**
 * @flightrec/core: the last seconds of a Node.js process, kept in memory and
 * written as a trace when something goes wrong.
 *
 * @example
 * import { FlightRecorder } from '@flightrec/core'
 * const fr = new FlightRecorder({ minAge: 10_000, maxBytes: 10 * 1024 * 1024 })
 * fr.start()
 */

export { log, region, task } from './annotations.ts'
export * from './capture/index.ts'
export { channels } from './diagnostics.ts'
export type { ErrorCode } from './errors.ts'
export { ErrorCodes, FlightRecorderError } from './errors.ts'
export type { Logger } from './logger.ts'
export type { AllowOptions, FlightRecorderOptions, RecordingLevel } from './options.ts'
export { recorderDefaults } from './options.ts'
export type { PinoDestination, PinoDestinationOptions } from './pino.ts'
export { pinoDestination, pinoDestinationDefaults } from './pino.ts'
export { FlightRecorder } from './recorder.ts'
export type { RequestDescription } from './requests.ts'
export { describeRequest, markRequestError, requestIdOf } from './requests.ts'
export type { SnapshotMetadata, SnapshotTrigger } from './snapshot/trace-format.ts'
export { validateTrace } from './snapshot/validate-trace.ts'
export { VERSION } from './version.ts'
