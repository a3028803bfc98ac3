/** A deleted task stays gone on every route, whatever order a KV write-back and the DELETE land in. */
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it, vi } from 'vitest'
import type { TenantLedger } from '../../../src/tenant/tenant-ledger'
import { kvTaskKey, uploadKey } from '../../../src/lib/storage-keys'
import { derivedUUID } from '../../../src/lib/ids'
import { requireConfig } from '../../../src/config/config'
import { parseImageSource, type ImageSource } from '../../../src/lib/image-source'
import { UPLOAD_LIMITS } from '../../../src/models/registry'
import { buildServices } from '../../../src/services'
import { KEY_A } from '../../secrets'
import { BASE, call, inference, ledgerOf, postV1, taskRecord, tenantOf } from '../helpers'

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
    ['a write-back that lands after the DELETE', 'after'],
    ['a write-back racing the DELETE', 'racing'],
  ])('%s leaves the task gone on every route', async (_name, order) => {
    const task = inference({ positivePrompt: `a sandcastle ${order}` })
    const created = await postV1([task])
    expect(created.status).toBe(200)
    const imageURL = String(created.json.data?.[0]?.imageURL)
    const tenant = await tenantOf(KEY_A)
    const ledger = ledgerOf(tenant)
    // A reader found the finished task missing from KV and asks for the write-back.
    const remove = () => call(`/v1/tasks/${task.taskUUID}`, { method: 'DELETE', headers: auth })
    if (order === 'after') {
      expect((await remove()).status).toBe(200)
      await ledger.cacheFinal(task.taskUUID)
    } else {
      const [, deleted] = await Promise.all([ledger.cacheFinal(task.taskUUID), remove()])
      expect(deleted.status).toBe(200)
    }
    expect(await env.TASKS.get(kvTaskKey(tenant, task.taskUUID))).toBeNull()
    await expectGone(task.taskUUID, imageURL)
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
    await ledgerOf(tenant).open(task, 0, {}, Date.now() + 60_000)
    await ledgerOf(tenant).recordResults(taskUUID, [{ index: 0, ok: false, code: 'x', message: 'y', at: Date.now() }], Date.now())
    const inlineKey = uploadKey(tenant, await derivedUUID('reference', tenant, taskUUID, '0'))
    expect(stored.references[0]).toEqual({ key: inlineKey })
    expect(await env.IMAGES.head(inlineKey)).not.toBeNull()
    expect((await call(`/v1/tasks/${taskUUID}`, { method: 'DELETE', headers: auth })).status).toBe(200)
    expect(await env.IMAGES.head(inlineKey)).toBeNull()
    expect(await env.IMAGES.head(uploadKey(tenant, imageUUID))).not.toBeNull()
  })

  // Readers keep missing a new record while KV propagates, and each asks for it: one write is enough.
  it('writes a finished task’s KV record once, however many readers ask', async () => {
    const task = inference({ positivePrompt: 'a single lantern' })
    expect((await postV1([task])).status).toBe(200)
    const tenant = await tenantOf(KEY_A)
    await runInDurableObject(ledgerOf(tenant), async (instance: TenantLedger) => {
      const put = vi.spyOn((instance as unknown as { env: Env }).env.TASKS, 'put')
      await Promise.all([instance.cacheFinal(task.taskUUID), instance.cacheFinal(task.taskUUID)])
      await instance.cacheFinal(task.taskUUID)
      expect(put).toHaveBeenCalledTimes(1)
      put.mockRestore()
    })
    expect(await env.TASKS.get(kvTaskKey(tenant, task.taskUUID))).not.toBeNull()
  })
})
