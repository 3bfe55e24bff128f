import { Mutex } from 'async-mutex'
import { request } from 'undici'
import type { ScenarioApp, ScenarioEnv } from './index.ts'

/**
 * Deposits serialized by one lock that is held across a call to the ledger
 * service: concurrent requests queue behind each other's calls.
 */
export function lockConvoy({ upstream }: ScenarioEnv): ScenarioApp {
  const accountLock = new Mutex()
  let balance = 0
  async function recordDeposit(amount: number): Promise<void> {
    const res = await request(`${upstream}/ledger`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount }),
    })
    await res.body.dump()
  }
  return {
    routes: [
      {
        path: '/accounts/:id/deposit',
        handler: async () => {
          return accountLock.runExclusive(async () => {
            await recordDeposit(10)
            balance += 10
            return { balance }
          })
        },
      },
    ],
  }
}
