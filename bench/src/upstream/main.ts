import { once } from 'node:events'
import { createServer } from 'node:http'

/**
 * The upstream the realistic route calls: a bare node:http server on loopback,
 * in its own process, answering every request with a small JSON price.
 * Tells the harness its port, then runs until the harness disconnects.
 */
const body = JSON.stringify({ price: 1999, currency: 'EUR', stock: 12 })
const server = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json')
  res.end(body)
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const address = server.address()
if (!address || typeof address === 'string') throw new Error('upstream has no port')
process.send?.({ type: 'ready', port: address.port })
process.on('disconnect', () => process.exit(0))
