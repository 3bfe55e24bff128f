/**
 * Privacy by default: what a URL may leave in the trace. Query strings and
 * fragments are cut unless allowed; user info in absolute URLs always is.
 */
export function pathOf(url: string, keepQuery: boolean): string {
  if (!url.startsWith('/')) url = withoutUserInfo(url)
  if (keepQuery) return url
  const q = url.indexOf('?')
  const h = url.indexOf('#')
  const cut = q === -1 ? h : h === -1 ? q : Math.min(q, h)
  return cut === -1 ? url : url.slice(0, cut)
}

/** `scheme://user:pass@host/...` without `user:pass@`; anything else unchanged. */
function withoutUserInfo(url: string): string {
  const scheme = url.indexOf('://')
  if (scheme === -1) return url
  const authorityEnd = url.slice(scheme + 3).search(/[/?#]/)
  const authority =
    authorityEnd === -1 ? url.slice(scheme + 3) : url.slice(scheme + 3, scheme + 3 + authorityEnd)
  const at = authority.lastIndexOf('@')
  if (at === -1) return url
  return url.slice(0, scheme + 3) + url.slice(scheme + 3 + at + 1)
}

/** origin + path of an outgoing call, without credentials (and without query unless allowed). */
export function outgoingUrl(origin: string, path: string, keepQuery: boolean): string {
  let o = withoutUserInfo(origin)
  if (o.endsWith('/') && path.startsWith('/')) o = o.slice(0, -1)
  return o + pathOf(path, keepQuery)
}
