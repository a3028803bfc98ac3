/** What a finished task keeps in its shard once the bulky part is gone: what later requests decide on. */
import { describe, expect, it } from 'vitest'
import { shardOf, taskRecord } from '../helpers'

describe('a finished task’s lasting part', () => {
  it('keeps its socket session, references, spelling and ttl, and drops its prompt and URLs', async () => {
    const socket = crypto.randomUUID()
    const task = taskRecord({
      tenant: 'tcompact',
      sentAs: 'UPPER',
      ttl: 7200,
      socket,
      references: [{ key: 'uploads/tcompact/x' }, { url: 'https://images.example/a.png' }],
      includeCost: true,
      outputType: 'dataURI',
      deliveryMethod: 'sync',
    })
    const shard = shardOf(task.tenant, task.taskUUID)
    await shard.open(task, 30_000, {}, Date.now() + 60_000)
    const imageUUID = crypto.randomUUID().toUpperCase() // not canonical: kept as text, exactly
    await shard.recordResults(task.taskUUID, [{ index: 0, ok: true, imageUUID, cost: 0.0123456789, nsfw: false, objectKey: 'k', at: 5 }], 6)
    const state = await shard.read(task.taskUUID)
    expect(state?.task).toMatchObject({
      sentAs: 'UPPER',
      ttl: 7200,
      socket,
      references: task.references,
      includeCost: true,
      outputType: 'dataURI',
      deliveryMethod: 'sync',
      status: 'succeeded',
      finishedAt: 5,
      requestHash: task.requestHash,
    })
    expect(state?.task.positivePrompt).toBeUndefined()
    expect(state?.results).toEqual([
      {
        index: 0,
        ok: true,
        imageUUID,
        seed: 1,
        cost: 0.0123456789,
        nsfw: false,
        objectKey: `images/tcompact/${task.taskUUID}/0.jpg`,
        at: 5,
      },
    ])
  })
})
