/** Acceptance: async delivery completes from Runware's webhooks, even when each arrives twice at once. */
import { describe, expect, it } from 'vitest'
import { KEY_A, KEY_B } from '../secrets.ts'
import { emulator, emulatorStats, fetchImage, gateway, inference, postV1, setFault, waitFor } from './helpers.ts'

async function getTask(taskUUID: string, key = KEY_A) {
  const res = await fetch(`${gateway()}/v1/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${key}` } })
  return { status: res.status, json: (await res.json()) as { data: Record<string, unknown> & { results: Record<string, unknown>[] } } }
}

describe('async delivery', () => {
  it('answers at once, then completes 4 results from duplicated concurrent webhooks, losing nothing', async () => {
    const marker = `dup-webhooks-${crypto.randomUUID()}`
    await setFault({ match: marker, webhookCopies: 2, latencyMs: 300 })
    const body = inference({ positivePrompt: `four foxes ${marker}`, numberResults: 4, deliveryMethod: 'async', width: 2304, height: 1728 })

    const started = Date.now()
    const res = await postV1(body)
    expect(Date.now() - started).toBeLessThan(1500)
    expect(res.status).toBe(200)
    expect(res.json.data).toEqual([{ taskType: 'imageInference', taskUUID: body.taskUUID }])

    const done = await waitFor(async () => {
      const task = await getTask(body.taskUUID)
      return task.json.data.status === 'processing' ? undefined : task
    })
    expect(done.status).toBe(200)
    expect(done.json.data.status).toBe('succeeded')
    const results = done.json.data.results
    expect(results).toHaveLength(4)
    expect(new Set(results.map((r) => r.imageUUID)).size).toBe(4)
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3])
    for (const r of results) {
      expect(String(r.imageURL).startsWith(`${gateway()}/files/`)).toBe(true)
      expect(await fetchImage(String(r.imageURL))).toMatchObject({ status: 200, width: 2304, height: 1728, format: 'jpeg' })
    }

    const polled = await postV1([{ taskType: 'getResponse', taskUUID: body.taskUUID }])
    expect(polled.status).toBe(200)
    expect(polled.json.data).toHaveLength(4)
    for (const item of polled.json.data!)
      expect(item).toMatchObject({ taskType: 'imageInference', taskUUID: body.taskUUID, status: 'success' })
    expect(new Set(polled.json.data!.map((i) => i.imageUUID))).toEqual(new Set(results.map((r) => r.imageUUID)))

    // Each child was generated exactly once upstream, webhooks doubled or not.
    const stats = await emulatorStats()
    const log = (await (await fetch(`${emulator()}/__emulator/requests?match=${marker}`)).json()) as { body: { taskUUID: string }[] }[]
    const children = log.flatMap((r) => r.body.map((t) => t.taskUUID))
    expect(children).toHaveLength(4)
    for (const child of children) expect(stats.generations[child]).toBe(1)
  })

  it("tenant B cannot read tenant A's task", async () => {
    const body = inference({ deliveryMethod: 'async' })
    expect((await postV1(body)).status).toBe(200)
    const asB = await getTask(body.taskUUID, KEY_B)
    expect(asB.status).toBe(404)
    const polledAsB = await postV1([{ taskType: 'getResponse', taskUUID: body.taskUUID }], KEY_B)
    expect(polledAsB.status).toBe(404)
    expect(polledAsB.json.errors![0]).toMatchObject({ code: 'taskNotFound', taskUUID: body.taskUUID })
  })
})
