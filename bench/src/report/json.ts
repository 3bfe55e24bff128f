const lineWidth = 100

/**
 * JSON as the repository's formatter (biome) lays it out, so the committed
 * results file passes `pnpm lint` as written: objects one key per line, arrays
 * of plain values on one line when it fits in 100 columns.
 */
export function formatJson(value: unknown): string {
  return `${layout(value, '', 0)}\n`
}

function layout(value: unknown, indent: string, used: number): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]'
    const plain = value.every((v) => v === null || typeof v !== 'object')
    if (plain) {
      const inline = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`
      if (used + inline.length <= lineWidth) return inline
    }
    const inner = `${indent}  `
    const items = value.map((v) => `${inner}${layout(v, inner, inner.length)}`)
    return `[\n${items.join(',\n')}\n${indent}]`
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    if (entries.length === 0) return '{}'
    const inner = `${indent}  `
    const lines = entries.map(([key, v]) => {
      const head = `${inner}${JSON.stringify(key)}: `
      return `${head}${layout(v, inner, head.length)}`
    })
    return `{\n${lines.join(',\n')}\n${indent}}`
  }
  return JSON.stringify(value) ?? 'null'
}
