/** GET /v1/usage — the caller's images and settled cost, by day and model. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import { issuesToErrors } from '../schemas/issues'
import { usageQuerySchema } from '../schemas/usage'
import type { Ledger } from '../tenant/budgets'
import { requireTenant, services } from './middleware'

/** Parses the query and reads one tenant's usage; shared with the admin API. */
export async function usageOf(ledger: Ledger, tenant: string, query: Record<string, string>) {
  const parsed = usageQuerySchema.safeParse(query)
  if (!parsed.success)
    throw issuesToErrors(parsed.error.issues, query)[0] ?? new ApiError(400, { code: 'invalidParameter', message: 'Bad query' })
  const { from, to } = parsed.data
  const usage = await ledger.usage(tenant, from, to)
  return { tenant, from, to, images: usage.images, costUSD: usage.costUSD, days: usage.rows }
}

export const usageRoutes = new Hono<AppEnv>()
  .use('*', requireTenant)
  .get('/', async (c) => c.json({ data: await usageOf(services(c).ledger, c.get('tenant'), c.req.query()) }))
