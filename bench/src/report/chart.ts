import { configurations } from '../configurations.ts'
import type { TargetSummary } from '../results.ts'

const colors: Record<string, string> = {
  'flightrec-default': '#2f6fb3',
  'flightrec-causal': '#7b4fc2',
  'flightrec-sampler-1ms': '#5fa8d3',
  'v8-profiler': '#9bc4a6',
  opentelemetry: '#d9782b',
  'pprof-wall': '#7a8594',
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * Renders the throughput ratio to bare of every configuration, one group of
 * horizontal bars per server route, as a self-contained SVG (plain strings,
 * no dependencies). A solid line marks bare (1.0), a dashed one 0.97.
 */
export function throughputChart(summaries: readonly TargetSummary[], subtitle: string): string {
  const measured = new Set(summaries.flatMap((t) => t.configurations.map((c) => c.configuration)))
  const shown = configurations.filter((c) => c.name !== 'bare' && measured.has(c.name))
  const barHeight = 11
  const barGap = 2
  const groupGap = 16
  const left = 150
  const plotWidth = 560
  const top = 82
  const groupHeight = shown.length * (barHeight + barGap) - barGap
  const height = top + summaries.length * (groupHeight + groupGap) + 40
  const width = left + plotWidth + 70
  const ratios = summaries.flatMap((t) => t.configurations.map((c) => c.throughputRatio))
  const xMax = Math.max(1.1, Math.ceil(Math.max(...ratios.filter(Number.isFinite)) * 10) / 10)
  const xOf = (ratio: number) => left + (Math.max(0, ratio) / xMax) * plotWidth
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">Throughput relative to bare (higher is better)</text>`,
    `<text x="${left}" y="36" fill="#555">${escapeXml(subtitle)}</text>`,
  )
  let legendX = left
  for (const c of shown) {
    parts.push(
      `<rect x="${legendX}" y="46" width="10" height="10" fill="${colors[c.name]}"/>`,
      `<text x="${legendX + 14}" y="55">${escapeXml(c.label)}</text>`,
    )
    legendX += 14 + c.label.length * 7 + 20
  }
  const plotBottom = height - 30
  for (let tick = 0; tick <= xMax + 1e-9; tick += 0.2) {
    const x = xOf(tick)
    parts.push(
      `<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${plotBottom}" stroke="#e3e3e3"/>`,
      `<text x="${x}" y="${plotBottom + 14}" text-anchor="middle" fill="#555">${tick.toFixed(1)}</text>`,
    )
  }
  summaries.forEach((target, i) => {
    const y0 = top + i * (groupHeight + groupGap)
    parts.push(
      `<text x="${left - 8}" y="${y0 + groupHeight / 2 + 4}" text-anchor="end">${escapeXml(`${target.server} ${target.route}`)}</text>`,
    )
    shown.forEach((c, j) => {
      const summary = target.configurations.find((s) => s.configuration === c.name)
      if (!summary) return
      const y = y0 + j * (barHeight + barGap)
      const ratio = summary.throughputRatio
      parts.push(
        `<rect x="${left}" y="${y}" width="${(xOf(ratio) - left).toFixed(1)}" height="${barHeight}" fill="${colors[c.name]}"><title>${escapeXml(`${target.server} ${target.route}, ${c.label}: ${ratio.toFixed(3)}x`)}</title></rect>`,
        `<text x="${(xOf(ratio) + 4).toFixed(1)}" y="${y + barHeight - 2}" font-size="9" fill="#333">${ratio.toFixed(2)}</text>`,
      )
    })
  })
  parts.push(
    `<line x1="${xOf(1)}" y1="${top - 6}" x2="${xOf(1)}" y2="${plotBottom}" stroke="#222" stroke-width="1.2"/>`,
    `<line x1="${xOf(0.97)}" y1="${top - 6}" x2="${xOf(0.97)}" y2="${plotBottom}" stroke="#222" stroke-dasharray="3,3"/>`,
    `<text x="${xOf(1) + 3}" y="${top - 8}" font-size="9" fill="#222">bare</text>`,
    '</svg>',
  )
  return `${parts.join('\n')}\n`
}
