import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'

/** What the realistic route needs, the same in every server process of a run. */
export interface WorkOptions {
  /** Origin of the loopback upstream, e.g. 'http://127.0.0.1:41234'. */
  upstream: string
  /** The small file each request reads. */
  dataFile: string
  /** Iterations of {@link burnCpu} that take ~0.5 ms (calibrated by the harness). */
  cpuIterations: number
}

/** The realistic route's query, already parsed by the framework. */
export interface ItemQuery {
  id: string
  limit: string | undefined
  sort: string | undefined
}

/**
 * A deterministic CPU loop (FNV-1a over the loop counter); the result is
 * returned so that the JIT cannot drop the work.
 */
export function burnCpu(iterations: number): number {
  let hash = 2166136261
  for (let i = 0; i < iterations; i++) {
    hash ^= i & 0xff
    hash = Math.imul(hash, 16777619)
  }
  return hash >>> 0
}

/**
 * The realistic route's handler body, shared by every framework: three awaits
 * of real async work (a 0 ms timer, a small file read, an undici call to the
 * loopback upstream), ~0.5 ms of CPU, and a ~1 KB JSON body.
 */
export function createItemHandler(options: WorkOptions): (query: ItemQuery) => Promise<string> {
  const dispatcher = new Agent({ connections: 32, pipelining: 1 })
  const upstreamUrl = `${options.upstream}/price`
  return async function handleItem(query: ItemQuery): Promise<string> {
    const limit = Math.min(Math.max(Number.parseInt(query.limit ?? '10', 10) || 10, 1), 10)
    await sleep(0)
    const data = await readFile(options.dataFile, 'utf8')
    const response = await request(`${upstreamUrl}?id=${encodeURIComponent(query.id)}`, {
      dispatcher,
    })
    const upstream = (await response.body.json()) as { price: number; currency: string }
    const checksum = burnCpu(options.cpuIterations)
    const items = []
    for (let i = 0; i < limit; i++) {
      items.push({
        sku: `${query.id}-${i}`,
        title: data.slice(i * 40, i * 40 + 40),
        price: upstream.price + i,
        currency: upstream.currency,
      })
    }
    if (query.sort === 'price') items.sort((a, b) => b.price - a.price)
    return JSON.stringify({ id: query.id, checksum, count: items.length, items })
  }
}

/** The realistic route's URL path (id 42; the query is parsed on every request). */
export const itemPath = '/items/42?limit=10&sort=price'

/** The hello-world route's URL path. */
export const helloPath = '/hello'
