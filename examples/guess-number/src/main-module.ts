import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * Whether the module at `url` is the program node was started with
 * (`import.meta.main` exists only from Node.js 22.18/24.2).
 *
 * @example
 * if (isMainModule(import.meta.url)) await run()
 */
export function isMainModule(url: string): boolean {
  const script = process.argv[1]
  if (!script) return false
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(url))
  } catch {
    return false
  }
}

/** `defaults` with every field of `options` that is not undefined laid over it. */
export function withDefaults<T extends object>(defaults: T, options: Partial<T>): T {
  const out = { ...defaults }
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value
  }
  return out
}
