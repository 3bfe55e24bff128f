import { once } from 'node:events'
import { createServer } from 'node:http'
import { createItemHandler } from '../work.ts'
import { type AppOptions, portOf, type RunningApp } from './app.ts'

const itemRoute = /^\/items\/([^/?]+)$/

/** A bare `node:http` server with the two bench routes: no framework, manual routing. */
export async function start(options: AppOptions): Promise<RunningApp> {
  const handleItem = createItemHandler(options.work)
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname === '/hello') {
      res.setHeader('content-type', 'text/plain')
      res.end('hello world')
      return
    }
    const match = itemRoute.exec(url.pathname)
    if (!match) {
      res.statusCode = 404
      res.end()
      return
    }
    const query = {
      id: match[1],
      limit: url.searchParams.get('limit') ?? undefined,
      sort: url.searchParams.get('sort') ?? undefined,
    }
    handleItem(query).then(
      (body) => {
        res.setHeader('content-type', 'application/json')
        res.end(body)
      },
      (err: unknown) => {
        res.statusCode = 500
        res.end(String(err))
      },
    )
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: portOf(server),
    // node:http has no adapter: the recorder sees its requests through Node's own channels.
    captureStats: undefined,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
