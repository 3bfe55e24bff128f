/**
 * Privacy by default: what a URL may leave in the trace. Query strings and
 * fragments are cut unless allowed; user info in absolute URLs always is.
 */
export function pathOf(url: string, keepQuery: boolean): string {
  if (keepQuery) return url
  const q = url.indexOf('?')
  const h = url.indexOf('#')
  const cut = q === -1 ? h : h === -1 ? q : Math.min(q, h)
  return cut === -1 ? url : url.slice(0, cut)
}

/** origin + path of an outgoing call, without credentials (and without query unless allowed). */
export function outgoingUrl(origin: string, path: string, keepQuery: boolean): string {
  let o = origin
  const at = o.indexOf('@')
  if (at !== -1) {
    const scheme = o.indexOf('://')
    o = o.slice(0, scheme + 3) + o.slice(at + 1)
  }
  if (o.endsWith('/') && path.startsWith('/')) o = o.slice(0, -1)
  return o + pathOf(path, keepQuery)
}
