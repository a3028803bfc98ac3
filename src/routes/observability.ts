/**
 * Request ids, trace context, and a structured log line per request (per successful read only
 * when slow or asked for: lib/request-log): route pattern, status, duration, tenant, trace id.
 * Never a URL (signed URLs and webhook tokens live in query strings), never a key.
 */
import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { matchedRoutes } from 'hono/route'
import type { AppEnv } from '../app-env'
import { log } from '../lib/log'
import { logsRequest } from '../lib/request-log'
import { newTraceparent, traceIdOf, validTraceparent } from '../lib/trace'
import { ConfigError, readConfig } from '../config/config'

const SAFE_ID = /^[\w.:-]{1,128}$/

/** The request id, and the time spent, on the response. */
function stamp(c: Context<AppEnv>, id: string, durationMs: number): void {
  try {
    c.res.headers.set('x-request-id', id)
    const path = c.req.path
    if (path.startsWith('/v1') || path.startsWith('/admin')) c.res.headers.set('server-timing', `total;dur=${durationMs}`)
  } catch {
    // Immutable headers (a response passed through as-is): copy it once.
    c.res = new Response(c.res.body, c.res)
    c.res.headers.set('x-request-id', id)
  }
}

export const observability = createMiddleware<AppEnv>(async (c, next) => {
  const given = c.req.header('x-request-id')
  const id = given && SAFE_ID.test(given) ? given : crypto.randomUUID()
  // The client's trace goes on to Runware and to the task's webhooks; a request without one starts one.
  const traceparent = validTraceparent(c.req.header('traceparent')) ?? newTraceparent()
  c.set('traceparent', traceparent)
  const started = performance.now()
  await next()
  // In Workers the clock only moves across I/O, so this is the time spent waiting on it.
  const durationMs = Math.round(performance.now() - started)
  // A WebSocket upgrade (101) passes through untouched: it cannot be copied.
  if (c.res.status !== 101) stamp(c, id, durationMs)
  const config = readConfig(c.env)
  // With a bad configuration everything is logged: that is when operators need it most.
  if (!logsRequest(c.req.method, c.res.status, durationMs, config instanceof ConfigError || config.LOG_READS)) return
  // The handler's pattern: middleware (method ALL) matches everything and says nothing.
  const route = matchedRoutes(c).findLast((r) => r.method !== 'ALL')?.path ?? '*'
  // A failed request's line goes to the error stream, so Workers Logs files it under errors too.
  log(c.res.status >= 500 ? 'error' : 'info', 'request', {
    id,
    traceId: traceIdOf(traceparent),
    method: c.req.method,
    route,
    status: c.res.status,
    durationMs,
    ...(c.get('tenant') ? { tenant: c.get('tenant') } : {}),
  })
})
