/** /admin — managed keys and tenant usage, behind ADMIN_TOKEN (absent: these routes don't exist). */
import { Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../app-env'
import { sha256Bytes } from '../lib/crypto'
import { ApiError } from '../lib/errors'
import { readCapped } from '../lib/streams'
import { createKeySchemaFor, TENANT_ID, tenantBudgetSchemaFor, updateKeySchemaFor } from '../schemas/api-keys'
import { validate } from '../schemas/issues'
import { bearerToken } from '../access/api-keys'
import { budgetOf, storageReport } from '../tenant/budgets'
import { usageOf } from './usage'
import { clientIp, noRoute, services } from './middleware'

/** Compares digests in constant time, so the token's length and content don't leak. */
async function sameToken(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256Bytes(given), sha256Bytes(expected)])
  return crypto.subtle.timingSafeEqual(a, b)
}

const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const expected = services(c).config.ADMIN_TOKEN
  if (!expected) throw noRoute(c)
  await services(c).rateLimits.guard('admin', clientIp(c))
  const given = bearerToken(c.req.header('authorization'))
  if (!given || !(await sameToken(given, expected)))
    throw new ApiError(401, { code: 'invalidAdminToken', message: 'Authorization: Bearer <ADMIN_TOKEN> is required' })
  await next()
})

/** An admin body is a small JSON object; the cap keeps even the operator's mistakes cheap. */
const MAX_ADMIN_BODY_BYTES = 16 * 1024

const parseJson = (bytes: Uint8Array): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return undefined
  }
}

function tenantParam(tenant: string): string {
  if (!TENANT_ID.test(tenant)) throw new ApiError(400, { code: 'invalidParameter', message: 'Not a tenant id', parameter: 'tenant' })
  return tenant
}

/** A small JSON body, capped as it streams. */
const readBody = async (body: ReadableStream<Uint8Array> | null): Promise<unknown> =>
  parseJson(
    await readCapped(
      body,
      MAX_ADMIN_BODY_BYTES,
      () => new ApiError(413, { code: 'payloadTooLarge', message: `The body is larger than ${MAX_ADMIN_BODY_BYTES} bytes` }),
    ),
  )

const keyNotFound = (id: string) => new ApiError(404, { code: 'keyNotFound', message: `No key ${id}`, parameter: 'id' })

export const adminRoutes = new Hono<AppEnv>()
  .use('*', requireAdmin)
  .post('/keys', async (c) => {
    const { keys, config } = services(c)
    const input = validate(createKeySchemaFor(config.ENVIRONMENT === 'development'), await readBody(c.req.raw.body))
    const { key, record } = await keys.create(input)
    // The only time the key is shown.
    return c.json({ data: { ...record, key } }, 201)
  })
  .get('/keys', async (c) => c.json({ data: await services(c).keys.list() }))
  .post('/keys/:id/:operation{disable|rotate}', async (c) => {
    const id = c.req.param('id')
    const { keys, tenants } = services(c)
    const tenant = await keys.tenantOfKey(id)
    const done = tenant ? await tenants.keyTransition(tenant, id, c.req.param('operation') as 'disable' | 'rotate') : null
    if (!done?.record) throw keyNotFound(id)
    // A rotation's new key is shown only here.
    return c.json({ data: { ...done.record, ...(done.key ? { key: done.key } : {}) } })
  })
  .patch('/keys/:id', async (c) => {
    const id = c.req.param('id')
    const { keys, tenants, config } = services(c)
    const patch = validate(updateKeySchemaFor(config.ENVIRONMENT === 'development'), await readBody(c.req.raw.body))
    const tenant = await keys.tenantOfKey(id)
    const done = tenant ? await tenants.keyTransition(tenant, id, 'update', patch) : null
    if (!done?.record) throw keyNotFound(id)
    return c.json({ data: done.record })
  })
  .put('/tenants/:tenant/budget', async (c) => {
    const tenant = tenantParam(c.req.param('tenant'))
    const { tenants, config } = services(c)
    const input = validate(tenantBudgetSchemaFor(config.ENVIRONMENT === 'development'), await readBody(c.req.raw.body))
    await tenants.setTenantBudget(tenant, budgetOf(input))
    return c.json({ data: { tenant, ...input } })
  })
  .delete('/tenants/:tenant/budget', async (c) => {
    const tenant = tenantParam(c.req.param('tenant'))
    await services(c).tenants.setTenantBudget(tenant, null)
    return c.json({ data: { tenant, deleted: true } })
  })
  .get('/tenants/:tenant/usage', async (c) =>
    c.json({ data: await usageOf(services(c), tenantParam(c.req.param('tenant')), c.req.query()) }),
  )
  .get('/tenants/:tenant/storage', async (c) => {
    const tenant = tenantParam(c.req.param('tenant'))
    return c.json({ data: storageReport(tenant, await services(c).tenants.footprint(tenant)) })
  })
