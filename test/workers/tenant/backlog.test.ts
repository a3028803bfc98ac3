/** A shard with more due tasks than one sweep hands out (a backlog after a webhook outage) drains it without waiting. */
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it, vi } from 'vitest'
import type { TaskShard } from '../../../src/tenant/task-shard'
import { shardOf, taskRecord } from '../helpers'

describe('a backlog of due tasks', () => {
  it('is handed out 100 at a time, the next alarm set for now rather than a grain later', async () => {
    const tenant = 'tbacklog'
    const first = taskRecord({ tenant })
    await runInDurableObject(shardOf(tenant, first.taskUUID), async (instance: TaskShard, state) => {
      const queue = (instance as unknown as { env: Env }).env.RECONCILE as Queue
      const sent = vi.spyOn(queue, 'sendBatch').mockResolvedValue({} as QueueSendBatchResponse)
      try {
        const due = Date.now() - 60_000
        await instance.open(first, 0, {}, due)
        for (let i = 0; i < 149; i++) await instance.open(taskRecord({ tenant }), 0, {}, due)
        await instance.alarm()
        expect(sent.mock.calls[0]?.[0]).toHaveLength(100)
        expect(await state.storage.getAlarm()).toBeLessThanOrEqual(Date.now())
        await instance.alarm()
        expect(sent.mock.calls[1]?.[0]).toHaveLength(50)
        // Nothing more is due now: the next alarm waits for the next due time, on the grain.
        expect(await state.storage.getAlarm()).toBeGreaterThan(Date.now())
      } finally {
        sent.mockRestore()
      }
    })
  })
})
