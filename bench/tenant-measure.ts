/**
 * The throughput `npm run bench:tenant` compares: creates, polls of a task still processing, and
 * polls of a finished one, in short rounds (medians of ROUNDS), as run.ts measures routes. Given
 * two tenants, each round runs both back to back, in alternating order (A B, then B A), so a
 * machine that slows down or speeds up meanwhile weighs on both alike.
 */
import type { Request as CannonRequest } from 'autocannon'
import { load, type LoadResult } from './load.ts'
import { median } from './report.ts'
import { taskBody, type Tenant } from './tenant-lifecycle.ts'

const CONNECTIONS = 10
const DURATION_SECONDS = 3
const WARMUP_SECONDS = 1
const ROUNDS = 5

export const ROUTES = ['create', 'poll', 'finishedPoll'] as const
export type Route = (typeof ROUTES)[number]
export const LABELS: Record<Route, string> = { create: 'create', poll: 'poll', finishedPoll: 'finished poll' }

export const METHOD = { connections: CONNECTIONS, durationSeconds: DURATION_SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS }

export interface RouteRuns {
  runs: LoadResult[]
  rps: number
  p50: number
  p99: number
  failed: number
}

/** A tenant to measure: the tasks its polls read. */
export interface Target {
  name: string
  tenant: Tenant
  /** Tasks the emulator holds, so they stay processing. */
  processing: readonly string[]
  finished: readonly string[]
}

export interface Phase {
  routes: Record<Route, RouteRuns>
  /** The tasks its create runs made (each still processing: the emulator was quiet). */
  created: string[]
}

/** POST /v1 with a fresh taskUUID per request; the taskUUIDs answered 200 go to `sink`. */
function createRequest(t: Tenant, sink: string[]): CannonRequest {
  return {
    method: 'POST',
    path: '/v1',
    headers: { ...t.auth, 'content-type': 'application/json' },
    // One request in flight per connection, so the connection's context names its task.
    setupRequest: (req, context: { taskUUID?: string }) => {
      context.taskUUID = crypto.randomUUID()
      return { ...req, body: taskBody(context.taskUUID) }
    },
    onResponse: (status, _body, context: { taskUUID?: string }) => {
      if (status === 200 && context.taskUUID) sink.push(context.taskUUID)
    },
  }
}

/** GET /v1/tasks/{id} over `uuids`, in turn. */
function pollRequest(t: Tenant, uuids: readonly string[]): CannonRequest {
  let next = 0
  return {
    method: 'GET',
    path: '/',
    headers: t.auth,
    setupRequest: (req) => ({ ...req, path: `/v1/tasks/${uuids[next++ % uuids.length] ?? ''}` }),
  }
}

const summarize = (runs: LoadResult[]): RouteRuns => ({
  runs,
  rps: median(runs.map((r) => r.rps)),
  p50: median(runs.map((r) => r.p50)),
  p99: median(runs.map((r) => r.p99)),
  failed: runs.reduce((n, r) => n + r.failed, 0),
})

/** A warm-up of each route for each target, then ROUNDS rounds of create, poll and finished poll. */
export async function measure(targets: readonly Target[], say: (line: string) => void): Promise<Phase[]> {
  const created = targets.map((): string[] => [])
  const run = (i: number, route: Route, seconds: number) => {
    const target = targets[i] as Target
    const request =
      route === 'create'
        ? createRequest(target.tenant, created[i] ?? [])
        : pollRequest(target.tenant, route === 'poll' ? target.processing : target.finished)
    return load({ url: target.tenant.gateway.url, connections: CONNECTIONS, durationSeconds: seconds, request })
  }
  const order = targets.map((_, i) => i)
  for (const route of ROUTES) for (const i of order) await run(i, route, WARMUP_SECONDS)
  const runs = targets.map(() => ({ create: [], poll: [], finishedPoll: [] }) as Record<Route, LoadResult[]>)
  for (let round = 0; round < ROUNDS; round++) {
    for (const route of ROUTES) {
      for (const i of round % 2 ? [...order].reverse() : order) runs[i]?.[route].push(await run(i, route, DURATION_SECONDS))
    }
    const line = targets.map((target, i) =>
      ROUTES.map((route) => {
        const r = runs[i]?.[route][round]
        return `${LABELS[route]} ${r?.rps.toFixed(0)}${r?.failed ? ` (${r.failed} non-2xx)` : ''}`
      }).join(', '),
    )
    say(`  round ${round + 1}: ${targets.map((t, i) => `${targets.length > 1 ? `${t.name}: ` : ''}${line[i]}`).join('; ')} req/s`)
  }
  return targets.map((_, i) => {
    const r = runs[i] ?? { create: [], poll: [], finishedPoll: [] }
    return {
      routes: { create: summarize(r.create), poll: summarize(r.poll), finishedPoll: summarize(r.finishedPoll) },
      created: created[i] ?? [],
    }
  })
}

/** Each route's ratio of median throughputs, a/b. */
export const ratios = (a: Phase, b: Phase): Record<Route, number> =>
  Object.fromEntries(ROUTES.map((route) => [route, a.routes[route].rps / b.routes[route].rps])) as Record<Route, number>

/** Each route's median of per-round ratios a/b (rounds measured side by side). */
export const pairedRatios = (a: Phase, b: Phase): Record<Route, number> =>
  Object.fromEntries(
    ROUTES.map((route) => [route, median(a.routes[route].runs.map((r, i) => r.rps / (b.routes[route].runs[i]?.rps ?? Infinity)))]),
  ) as Record<Route, number>
