import type { Target } from './configurations.ts'
import { helloPath, itemPath } from './server/work.ts'

/** The blog client's request: `GET /guess-number?guess=N`, N from 0 to 99, every bucket in turn. */
const guessPaths = Array.from({ length: 100 }, (_, guess) => `/guess-number?guess=${guess}`)

/** Every server route the throughput suite loads, in the order the results list them. */
export const targets: readonly Target[] = [
  { server: 'node-http', route: 'hello', path: helloPath },
  { server: 'node-http', route: 'realistic', path: itemPath },
  { server: 'express', route: 'hello', path: helloPath },
  { server: 'express', route: 'realistic', path: itemPath },
  { server: 'fastify', route: 'hello', path: helloPath },
  { server: 'fastify', route: 'realistic', path: itemPath },
  { server: 'koa', route: 'hello', path: helloPath },
  { server: 'koa', route: 'realistic', path: itemPath },
  { server: 'guess-number', route: 'guess', path: guessPaths[42], paths: guessPaths },
]
