/**
 * The throughput `npm run bench:tenant` compares before and after a tenant's history: creates,
 * polls of a task still processing, and polls of a finished one, in short alternating rounds
 * (medians of ROUNDS), as run.ts measures routes.
 */
import type { Request as CannonRequest } from 'autocannon'
import { load, type LoadResult } from './load.ts'
import { median } from './report.ts'
import { AUTH, JSON_AUTH, taskBody } from './tenant-lifecycle.ts'
import type { RunningWorker } from './workers.ts'

const CONNECTIONS = 10
const DURATION_SECONDS = 3
const WARMUP_SECONDS = 1
const ROUNDS = 5

export const ROUTES = ['create', 'poll', 'finishedPoll'] as const
export type Route = (typeof ROUTES)[number]
export const LABELS: Record<Route, string> = { create: 'create', poll: 'poll', finishedPoll: 'finished poll' }

export interface RouteRuns {
  runs: LoadResult[]
  rps: number
  p50: number
  p99: number
  failed: number
}

export interface Phase {
  routes: Record<Route, RouteRuns>
  /** The tasks the create runs made (each still processing: the emulator was quiet). */
  created: string[]
}

export const METHOD = { connections: CONNECTIONS, durationSeconds: DURATION_SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS }

/** POST /v1 with a fresh taskUUID per request; the taskUUIDs answered 200 go to `sink`. */
function createRequest(sink: string[]): CannonRequest {
  return {
    method: 'POST',
    path: '/v1',
    headers: JSON_AUTH,
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
function pollRequest(uuids: readonly string[]): CannonRequest {
  let next = 0
  return {
    method: 'GET',
    path: '/',
    headers: AUTH,
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

/** A warm-up of each route, then ROUNDS rounds of create, poll and finished poll. */
export async function measure(
  gateway: RunningWorker,
  targets: { processing: readonly string[]; finished: readonly string[] },
  say: (line: string) => void,
): Promise<Phase> {
  const created: string[] = []
  const requests: Record<Route, () => CannonRequest> = {
    create: () => createRequest(created),
    poll: () => pollRequest(targets.processing),
    finishedPoll: () => pollRequest(targets.finished),
  }
  const run = (route: Route, seconds: number) =>
    load({ url: gateway.url, connections: CONNECTIONS, durationSeconds: seconds, request: requests[route]() })
  for (const route of ROUTES) await run(route, WARMUP_SECONDS)
  const runs: Record<Route, LoadResult[]> = { create: [], poll: [], finishedPoll: [] }
  for (let i = 0; i < ROUNDS; i++) {
    for (const route of ROUTES) runs[route].push(await run(route, DURATION_SECONDS))
    const line = ROUTES.map((route) => {
      const r = runs[route][i]
      return `${LABELS[route]} ${r?.rps.toFixed(0)}${r?.failed ? ` (${r.failed} non-2xx)` : ''}`
    })
    say(`  round ${i + 1}: ${line.join(', ')} req/s`)
  }
  return {
    routes: { create: summarize(runs.create), poll: summarize(runs.poll), finishedPoll: summarize(runs.finishedPoll) },
    created,
  }
}

/** Each route's end/start ratio of median throughput. */
export const ratios = (start: Phase, end: Phase): Record<Route, number> =>
  Object.fromEntries(ROUTES.map((route) => [route, end.routes[route].rps / start.routes[route].rps])) as Record<Route, number>
