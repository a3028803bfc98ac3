/** Middleware shared by the routes: services per request, and API key authentication. */
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import { bearerToken, tenantForKey } from '../services/auth'
import { requireConfig } from '../services/config'
import { buildServices } from '../services/container'

/** Validates configuration (once per isolate) and builds this request's services. */
export const withServices = createMiddleware<AppEnv>(async (c, next) => {
  const config = requireConfig(c.env)
  c.set('services', buildServices(c.env, config, { origin: new URL(c.req.url).origin, waitUntil: (p) => c.executionCtx.waitUntil(p) }))
  await next()
})

export const unauthorized = () =>
  new ApiError(401, { code: 'invalidApiKey', message: 'A valid gateway API key is required: Authorization: Bearer <key>' })

/** Requires `Authorization: Bearer <gateway key>` and sets the caller's tenant. */
export const requireTenant = createMiddleware<AppEnv>(async (c, next) => {
  const key = bearerToken(c.req.header('authorization'))
  const tenant = key ? await tenantForKey(c.var.services.config, key) : null
  if (!tenant) throw unauthorized()
  c.set('tenant', tenant)
  await next()
})
