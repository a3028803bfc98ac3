/** Spreading a tenant over shards, and growing it without moving a task (src/tenant/shard-map.ts). */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { parseShardPlan, type ShardPlan } from '../../../src/config/shard-plan'
import { TASK_RETENTION_SECONDS } from '../../../src/lib/storage-keys'
import { ShardMap } from '../../../src/tenant/shard-map'
import { TenantClient } from '../../../src/tenant/tenant-client'
import { taskRecord } from '../helpers'

const DAY = 86_400_000
const today = () => new Date().toISOString().slice(0, 10)
const plan = (text: string) => parseShardPlan(text) as ShardPlan

describe('the shard plan', () => {
  it('reads a default count and per-tenant counts from dates, and names a bad entry', () => {
    const parsed = plan('4, tacme=8, tacme=16@2026-12-01')
    expect(parsed.fallback).toEqual([{ from: 0, count: 4 }])
    expect(parsed.tenants.get('tacme')).toEqual([
      { from: 0, count: 8 },
      { from: Date.parse('2026-12-01T00:00:00Z'), count: 16 },
    ])
    expect(parseShardPlan('4, tacme=0')).toContain('"tacme=0"')
    expect(parseShardPlan('4, 8@2026-12-01')).toContain('a date needs a tenant')
    expect(parseShardPlan('Acme=4')).toContain('"Acme=4"')
    expect(parseShardPlan('acme=4')).toContain('not a tenant id')
  })

  it('spreads UUIDs over every shard, and keeps each in one', () => {
    const map = new ShardMap(plan('8'))
    const uuids = Array.from({ length: 400 }, () => crypto.randomUUID())
    const counts = new Map<number, number>()
    for (const uuid of uuids) counts.set(map.shard('t', uuid, Date.now()), (counts.get(map.shard('t', uuid, Date.now())) ?? 0) + 1)
    expect([...counts.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    for (const n of counts.values()) expect(n).toBeGreaterThan(20)
    // Case does not move a task: lookups lower-case it.
    for (const uuid of uuids.slice(0, 20)) expect(map.shard('t', uuid.toUpperCase(), 0)).toBe(map.shard('t', uuid, 0))
  })

  it('after a growth, looks in the new count’s shard first, then the old one’s, until retention has passed', () => {
    const grewAt = Date.parse('2026-06-01T00:00:00Z')
    const map = new ShardMap(plan('2, tbig=8@2026-06-01'))
    const uuid = [...Array(100)]
      .map(() => crypto.randomUUID())
      .find((u) => map.shard('tbig', u, grewAt) !== map.shard('tbig', u, grewAt - 1))!
    expect(map.shards('tbig', uuid, grewAt + DAY)).toEqual([map.shard('tbig', uuid, grewAt), map.shard('tbig', uuid, grewAt - 1)])
    expect(map.shards('tbig', uuid, grewAt + TASK_RETENTION_SECONDS * 1000 + DAY)).toEqual([map.shard('tbig', uuid, grewAt)])
    expect(map.shards('tother', uuid, grewAt + DAY)).toHaveLength(1)
    expect(map.allShards('tbig')).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })
})

describe('a tenant that grows', () => {
  it('still finds, records and refuses to re-create a task created before it grew', async () => {
    const map = new ShardMap(plan(`1, tgrow=1, tgrow=8@${today()}`))
    const client = new TenantClient(env.SHARDS, env.ACCOUNTS, map)
    // Created yesterday, when the tenant had one shard: it lives in shard 0 for good.
    const createdAt = Date.now() - DAY
    const uuid = [...Array(100)].map(() => crypto.randomUUID()).find((u) => map.shard('tgrow', u, Date.now()) !== 0)!
    const task = taskRecord({ tenant: 'tgrow', taskUUID: uuid, createdAt })
    expect((await client.open(task, 0, {}, Date.now() + 60_000)).kind).toBe('created')
    expect((await client.read('tgrow', uuid))?.task.createdAt).toBe(createdAt)
    // The same taskUUID sent again today is the task already there, not a second one in the new shard.
    expect((await client.open({ ...task, createdAt: Date.now() }, 0, {}, Date.now() + 60_000)).kind).toBe('existing')
    const recorded = await client.recordResults('tgrow', uuid, [{ index: 0, ok: false, code: 'x', message: 'y', at: Date.now() }])
    expect(recorded?.final?.status).toBe('failed')
    expect(await env.SHARDS.get(env.SHARDS.idFromName(`tgrow/${map.shard('tgrow', uuid, Date.now())}`)).read(uuid)).toBeNull()
  })
})
