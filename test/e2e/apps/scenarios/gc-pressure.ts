import { setTimeout as sleep } from 'node:timers/promises'
import type { ScenarioApp } from './index.ts'

/**
 * A search service with a large catalog in memory, in a container with a
 * memory limit and one CPU (the test runs it with --max-old-space-size=384
 * and --single-threaded-gc). Each search allocates a big array of result
 * slots and keeps it across an await; those arrays land in the old
 * generation, which is already nearly full with the catalog, so the
 * collector runs full mark-compacts over the whole catalog again and again,
 * and the requests in flight wait for it.
 */
export function gcPressure(): ScenarioApp {
  const catalog: Array<{ id: number; title: string; tags: number[] }> = []
  for (let id = 0; id < 1_500_000; id++)
    catalog.push({ id, title: `item ${id}`, tags: [id % 7, id % 11] })
  async function search(seed: number): Promise<number> {
    const slots = new Array<(typeof catalog)[number] | undefined>(200_000)
    slots[0] = catalog[seed % catalog.length]
    // Rank after a short wait for more data, as a real search would.
    await sleep(2)
    return slots.length
  }
  return {
    routes: [
      {
        path: '/search/:seed',
        handler: async ({ params }) => ({ slots: await search(Number(params.seed)) }),
      },
    ],
  }
}
