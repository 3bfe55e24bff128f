/**
 * Formats ms the way Go's time.Duration prints (625ns, 1.417µs,
 * 115.186167ms, 1.5s), so the log lines read like the blog's.
 *
 * @example
 * formatGoDuration(115.186167) // '115.186167ms'
 */
export function formatGoDuration(ms: number): string {
  const ns = Math.round(ms * 1e6)
  if (ns < 1000) return `${ns}ns`
  if (ns < 1e6) return `${trim(ns / 1e3)}µs`
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`
  return `${trim(ns / 1e9)}s`
}

function trim(x: number): string {
  return x.toFixed(6).replace(/\.?0+$/, '')
}
