/** GET /admin/tenants/{tenant}/storage: how full each of a tenant's shard objects is. */
import { describe, expect, it } from 'vitest'
import { storageSchema } from '../../../src/schemas/responses'
import { KEY_A, TEST_SECRETS } from '../../secrets'
import { call, inference, postV1, tenantOf } from '../helpers'

const admin = (path: string) => call(`/admin${path}`, { headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}` } })

describe('the storage report', () => {
  it("counts each shard's tasks and images, and the fullest shard's bytes per image", async () => {
    const tenant = await tenantOf(KEY_A)
    const before = storageSchema.parse(await (await admin(`/tenants/${tenant}/storage`)).json()).data
    const created = await Promise.all(Array.from({ length: 6 }, (_, i) => postV1([inference({ positivePrompt: `a paper lantern ${i}` })])))
    expect(created.map((c) => c.status)).toEqual(Array(6).fill(200))
    const after = storageSchema.parse(await (await admin(`/tenants/${tenant}/storage`)).json()).data
    expect(after.shards.map((s) => s.shard)).toEqual([0, 1, 2, 3])
    expect(after.images - before.images).toBe(6)
    expect(after.shards.reduce((n, s) => n + s.tasks, 0) - before.shards.reduce((n, s) => n + s.tasks, 0)).toBe(6)
    const fullest = after.shards.find((s) => s.shard === after.fullestShard)!
    expect(after.bytesPerImage).toBe(Math.round(fullest.bytes / fullest.images))
    expect(after.retainableImages).toBeGreaterThan(0)
  })

  it('refuses a malformed tenant id, and a missing admin token', async () => {
    expect((await admin('/tenants/NOT-A-TENANT/storage')).status).toBe(400)
    expect((await call('/admin/tenants/tabc/storage')).status).toBe(401)
  })
})
