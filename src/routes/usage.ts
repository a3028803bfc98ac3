/** GET /v1/usage — the caller's images and settled cost, by day, key and model, with its budgets; and its budget alerts. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ALERT_LOG } from '../lib/storage-keys'
import { validate } from '../schemas/issues'
import { usageQuerySchema } from '../schemas/usage'
import { budgetReport, usageReport } from '../tenant/budgets'
import type { Services } from '../services'
import { requireTenant, services } from './middleware'

/** Parses the query and reads one tenant's usage, with where its budgets stand; shared with the admin API. */
export async function usageOf({ tenants, keys }: Services, tenant: string, query: Record<string, string>) {
  const { from, to, groupBy } = validate(usageQuerySchema, query)
  const [rows, budgets] = await Promise.all([tenants.usage(tenant, from, to), tenants.budgets(tenant)])
  // Keys are named by id and name (never by secret): only the keys shown are read.
  const shown = [...(groupBy.includes('key') ? rows.map((r) => r.key) : []), ...budgets.map((b) => b.keyId ?? '')].filter(Boolean)
  const names = await keys.names(tenant, shown)
  const named = new Map(names.map((k) => [k.id, k.name]))
  return {
    tenant,
    from,
    to,
    ...usageReport(rows, groupBy, names),
    budgets: budgets.map((b) => ({ ...budgetReport(b), ...(b.keyId ? { name: named.get(b.keyId) ?? null } : {}) })),
  }
}

export const usageRoutes = new Hono<AppEnv>()
  .use('*', requireTenant)
  .get('/', async (c) => c.json({ data: await usageOf(services(c), c.get('tenant'), c.req.query()) }))
  // The budget threshold events sent to this tenant's alert URLs, with every attempt (replay them by id).
  .get('/alerts', async (c) => {
    const records = await services(c).deliveryLog.list(c.get('tenant'), ALERT_LOG)
    return c.json({ data: records.map(({ message: _, ...shown }) => shown) })
  })
