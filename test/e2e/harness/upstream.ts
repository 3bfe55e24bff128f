import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A stand-in for the remote services the scenario apps call, in the test's
 * own process (so its requests are not in the app's trace): each path prefix
 * answers after its delay.
 */
export async function startUpstream(
  delays: Record<string, number>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const prefix = Object.keys(delays).find((p) => req.url?.startsWith(p))
      setTimeout(
        () => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ path: req.url, at: Date.now() }))
        },
        prefix === undefined ? 0 : delays[prefix],
      )
    })
  })
  server.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
