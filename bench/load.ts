/** Load from autocannon: fixed connections and duration, one result per run. */
import autocannon, { type Request as CannonRequest } from 'autocannon'

export interface LoadSpec {
  url: string
  connections: number
  durationSeconds: number
  /** One request template; `setupRequest` may rewrite it per request (fresh UUIDs, rotating paths). */
  request: CannonRequest
}

export interface LoadResult {
  rps: number
  p50: number
  p99: number
  requests: number
  /** Requests that did not get a 2xx (errors, timeouts and non-2xx answers). */
  failed: number
}

export async function load(spec: LoadSpec): Promise<LoadResult> {
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSeconds,
    requests: [spec.request],
    // Fresh bodies per request: no pipelining, so every request waits for its own answer.
    pipelining: 1,
  })
  const ok = result['2xx']
  return {
    rps: ok / spec.durationSeconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    failed: result.non2xx + result.errors + result.timeouts,
  }
}
