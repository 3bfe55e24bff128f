/**
 * Capture: what the framework adapters share. A {@link SnapshotCapture} times
 * requests, applies the trigger policy and writes snapshots through its sink;
 * every capture in the process shares one recorder ({@link getProcessRecorder}).
 */

export type { CaptureOptions } from './options.ts'
export { captureDefaults } from './options.ts'
export { getProcessRecorder, resetProcessRecorder } from './process-recorder.ts'
export type { AdapterInfo } from './snapshot-capture.ts'
export { markRequestFailed, SnapshotCapture } from './snapshot-capture.ts'
export type { CapturedSnapshot, CaptureResult, CaptureStats, TimedRequest } from './types.ts'
