/** Middleware shared by the routes: services per request, and API key authentication. */
import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import { memo } from '../lib/memo'
import { bearerToken } from '../access/api-keys'
import { setRateLimitHeaders } from '../access/rate-limits'
import { requireConfig } from '../config/config'
import { buildServices, type Services } from '../services'

/** `scheme://host[:port]` of an absolute URL, without parsing all of it. */
const originOf = (url: string) => {
  const end = url.indexOf('/', url.indexOf('//') + 2)
  return end === -1 ? url : url.slice(0, end)
}

/**
 * This request's services, built on first use; configuration is validated once per isolate
 * (a 503 naming the bad settings). An accessor rather than a middleware: every middleware layer
 * costs every request, and a route that fails before needing services never builds them.
 */
export function services(c: Context<AppEnv>): Services {
  return memo(c, 'services', () =>
    buildServices(c.env, requireConfig(c.env), {
      origin: originOf(c.req.url),
      waitUntil: (p) => c.executionCtx.waitUntil(p),
      traceparent: c.get('traceparent'),
    }),
  )
}

/** The origin clients reach the gateway at, even when its configuration is broken (for error pages). */
export function publicOrigin(c: Context<AppEnv>): string {
  try {
    return services(c).origin
  } catch {
    return originOf(c.req.url)
  }
}

/** The caller's address, as Cloudflare saw it. */
export const clientIp = (c: Context<AppEnv>) => c.req.header('cf-connecting-ip') ?? 'unknown'

/** The 404 for a path no route serves (the admin API's too, when it is turned off). */
export const noRoute = (c: Context<AppEnv>) =>
  new ApiError(404, { code: 'notFound', message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` })

/** Runware's 401, with the parameter and task type its errors page shows. */
export const unauthorized = () =>
  new ApiError(401, {
    code: 'invalidApiKey',
    message: 'A valid gateway API key is required: Authorization: Bearer <key>',
    parameter: 'apiKey',
    taskType: 'authentication',
  })

/** Authenticates a key (null: 401) and counts the request against its rate limit (429). */
export async function admit(c: Context<AppEnv>, key: string | null): Promise<number> {
  const { keys, rateLimits } = services(c)
  const principal = key ? await keys.resolve(key) : null
  if (!principal) {
    await rateLimits.guard('unauthenticated', clientIp(c))
    throw unauthorized()
  }
  c.set('principal', principal)
  c.set('tenant', principal.tenant)
  return rateLimits.enforce(principal)
}

/** Requires `Authorization: Bearer <gateway key>`; sets the caller's tenant and key limits. */
export const requireTenant = createMiddleware<AppEnv>(async (c, next) => {
  const limit = await admit(c, bearerToken(c.req.header('authorization')))
  await next()
  setRateLimitHeaders(c.res.headers, limit)
})
