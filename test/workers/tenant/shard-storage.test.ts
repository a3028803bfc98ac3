/**
 * How a shard keeps its tasks: a finished task keeps only its compact columns (its detail goes,
 * at once or, with client deliveries, once settled) and still reads back; UUIDs are 16-byte blobs
 * when canonical and exact strings otherwise; and the image index finds uploads and results.
 */
import { describe, expect, it } from 'vitest'
import type { TaskRecord } from '../../../src/schemas/records'
import { aShard, at, column, failure, FAR, inShard, rows, success, task, tenantName } from './shard-fixtures'

/** What a shard keeps of a finished task: all but the detail's fields. */
function lasting(record: TaskRecord): Partial<TaskRecord> {
  const { positivePrompt: _p, outputQuality: _q, webhookURL: _w, uploadEndpoint: _u, ...kept } = record
  return kept
}

describe('TaskShard compact storage', () => {
  it('drops a finished task’s detail and reads it back whole from its columns: model, size, format, flags and every result', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const now = at('2026-10-27T10:00:00Z')
      const taskUUID = crypto.randomUUID()
      const record = await task(tenant, 3, {
        taskUUID,
        sentAs: taskUUID.toUpperCase(),
        createdAt: now,
        model: 'runware:101@1',
        outputFormat: 'PNG',
        outputType: 'base64Data',
        deliveryMethod: 'sync',
        width: 1024,
        height: 768,
        includeCost: true,
        ttl: 3600,
      })
      await shard.open(record, 25_000, {}, FAR)
      expect(column(state, taskUUID, 'detail')).toEqual(expect.stringContaining(record.positivePrompt ?? '?'))
      const drafts = [
        success(record, 0, now, { cost: 0.0123, nsfw: true, seed: 5 }),
        success(record, 1, now, { nsfw: false }),
        failure(2, now, true),
      ]
      const done = await shard.recordResults(taskUUID, drafts, now + 7)
      const results = [drafts[0], { ...drafts[1], seed: 11 }, drafts[2]]
      // Finished when its last result was recorded (the results' own times).
      expect(done?.final).toEqual({ ...record, status: 'succeeded', finishedAt: now, results })

      expect(column(state, taskUUID, 'detail')).toBeNull()
      // Its children are derived again; each carries the seed its result reports (Runware's 5, not the 10 sent).
      const children = record.children.map((child, i) => ({ ...child, seed: i === 0 ? 5 : child.seed }))
      expect(await shard.read(taskUUID)).toEqual({
        task: { ...lasting(record), children, status: 'succeeded', finishedAt: now },
        results,
      })
      expect(results[0]).toMatchObject({ objectKey: `images/${tenant}/${taskUUID}/0.png` })
      // Canonical UUIDs are 16 bytes, the request hash 32.
      expect(rows(state, 'SELECT length(uuid) AS u, length(hash) AS h FROM tasks')).toEqual([{ u: 16, h: 32 }])
      expect(rows(state, 'SELECT typeof(image) AS t, length(image) AS n FROM results WHERE image IS NOT NULL')).toEqual([
        { t: 'blob', n: 16 },
        { t: 'blob', n: 16 },
      ])
    })
  })

  it('keeps the detail of a finished task with client deliveries until settled(), then only the compact columns', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const now = at('2026-10-27T11:00:00Z')
      // An uploadEndpoint alone is a client delivery (shard-upkeep.test.ts has a webhookURL alone).
      const record = await task(tenant, 1, { createdAt: now, uploadEndpoint: 'https://client.example/upload' })
      await shard.open(record, 0, {}, FAR)
      const image = success(record, 0, now, { cost: 0.01 })
      await shard.recordResults(record.taskUUID, [image], now)
      const results = [{ ...image, seed: 10 }]
      expect(JSON.parse(String(column(state, record.taskUUID, 'detail')))).toMatchObject({ uploadEndpoint: record.uploadEndpoint })
      expect(await shard.read(record.taskUUID)).toEqual({ task: { ...record, status: 'succeeded', finishedAt: now }, results })

      await shard.settled(record.taskUUID)
      expect(column(state, record.taskUUID, 'detail')).toBeNull()
      expect(await shard.read(record.taskUUID)).toEqual({ task: { ...lasting(record), status: 'succeeded', finishedAt: now }, results })
    })
  })

  it('round-trips imageUUIDs that are not lower-case canonical UUIDs exactly, and finds them by the same string', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard, state) => {
      const now = at('2026-10-27T12:00:00Z')
      const odd = ['ABCDEF01-2345-4678-89AB-CDEF01234567', 'runware-image-7', '{3f2504e0-4f89-41d3-9a0c-0305e82c3301}']
      const record = await task(tenant, odd.length + 1, { createdAt: now })
      await shard.open(record, 0, {}, FAR)
      const drafts = [...odd.map((imageUUID, i) => success(record, i, now, { imageUUID })), success(record, odd.length, now)]
      await shard.recordResults(record.taskUUID, drafts.slice(0, 2), now)
      expect((await shard.read(record.taskUUID))?.results.map((r) => r.ok && r.imageUUID)).toEqual(odd.slice(0, 2))
      await shard.recordResults(record.taskUUID, drafts.slice(2), now)
      expect(column(state, record.taskUUID, 'detail')).toBeNull()
      const read = await shard.read(record.taskUUID)
      expect(read?.results).toEqual(drafts.map((d) => ({ ...d, seed: 10 + d.index })))
      // A UUID in any case is kept as 16 bytes, its spelling beside it; anything else as lower-case text.
      expect(rows(state, 'SELECT typeof(image) AS t FROM results ORDER BY idx').map((r) => r.t)).toEqual(['blob', 'text', 'text', 'blob'])
      expect(Object.keys(shard.findImages(drafts.map((d) => d.imageUUID))).sort()).toEqual(drafts.map((d) => d.imageUUID).sort())
    })
  })

  // References reach findImages lower-cased (lib/image-source.ts), as the old ledger indexed every image.
  it('finds a result image Runware named in upper case by the lower-case form a reference uses', async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard) => {
      const now = at('2026-10-27T13:00:00Z')
      const record = await task(tenant, 1, { createdAt: now })
      await shard.open(record, 0, {}, FAR)
      const upper = 'ABCDEF01-2345-4678-89AB-CDEF01234567'
      const image = success(record, 0, now, { imageUUID: upper })
      await shard.recordResults(record.taskUUID, [image], now)
      expect(shard.findImages([upper.toLowerCase()])).toEqual({ [upper.toLowerCase()]: image.objectKey })
    })
  })
})

