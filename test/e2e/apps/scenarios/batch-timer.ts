import type { ScenarioApp } from './index.ts'

/**
 * Events are acknowledged only once their batch is flushed, and a timer
 * flushes every 500 ms: each request waits for the next tick of that timer.
 */
export function batchTimer(): ScenarioApp {
  let pending: Array<{ id: string; resolve(): void }> = []
  let flushed = 0
  let timer: NodeJS.Timeout | undefined
  function flushBatch(): void {
    const batch = pending
    pending = []
    flushed += batch.length
    for (const item of batch) item.resolve()
  }
  function enqueue(id: string): Promise<void> {
    return new Promise((resolve) => pending.push({ id, resolve }))
  }
  return {
    routes: [
      {
        path: '/events/:id',
        handler: async ({ params }) => {
          await enqueue(params.id)
          return { accepted: params.id, flushed }
        },
      },
    ],
    start() {
      timer = setInterval(flushBatch, 500)
    },
    stop() {
      clearInterval(timer)
    },
  }
}
