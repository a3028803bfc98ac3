/** GET /healthz — liveness, and configuration problems named without their values. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ConfigError, readConfig } from '../config/config'

export const healthRoutes = new Hono<AppEnv>().get('/healthz', (c) => {
  const config = readConfig(c.env)
  if (config instanceof ConfigError) return c.json({ status: 'misconfigured', problems: config.problems }, 503)
  return c.json({ status: 'ok', environment: config.ENVIRONMENT, uploadMode: config.UPLOAD_MODE })
})
