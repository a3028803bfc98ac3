/**
 * A limited task's shard tells the tenant's account of every recorded result. When the account
 * cannot be reached, the task owes it: nothing may be lost, and nothing counted twice.
 */
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it, vi } from 'vitest'
import type { TaskShard } from '../../../src/tenant/task-shard'
import { accountOf, shardOf, taskRecord } from '../helpers'

const PRICE = 30_000
const limits = { budgetMicros: 1_000_000, budgetPeriod: 'day' as const }

/** The account's reservations and today's spend, as it stores them. */
async function account(tenant: string) {
  return runInDurableObject(accountOf(tenant), (_instance, state) => ({
    reservations: state.storage.sql.exec('SELECT task, open FROM reservations').toArray(),
    spent: state.storage.sql.exec<{ v: number | null }>('SELECT SUM(cost) AS v FROM key_spend').one().v ?? 0,
  }))
}

/** Runs `fn` with the shard's account unreachable. */
async function withAccountDown<T>(tenant: string, taskUUID: string, fn: (shard: TaskShard) => Promise<T>): Promise<T> {
  return runInDurableObject(shardOf(tenant, taskUUID), async (instance: TaskShard) => {
    const down = vi.spyOn(instance as unknown as { account: () => unknown }, 'account').mockReturnValue({
      settle: () => Promise.reject(new Error('account down')),
    })
    try {
      return await fn(instance)
    } finally {
      down.mockRestore()
    }
  })
}

const child = () => ({ taskUUID: crypto.randomUUID(), seed: 1 })
const success = (index: number) => ({ index, ok: true as const, imageUUID: crypto.randomUUID(), objectKey: 'k', at: Date.now() })

describe('a task that owes its account', () => {
  it('tells it every earlier result with the next one, each counted once', async () => {
    const task = taskRecord({ tenant: 'towed', children: [child(), child()] })
    const shard = shardOf(task.tenant, task.taskUUID)
    expect((await shard.open(task, PRICE, limits, Date.now() + 60_000)).kind).toBe('created')
    await withAccountDown(task.tenant, task.taskUUID, (s) => s.recordResults(task.taskUUID, [success(0)], Date.now()))
    expect((await account(task.tenant)).spent).toBe(0)
    // The last result finishes the task, and the account hears of both.
    expect((await shard.recordResults(task.taskUUID, [success(1)], Date.now()))?.final?.status).toBe('succeeded')
    expect(await account(task.tenant)).toEqual({ reservations: [], spent: 2 * PRICE })
    // Told again (the reconciler's look), nothing more is counted.
    await shard.settled(task.taskUUID)
    expect((await account(task.tenant)).spent).toBe(2 * PRICE)
  })

  it('stays due, with its price, when the call that finished it could not tell the account', async () => {
    const task = taskRecord({ tenant: 'towed2', children: [child()] })
    const shard = shardOf(task.tenant, task.taskUUID)
    await shard.open(task, PRICE, limits, Date.now() + 60_000)
    await withAccountDown(task.tenant, task.taskUUID, (s) => s.recordResults(task.taskUUID, [success(0)], Date.now()))
    const due = await runInDurableObject(shard, (_i, state) =>
      state.storage.sql.exec('SELECT due_at, detail FROM tasks LEFT JOIN details USING (id)').one(),
    )
    expect(due.due_at).not.toBeNull()
    expect(due.detail).not.toBeNull()
    await expect(withAccountDown(task.tenant, task.taskUUID, (s) => s.settled(task.taskUUID))).rejects.toThrow('account')
    await shard.settled(task.taskUUID)
    expect(await account(task.tenant)).toEqual({ reservations: [], spent: PRICE })
  })

  it('is not deleted before the account is told, and is once it is', async () => {
    const task = taskRecord({ tenant: 'towed3', children: [child()] })
    const shard = shardOf(task.tenant, task.taskUUID)
    await shard.open(task, PRICE, limits, Date.now() + 60_000)
    await withAccountDown(task.tenant, task.taskUUID, async (s) => {
      await s.recordResults(task.taskUUID, [success(0)], Date.now())
      await expect(s.remove(task.taskUUID)).rejects.toThrow('account')
    })
    expect((await shard.read(task.taskUUID))?.task.deleted).toBeUndefined()
    expect(await shard.remove(task.taskUUID)).toBe(true)
    expect((await shard.read(task.taskUUID))?.task.deleted).toBe(true)
    expect(await account(task.tenant)).toEqual({ reservations: [], spent: PRICE })
  })
})
