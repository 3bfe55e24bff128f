import type { RecordingState } from './recording.ts'

/**
 * The one recorder allowed to run in this process (Go: only one flight
 * recorder may be active). Annotations and log helpers write into it; when
 * none runs they cost a property read.
 */
export const active: { recording: RecordingState | undefined; owner: object | undefined } = {
  recording: undefined,
  owner: undefined,
}
