import { relative } from 'node:path'
import type { CodeLocation } from './samples.ts'

/** A duration for people: 850 µs, 12.3 ms, 1.24 s. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '?'
  if (ms < 1) return `${Math.round(ms * 1000)} µs`
  if (ms < 100) return `${ms.toFixed(1)} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}

/** Bytes for people: 25.2 MB. */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '?'
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} kB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

export function percent(share: number): string {
  return `${Math.round(share * 100)}%`
}

/** `fn (file:line)`, the file shortened against the working directory. */
export function where(loc: CodeLocation | null | undefined, cwd = process.cwd()): string {
  if (!loc) return 'unknown code'
  const file = shortFile(loc.file, cwd)
  if (!file) return loc.function
  return `${loc.function} (${file}${loc.line > 0 ? `:${loc.line}` : ''})`
}

export function shortFile(file: string, cwd = process.cwd()): string {
  if (!file) return ''
  if (file.startsWith('/') && file.startsWith(cwd)) {
    const rel = relative(cwd, file)
    if (!rel.startsWith('..')) return rel
  }
  return file
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** Wraps text to `width` columns, indenting every line by `indent`. */
export function wrap(text: string, width: number, indent = '', firstIndent = indent): string {
  const words = text.split(/\s+/).filter(Boolean)
  const lines: string[] = []
  let line = firstIndent
  let empty = true
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line)
      line = indent + word
    } else {
      line += (empty ? '' : ' ') + word
    }
    empty = false
  }
  if (!empty) lines.push(line)
  return lines.join('\n')
}

/** ANSI styling that is the identity when colour is off. */
export interface Style {
  bold(text: string): string
  dim(text: string): string
  red(text: string): string
  yellow(text: string): string
  cyan(text: string): string
}

export function style(colour: boolean): Style {
  const sgr = (open: number, close: number) => (text: string) =>
    colour ? `\x1b[${open}m${text}\x1b[${close}m` : text
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
  }
}
