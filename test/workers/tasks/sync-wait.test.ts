/**
 * A sync request whatever the upstream's reply mode. Runware's webhook page says a task with a
 * webhookURL is processed asynchronously (its Python SDK README: the API answers with an
 * acknowledgement at once), and the gateway sends every child with one. So the fault rules
 * below make the emulator acknowledge only, and the test plays Runware's webhook by hand,
 * since the emulator cannot reach the Worker here.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { requireConfig } from '../../../src/config/config'
import { runTasks } from '../../../src/protocol/run-tasks'
import { buildServices } from '../../../src/services'
import { hook, inference, shardOf, postV1, setFault, taskRecord, upstreamItem, upstreamRequests } from '../helpers'

type Child = { taskUUID: string; webhookURL: string }

/** The children the gateway dispatched for prompts containing `marker`, once it has. */
async function dispatched(marker: string): Promise<Child[]> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const sent = (await upstreamRequests(marker)).flatMap((r) => r.body).filter((t) => t.taskType === 'imageInference')
    if (sent.length) return sent as unknown as Child[]
  }
  throw new Error('nothing was dispatched')
}

/** getResponse requests the emulator received for these children. */
async function checksFor(children: Child[]): Promise<number> {
  const requests = await Promise.all(children.map((c) => upstreamRequests(c.taskUUID)))
  return requests.flat().filter((r) => r.body.some((t) => t.taskType === 'getResponse')).length
}

describe('a sync request when Runware only acknowledges', () => {
  it('answers with the images its webhooks bring', async () => {
    const marker = `ack-hook-${crypto.randomUUID()}`
    await setFault({ match: marker, syncWithWebhook: 'acknowledge' })
    const answer = postV1([inference({ positivePrompt: `a lighthouse ${marker}`, numberResults: 2 })])
    const children = await dispatched(marker)
    expect(children).toHaveLength(2)
    for (const child of children) expect((await hook(child.webhookURL, await upstreamItem(child.taskUUID))).status).toBe(200)
    const { status, json } = await answer
    expect(status).toBe(200)
    expect(json.data).toHaveLength(2)
    for (const item of json.data ?? []) {
      expect(item.status).toBeUndefined()
      expect(item.imageUUID).toEqual(expect.any(String))
      expect(item.imageURL).toEqual(expect.any(String))
    }
  })

  it('asks Runware itself, a few times and no more, when no webhook comes; a failed child and an image share one envelope', async () => {
    const marker = `ack-quiet-${crypto.randomUUID()}`
    // The least convenient reading: a failure gets no webhook at all.
    await setFault({ match: marker, syncWithWebhook: 'acknowledge', webhookErrors: false, failSeeds: [501] })
    const { status, json } = await postV1([inference({ positivePrompt: `a quiet bay ${marker}`, numberResults: 2, seed: 500 })])
    expect(status).toBe(200)
    expect(json.data).toHaveLength(1)
    expect(json.data?.[0]).toMatchObject({ seed: 500, imageUUID: expect.any(String) })
    expect(json.errors).toHaveLength(1)
    expect(json.errors?.[0]).toMatchObject({ code: 'internalServerError', taskType: 'imageInference' })
    const checks = await checksFor(await dispatched(marker))
    expect(checks).toBeGreaterThanOrEqual(1)
    expect(checks).toBeLessThanOrEqual(2)
  })

  it('lets a re-sent request with the same body wait for the same results', async () => {
    const marker = `ack-twice-${crypto.randomUUID()}`
    await setFault({ match: marker, syncWithWebhook: 'acknowledge' })
    const body = inference({ positivePrompt: `twin towers ${marker}` })
    const first = postV1([body])
    const [child] = await dispatched(marker)
    const second = postV1([body])
    await new Promise((r) => setTimeout(r, 300))
    await hook(child!.webhookURL, await upstreamItem(child!.taskUUID))
    const answers = await Promise.all([first, second])
    for (const a of answers) expect(a.json.data?.[0]?.imageUUID).toEqual(answers[0]?.json.data?.[0]?.imageUUID)
    expect(answers[0]?.json.data?.[0]?.imageUUID).toEqual(expect.any(String))
  })

  it('answers "processing" only when SYNC_TIMEOUT_SECONDS runs out', async () => {
    const marker = `ack-slow-${crypto.randomUUID()}`
    await setFault({ match: marker, syncWithWebhook: 'acknowledge', latencyMs: 6_000 })
    const config = { ...requireConfig(env), SYNC_TIMEOUT_SECONDS: 2 }
    const services = buildServices(env, config, { origin: 'http://127.0.0.1:1', waitUntil: () => undefined })
    const started = Date.now()
    const outcome = await runTasks(services, { tenant: 'tsyncslow', limits: {} }, [inference({ positivePrompt: `a slow tide ${marker}` })])
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900)
    const items = await Promise.all(outcome.items.map((item) => item()))
    expect(items).toEqual([expect.objectContaining({ taskType: 'imageInference', status: 'processing' })])
  })
})

describe("the tenant object's wait", () => {
  it('returns as soon as the last result is recorded, and after its timeout otherwise', async () => {
    const task = taskRecord({ tenant: 'tawait', children: [{ taskUUID: crypto.randomUUID(), seed: 1 }] })
    const ledger = shardOf('tawait', task.taskUUID)
    await ledger.open(task, 0, {}, Date.now() + 60_000)
    const timedOut = await ledger.awaitSettled(task.taskUUID, 50)
    expect(timedOut?.results).toEqual([])
    const waiting = ledger.awaitSettled(task.taskUUID, 60_000)
    await new Promise((r) => setTimeout(r, 50))
    await ledger.recordResults(task.taskUUID, [{ index: 0, ok: false, code: 'x', message: 'y', at: Date.now() }], Date.now())
    const settled = await waiting
    expect(settled?.results).toHaveLength(1)
    expect(settled?.task.status).toBe('failed')
  })

  it('wakes a waiter when its task is deleted', async () => {
    const task = taskRecord({ tenant: 'tawait' })
    const ledger = shardOf('tawait', task.taskUUID)
    await ledger.open(task, 0, {}, Date.now() + 60_000)
    const waiting = ledger.awaitSettled(task.taskUUID, 60_000)
    await new Promise((r) => setTimeout(r, 50))
    await ledger.remove(task.taskUUID)
    expect((await waiting)?.task.deleted).toBe(true)
  })
})
