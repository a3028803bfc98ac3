/** Medians, ratios and the tables `npm run bench` prints. */
import type { LoadResult } from './load.ts'

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

export interface RouteSummary {
  route: string
  rounds: { gateway: LoadResult; baseline: LoadResult }[]
  gatewayRps: number
  baselineRps: number
  /** The median of the per-round ratios (each round's gateway run beside its baseline run). */
  ratio: number
  gatewayP50: number
  gatewayP99: number
  baselineP50: number
  baselineP99: number
  addedP50: number
  failed: number
  /** The least ratio the issue accepts. */
  required: number
}

export function summarize(route: string, rounds: RouteSummary['rounds'], required: number): RouteSummary {
  const gw = rounds.map((r) => r.gateway)
  const bl = rounds.map((r) => r.baseline)
  const gatewayP50 = median(gw.map((r) => r.p50))
  const baselineP50 = median(bl.map((r) => r.p50))
  return {
    route,
    rounds,
    gatewayRps: median(gw.map((r) => r.rps)),
    baselineRps: median(bl.map((r) => r.rps)),
    ratio: median(rounds.map((r) => r.gateway.rps / r.baseline.rps)),
    gatewayP50,
    gatewayP99: median(gw.map((r) => r.p99)),
    baselineP50,
    baselineP99: median(bl.map((r) => r.p99)),
    addedP50: gatewayP50 - baselineP50,
    failed: [...gw, ...bl].reduce((n, r) => n + r.failed, 0),
    required,
  }
}

const fixed = (n: number, digits = 0) => n.toFixed(digits)

/** A plain-text table; columns are right-aligned except the first. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n')
}

export function routeTable(s: RouteSummary): string {
  const verdict = s.ratio >= s.required ? 'ok' : 'BELOW'
  const rows = s.rounds.map((r, i) => [
    `round ${i + 1}`,
    fixed(r.gateway.rps),
    fixed(r.baseline.rps),
    fixed(r.gateway.rps / r.baseline.rps, 2),
    `${r.gateway.p50}/${r.gateway.p99}`,
    `${r.baseline.p50}/${r.baseline.p99}`,
  ])
  rows.push([
    'median',
    fixed(s.gatewayRps),
    fixed(s.baselineRps),
    fixed(s.ratio, 2),
    `${s.gatewayP50}/${s.gatewayP99}`,
    `${s.baselineP50}/${s.baselineP99}`,
  ])
  return [
    `${s.route}: ratio ${fixed(s.ratio, 2)} (needs ≥ ${s.required}: ${verdict}), added p50 ${fixed(s.addedP50, 1)} ms${s.failed ? `, ${s.failed} non-2xx` : ''}`,
    table(['', 'gateway req/s', 'baseline req/s', 'ratio', 'gateway p50/p99 ms', 'baseline p50/p99 ms'], rows),
  ].join('\n')
}
