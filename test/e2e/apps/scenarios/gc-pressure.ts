import { setTimeout as sleep } from 'node:timers/promises'
import type { ScenarioApp } from './index.ts'

/** Searches whose results stay in the recent-results cache. */
const RECENT_RESULTS = 256
/** Hits each search ranks (one small object each). */
const HITS_PER_SEARCH = 5000

/**
 * A search service with a large catalog in memory, in a container with a
 * memory limit and one CPU. The test runs it with --max-old-space-size=448,
 * --single-threaded-gc and --no-incremental-marking: a collector that stops
 * the world for a whole mark-compact, the same on Node.js 22, 24 and 26.
 *
 * Each search ranks a few thousand hits and keeps them in a cache of recent
 * results. The cached hits live long enough to be promoted, then die in the
 * old generation, which the catalog already nearly fills: the collector runs
 * full mark-compacts over the whole catalog again and again (200-500 ms each
 * on the 2-core machines the suite runs on), and the requests in flight wait
 * for it. The scenario triggers at the blog's 100 ms, not the apps' 250 ms,
 * so that a quicker machine than the one it was sized on still sees every
 * such pause as a slow request.
 */
export function gcPressure(): ScenarioApp {
  const catalog: Array<{ id: number; title: string; tags: number[] }> = []
  for (let id = 0; id < 2_000_000; id++)
    catalog.push({ id, title: `item ${id}`, tags: [id % 7, id % 11] })
  const recent: unknown[] = new Array(RECENT_RESULTS)
  let searches = 0
  async function search(seed: number): Promise<number> {
    const hits: Array<{ item: (typeof catalog)[number]; score: number }> = []
    for (let i = 0; i < HITS_PER_SEARCH; i++)
      hits.push({ item: catalog[(seed * 7919 + i) % catalog.length], score: i })
    recent[searches++ % RECENT_RESULTS] = hits
    // Rank after a short wait for more data, as a real search would.
    await sleep(2)
    return hits.length
  }
  return {
    threshold: 100,
    routes: [
      {
        path: '/search/:seed',
        handler: async ({ params }) => ({ hits: await search(Number(params.seed)) }),
      },
    ],
  }
}