describe('TaskShard image index', () => {
  it("finds uploads and result images, not a deleted task's; forgetUpload forgets only an upload", async () => {
    const tenant = tenantName()
    await inShard(aShard(tenant), async (shard) => {
      const now = at('2026-10-28T10:00:00Z')
      const upload = crypto.randomUUID()
      const uploadKey = `uploads/${tenant}/${upload}`
      // An upload is indexed under the lower-case UUID that references are looked up by.
      shard.addImage(upload.toUpperCase(), uploadKey, now)
      const kept = await task(tenant, 2, { createdAt: now, outputFormat: 'WEBP' })
      const gone = await task(tenant, 1, { createdAt: now })
      await shard.open(kept, 0, {}, FAR)
      await shard.open(gone, 0, {}, FAR)
      const open = success(kept, 0, now) // its task still open
      const deleted = success(gone, 0, now)
      await shard.recordResults(kept.taskUUID, [open], now)
      await shard.recordResults(gone.taskUUID, [deleted], now)
      const unknown = crypto.randomUUID()
      const all = [upload, open.imageUUID, deleted.imageUUID, unknown]
      expect(shard.findImages(all)).toEqual({
        [upload]: uploadKey,
        [open.imageUUID]: open.objectKey,
        [deleted.imageUUID]: deleted.objectKey,
      })
      expect(open.objectKey).toBe(`images/${tenant}/${kept.taskUUID}/0.webp`)

      await shard.remove(gone.taskUUID)
      expect(shard.findImages(all)).toEqual({ [upload]: uploadKey, [open.imageUUID]: open.objectKey })

      expect(shard.forgetUpload(open.imageUUID)).toBeNull()
      expect(shard.forgetUpload(upload)).toBe(uploadKey)
      expect(shard.forgetUpload(upload)).toBeNull()
      expect(shard.findImages(all)).toEqual({ [open.imageUUID]: open.objectKey })
    })
  })
})
