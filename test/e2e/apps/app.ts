/**
 * One scenario app: `node app.ts <scenario> <framework> <dir> [upstream] [level]`.
 * Serves the scenario's routes on the framework with its flightrec adapter
 * (threshold 250 ms, armed when the parent sends `{ arm: true }`), starts the
 * scenario's background work, tells the parent its URL over IPC, and later
 * the snapshot's path.
 */
import type { RecordingLevel } from '@flightrec/core'
import { type Framework, serve } from './frameworks.ts'
import { scenarios } from './scenarios/index.ts'

/** Slow enough to stand out from a loaded machine's noise (see ScenarioApp); a scenario may raise it. */
const THRESHOLD_MS = 250

const [name, framework, dir, upstream = '', level = 'default'] = process.argv.slice(2)
const scenario = scenarios[name]
if (!scenario) throw new Error(`unknown scenario '${name}'`)
const app = scenario({ upstream })
// Startup (compiling the handlers, first connections) is not what a scenario
// is about: slow requests trigger the snapshot only once the parent says so.
let armed = false
process.on('message', (m: { arm?: boolean }) => {
  if (m.arm) armed = true
})
const server = await serve(framework as Framework, app.routes, {
  dir,
  threshold: app.threshold ?? THRESHOLD_MS,
  level: level as RecordingLevel,
  armed: () => armed,
  onWritten: (path) => process.send?.({ snapshot: path }),
})
app.start?.()
process.send?.({ ready: server.url })
process.once('disconnect', () => {
  app.stop?.()
  server.close().then(() => process.exit(0))
})
