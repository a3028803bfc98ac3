/** GET /v1/usage — the caller's images and settled cost, by day and model. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { validate } from '../schemas/issues'
import { usageQuerySchema } from '../schemas/usage'
import { usageReport } from '../tenant/budgets'
import type { Services } from '../services'
import { requireTenant, services } from './middleware'

/** Parses the query and reads one tenant's usage; shared with the admin API. */
export async function usageOf({ tenants }: Services, tenant: string, query: Record<string, string>) {
  const { from, to } = validate(usageQuerySchema, query)
  return { tenant, from, to, ...usageReport(await tenants.usage(tenant, from, to)) }
}

export const usageRoutes = new Hono<AppEnv>()
  .use('*', requireTenant)
  .get('/', async (c) => c.json({ data: await usageOf(services(c), c.get('tenant'), c.req.query()) }))
