import { request } from 'undici'
import type { ScenarioApp, ScenarioEnv } from './index.ts'

/**
 * Every request reads three cache entries from a fast service and scores
 * each with a few ms of pure computation. No step is long, but under enough
 * concurrency each continuation queues behind everyone else's: the loop is
 * saturated, and latency grows with the queue.
 */
export function cpuSaturation({ upstream }: ScenarioEnv): ScenarioApp {
  function scoreEntry(seed: number): number {
    let x = seed
    for (let i = 0; i < 400_000; i++) x = (x * 1103515245 + 12345) % 2147483648
    return x
  }
  async function readEntry(key: number): Promise<number> {
    const res = await request(`${upstream}/cache/${key % 16}`)
    await res.body.dump()
    return key
  }
  return {
    routes: [
      {
        path: '/score/:seed',
        handler: async ({ params }) => {
          let score = Number(params.seed)
          for (let step = 0; step < 3; step++) score = scoreEntry(await readEntry(score + step))
          return { score }
        },
      },
    ],
  }
}
