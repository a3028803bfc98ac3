/** A deleted task stays gone on every route, and its KV record gone, whatever order the record's write and the DELETE land in. */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it, vi } from 'vitest'
import type { TaskShard } from '../../../src/tenant/task-shard'
import { kvTaskKey, uploadKey } from '../../../src/lib/storage-keys'
import { derivedUUID } from '../../../src/lib/ids'
import { requireConfig } from '../../../src/config/config'
import { parseImageSource, type ImageSource } from '../../../src/lib/image-source'
import { UPLOAD_LIMITS } from '../../../src/models/registry'
import { buildServices } from '../../../src/services'
import { KEY_A } from '../../secrets'
import { BASE, call, inference, postV1, shardOf, taskRecord, tenantOf, upstreamRequests } from '../helpers'

const auth = { authorization: `Bearer ${KEY_A}` }
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='

async function expectGone(taskUUID: string, imageURL: string) {
  expect((await call(`/v1/tasks/${taskUUID}`, { headers: auth })).status).toBe(404)
  expect((await call(`/v1/tasks/${taskUUID}/deliveries`, { headers: auth })).status).toBe(404)
  const polled = await postV1([{ taskType: 'getResponse', taskUUID }])
  expect(polled.json.errors?.[0]?.code).toBe('taskNotFound')
  const image = new URL(imageURL)
  expect((await call(`${image.pathname}${image.search}`)).status).toBe(404)
  expect((await call(`/v1/tasks/${taskUUID}`, { method: 'DELETE', headers: auth })).status).toBe(404)
}

describe('deletion', () => {
  it.each([
    ['a KV write that lands before the DELETE', 'before'],
    ['a KV write racing the DELETE', 'racing'],
  ])('%s leaves no KV record behind', async (_name, order) => {
    // The shard writes a finished task's KV record only when it has client deliveries.
    const task = taskRecord({ tenant: 'tdelete', webhookURL: 'https://hooks.example/imagine' })
    const shard = shardOf(task.tenant, task.taskUUID)
    await shard.open(task, 0, {}, Date.now() + 60_000)
    const finish = () => shard.recordResults(task.taskUUID, [{ index: 0, ok: false, code: 'x', message: 'y', at: Date.now() }], Date.now())
    if (order === 'before') {
      await finish()
      expect(await env.TASKS.get(kvTaskKey(task.tenant, task.taskUUID))).not.toBeNull()
      await shard.remove(task.taskUUID)
    } else await Promise.all([finish(), shard.remove(task.taskUUID)])
    await shard.settled(task.taskUUID)
    expect(await env.TASKS.get(kvTaskKey(task.tenant, task.taskUUID))).toBeNull()
    expect((await shard.read(task.taskUUID))?.task.deleted).toBe(true)
  })

  it('leaves a deleted task gone on every route', async () => {
    const task = inference({ positivePrompt: 'a sandcastle' })
    const created = await postV1([task])
    expect(created.status).toBe(200)
    expect((await call(`/v1/tasks/${task.taskUUID}`, { method: 'DELETE', headers: auth })).status).toBe(200)
    await expectGone(task.taskUUID, String(created.json.data?.[0]?.imageURL))
  })

  it('deletes the inline reference images a task stored, and keeps the uploads it named', async () => {
    const tenant = await tenantOf(KEY_A)
    const uploaded = await postV1([{ taskType: 'imageUpload', taskUUID: crypto.randomUUID(), image: PNG }])
    const imageUUID = String(uploaded.json.data?.[0]?.imageUUID)
    const services = buildServices(env, requireConfig(env), { origin: BASE, waitUntil: () => undefined })
    const taskUUID = crypto.randomUUID()
    const sources = [PNG, imageUUID].map((s) => parseImageSource(s, UPLOAD_LIMITS)) as ImageSource[]
    const stored = await services.library.references(tenant, taskUUID, sources, UPLOAD_LIMITS.maxBytes)
    if (!('references' in stored)) throw new Error('references refused')
    const task = taskRecord({ tenant, taskUUID, references: stored.references })
    await shardOf(tenant, taskUUID).open(task, 0, {}, Date.now() + 60_000)
    await shardOf(tenant, taskUUID).recordResults(taskUUID, [{ index: 0, ok: false, code: 'x', message: 'y', at: Date.now() }], Date.now())
    const inlineKey = uploadKey(tenant, await derivedUUID('reference', tenant, taskUUID, '0'))
    expect(stored.references[0]).toEqual({ key: inlineKey })
    expect(await env.IMAGES.head(inlineKey)).not.toBeNull()
    expect((await call(`/v1/tasks/${taskUUID}`, { method: 'DELETE', headers: auth })).status).toBe(200)
    expect(await env.IMAGES.head(inlineKey)).toBeNull()
    expect(await env.IMAGES.head(uploadKey(tenant, imageUUID))).not.toBeNull()
  })

  // The shard is the record's one writer, and writes it once: at the finish, or at settled() if that failed.
  it('writes a finished task’s KV record once, however often it is settled', async () => {
    const task = taskRecord({ tenant: 'tdelete', uploadEndpoint: 'https://uploads.example/put' })
    await runInDurableObject(shardOf(task.tenant, task.taskUUID), async (instance: TaskShard) => {
      const put = vi.spyOn((instance as unknown as { env: Env }).env.TASKS, 'put')
      await instance.open(task, 0, {}, Date.now() + 60_000)
      await instance.recordResults(task.taskUUID, [{ index: 0, ok: false, code: 'x', message: 'y', at: Date.now() }], Date.now())
      await Promise.all([instance.settled(task.taskUUID), instance.settled(task.taskUUID)])
      expect(put).toHaveBeenCalledTimes(1)
      put.mockRestore()
    })
    expect(await env.TASKS.get(kvTaskKey(task.tenant, task.taskUUID))).not.toBeNull()
  })

  it('refuses a re-sent body of a deleted task with 409 conflictTaskUUID, and generates nothing', async () => {
    const marker = `deleted-resend-${crypto.randomUUID()}`
    const task = inference({ positivePrompt: `a sandcastle at low tide ${marker}` })
    expect((await postV1([task])).status).toBe(200)
    expect((await call(`/v1/tasks/${task.taskUUID}`, { method: 'DELETE', headers: auth })).status).toBe(200)
    const again = await postV1([task])
    expect(again.status).toBe(409)
    expect(again.json.errors?.[0]).toMatchObject({
      code: 'conflictTaskUUID',
      message: 'taskUUID belongs to a deleted task; use a new taskUUID',
      parameter: 'taskUUID',
      taskType: 'imageInference',
    })
    expect(await upstreamRequests(marker)).toHaveLength(1)
  })
})
