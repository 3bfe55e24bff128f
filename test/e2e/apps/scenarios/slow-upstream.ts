import { request } from 'undici'
import type { ScenarioApp, ScenarioEnv } from './index.ts'

/** A quote service whose upstream answers slowly: every request waits on its own call. */
export function slowUpstream({ upstream }: ScenarioEnv): ScenarioApp {
  async function fetchQuote(symbol: string): Promise<unknown> {
    const res = await request(`${upstream}/quotes/${encodeURIComponent(symbol)}`)
    return res.body.json()
  }
  return {
    routes: [
      {
        path: '/quote/:symbol',
        handler: async ({ params }) => ({ quote: await fetchQuote(params.symbol) }),
      },
      { path: '/health', handler: () => ({ ok: true }) },
    ],
  }
}
