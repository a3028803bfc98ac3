/** The Hono app: global middleware, one error envelope, and the route mounts. */
import { Hono, type MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'
import type { AppEnv } from './app-env'
import { errorResponse } from './lib/envelope'
import { ApiError, internalError } from './lib/errors'
import { log } from './lib/log'
import { memo } from './lib/memo'
import { ConfigError, readConfig } from './config/config'
import { adminRoutes } from './routes/admin'
import { clientWebhookRoutes } from './routes/client-webhooks'
import { fileRoutes } from './routes/files'
import { healthRoutes } from './routes/health'
import { imageRoutes } from './routes/images'
import { noRoute, publicOrigin } from './routes/middleware'
import { modelRoutes } from './routes/models'
import { observability } from './routes/observability'
import { runwareRoutes } from './routes/runware'
import { taskRoutes } from './routes/tasks'
import { uploadRoutes } from './routes/uploads'
import { usageRoutes } from './routes/usage'
import { webhookRoutes } from './routes/webhooks'

/** CORS for the configured origins, built once per configuration rather than per request. */
const corsByConfig = new WeakMap<object, MiddlewareHandler | null>()
function corsFor(config: ReturnType<typeof readConfig>): MiddlewareHandler | null {
  return memo(corsByConfig, config, () => {
    const origins = config instanceof ConfigError ? [] : config.CORS_ORIGINS
    return origins.length
      ? cors({ origin: origins.includes('*') ? '*' : origins, exposeHeaders: ['retry-after', 'content-range', 'etag', 'x-request-id'] })
      : null
  })
}

export const app = new Hono<AppEnv>()

app.use('*', observability)
app.use('*', (c, next) => {
  const handler = corsFor(readConfig(c.env))
  return handler ? handler(c, next) : next()
})

// Health and the model list work even when the configuration is bad; everything else needs it.
app.route('/', healthRoutes)
app.route('/v1/models', modelRoutes)

const api = new Hono<AppEnv>()
  .route('/v1', runwareRoutes)
  .route('/v1/tasks', taskRoutes)
  .route('/v1/images', imageRoutes)
  .route('/v1/webhooks', clientWebhookRoutes)
  .route('/v1/usage', usageRoutes)
  .route('/admin', adminRoutes)
  .route('/files', fileRoutes)
  .route('/uploads', uploadRoutes)
  .route('/webhooks', webhookRoutes)
app.route('/', api)

/** The API's type, for typed calls with `hono/client` (see client/). */
export type AppType = typeof api

app.notFound((c) => errorResponse(noRoute(c), publicOrigin(c)))

app.onError((error, c) => {
  if (error instanceof ApiError) return errorResponse(error, publicOrigin(c))
  // Unknown errors are logged for operators (name and message only) and never shown to clients.
  log('error', 'unhandled', { path: new URL(c.req.url).pathname, error: String(error) })
  return errorResponse(internalError(), publicOrigin(c))
})
