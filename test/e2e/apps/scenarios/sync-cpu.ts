import type { ScenarioApp } from './index.ts'

/** A report route that computes synchronously for a few hundred ms: the loop is blocked meanwhile. */
export function syncCpu(): ScenarioApp {
  /** Counts primes below `limit` by trial division: pure JavaScript on the event loop. */
  function countPrimes(limit: number): number {
    let count = 0
    for (let n = 2; n < limit; n++) {
      let prime = true
      for (let d = 2; d * d <= n; d++) {
        if (n % d === 0) {
          prime = false
          break
        }
      }
      if (prime) count++
    }
    return count
  }
  return {
    routes: [
      { path: '/report', handler: () => ({ primes: countPrimes(3_000_000) }) },
      { path: '/health', handler: () => ({ ok: true }) },
    ],
  }
}
