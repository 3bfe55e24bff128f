import type { Block, Context } from '../context.ts'
import { duration, plural, where } from '../format.ts'
import { type Finding, type FindingsInput, ms } from './types.ts'

interface Group {
  block: Block
  blocks: Set<Block>
  micros: number
  requests: Set<number>
}

/**
 * Synchronous work that held the event loop: stalls and long busy runs,
 * grouped by the function the CPU samples inside them point at. Latency
 * explained: the time slow requests spent behind them; in a snapshot with no
 * slow request (a stall trigger), each block's own length, since every
 * request arriving then waited for it, though none was measured.
 */
export function blockedLoop({ ctx, explained }: FindingsInput): Finding[] {
  const groups = new Map<string, Group>()
  const group = (block: Block): Group => {
    const key = block.culprit
      ? `${block.culprit.function}@${block.culprit.file}:${block.culprit.line}`
      : `self:${block.self ?? '?'}`
    let g = groups.get(key)
    if (!g) {
      g = { block, blocks: new Set(), micros: 0, requests: new Set() }
      groups.set(key, g)
    }
    g.blocks.add(block)
    return g
  }
  for (const ex of explained) {
    for (const part of ex.parts) {
      if (part.kind !== 'blocked-loop' || !part.block) continue
      const g = group(part.block)
      g.micros += part.micros
      g.requests.add(ex.request.id)
    }
  }
  // With no slow request to measure by, a block's own length is the latency it caused:
  // of the block that triggered the snapshot if a stall did, else of every block.
  if (explained.length === 0) {
    for (const block of triggeringBlocks(ctx)) group(block).micros += block.end - block.start
  }
  const findings: Finding[] = []
  for (const g of groups.values()) {
    const blocks = [...g.blocks]
    const longest = blocks.reduce((a, b) => (b.end - b.start > a.end - a.start ? b : a))
    const total = blocks.reduce((sum, b) => sum + b.end - b.start, 0)
    const c = g.block.culprit
    const who = c ? where(c) : `native code (${g.block.self ?? 'unknown'})`
    const self =
      g.block.self && c && g.block.self !== c.function ? `, most samples in ${g.block.self}` : ''
    const n = g.requests.size
    const times =
      blocks.length > 1 ? ` (${blocks.length} times, ${duration(ms(total))} in all)` : ''
    const victims =
      n > 0
        ? `${plural(n, 'slow request')} waited ${duration(ms(g.micros))} for it.`
        : 'No request in the window was in progress then, but any that arrived waited for it.'
    findings.push({
      kind: 'blocked-loop',
      summary:
        `${who} ran synchronously for ${duration(ms(longest.end - longest.start))}${times}${self}, ` +
        `blocking the event loop: nothing else ran meanwhile. ${victims} ` +
        'Move the work off the loop (a worker thread, smaller chunks, a streaming API).',
      culprit: c ? { function: c.function, file: c.file, line: c.line } : null,
      waitedOn: null,
      requests: n,
      ms: ms(g.micros),
      evidence: 'samples',
    })
  }
  return findings
}

/**
 * The blocks a stall-triggered snapshot is about: those that ended at most a
 * heartbeat or two before the trigger fired. Every block, if the trigger was
 * not a stall.
 */
function triggeringBlocks(ctx: Context): Block[] {
  const stallMs = ctx.model.meta.trigger?.stallMs
  const instant = ctx.model.triggers[ctx.model.triggers.length - 1]
  if (typeof stallMs !== 'number' || !instant) return ctx.blocks
  // The heartbeat's overdue beat notices a stall as soon as the loop is free, then the trigger fires.
  const lag = 50_000
  return ctx.blocks.filter(
    (b) => b.end <= instant.ts + 1000 && b.end >= instant.ts - stallMs * 1000 - lag,
  )
}
