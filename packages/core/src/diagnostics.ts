import dc from 'node:diagnostics_channel'

/**
 * Every diagnostics channel flightrec touches, in one place: the ones it
 * subscribes to (Node.js core and undici) and the ones it publishes.
 *
 * Published channels (payloads are stable within a major version):
 * - `flightrec:loop:stall` `{ startMicros, durationMs }`: the event loop was blocked.
 * - `flightrec:snapshot:written` `{ bytes, reason, durationMs }`: a snapshot was written.
 * - `flightrec:trigger` `{ reason, request }`: a trigger decided to capture a snapshot.
 * Every publish is guarded by `hasSubscribers`, so it costs nothing unobserved.
 */
/** The Node.js and undici channels the sources subscribe to, by what they carry. */
export const subscribed = {
  serverRequestStart: 'http.server.request.start',
  serverResponseFinish: 'http.server.response.finish',
  clientRequestCreated: 'http.client.request.created',
  clientResponseFinish: 'http.client.response.finish',
  clientRequestError: 'http.client.request.error',
  undiciRequestCreate: 'undici:request:create',
  undiciRequestHeaders: 'undici:request:headers',
  undiciRequestError: 'undici:request:error',
} as const

/**
 * The channels flightrec publishes (see the list above), for code that wants
 * to react: a trigger policy, metrics, a test.
 *
 * @example
 * import dc from 'node:diagnostics_channel'
 * dc.subscribe('flightrec:loop:stall', ({ durationMs }) => console.warn(`loop blocked ${durationMs} ms`))
 */
export const channels = {
  stall: dc.channel('flightrec:loop:stall'),
  snapshotWritten: dc.channel('flightrec:snapshot:written'),
  trigger: dc.channel('flightrec:trigger'),
}

/** Payload of `flightrec:loop:stall`: when the blocked stretch began (recorder clock, µs) and how long it lasted. */
export interface StallMessage {
  startMicros: number
  durationMs: number
}

/** Subscribes `handlers` (channel name to function) and returns the matching unsubscribe. */
export function subscribeAll(
  handlers: Record<string, (message: unknown, name: string | symbol) => void>,
): () => void {
  for (const [name, fn] of Object.entries(handlers)) dc.subscribe(name, fn)
  return () => {
    for (const [name, fn] of Object.entries(handlers)) dc.unsubscribe(name, fn)
  }
}

/** Publishes on `flightrec:loop:stall` if anyone listens. */
export function publishStall(message: StallMessage): void {
  if (channels.stall.hasSubscribers) channels.stall.publish(message)
}
