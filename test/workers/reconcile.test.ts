/** The cron reconciler: lost webhooks, deadlines, re-dispatch, repair — nothing stays stuck. */
import { env } from 'cloudflare:workers'
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index'
import { RECONCILE_CRON } from '../../src/jobs/scheduled'
import { childTaskUUID } from '../../src/lib/ids'
import { requireConfig } from '../../src/services/config'
import { buildServices } from '../../src/services/container'
import { KEY_A } from '../secrets'
import { BASE, call, hook, inference, postV1, setFault, upstreamItem, upstreamRequests, tenantOf, taskRecord } from './helpers'

interface TaskView {
  status: string
  results: { index: number; status: string; imageUUID?: string; imageURL?: string; error?: { code: string; message: string } }[]
}

const getTask = async (taskUUID: string) =>
  ((await (await call(`/v1/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${KEY_A}` } })).json()) as { data: TaskView }).data

/** Runs the cron as if `secondsLater` had passed since now. */
async function runCron(secondsLater: number): Promise<void> {
  const ctx = createExecutionContext()
  await worker.scheduled(createScheduledController({ cron: RECONCILE_CRON, scheduledTime: Date.now() + secondsLater * 1000 }), env, ctx)
  await waitOnExecutionContext(ctx)
}

const services = () => buildServices(env, requireConfig(env), { origin: BASE, waitUntil: () => undefined })
const inflight = async () => (await env.IMAGES.list({ prefix: 'inflight/' })).objects.map((o) => o.key)
const reconcileAfter = Number(env.RECONCILE_AFTER_SECONDS)
const deadline = Number(env.TASK_DEADLINE_SECONDS)

describe('reconciler', () => {
  it('recovers a task whose webhooks were all dropped (and whose uploads never landed) from getResponse', async () => {
    const marker = `dropped-${crypto.randomUUID()}`
    await setFault({ match: marker, dropWebhookRate: 1 })
    const body = inference({ positivePrompt: `a lost letter ${marker}`, deliveryMethod: 'async', numberResults: 2 })
    expect((await postV1([body])).status).toBe(200)
    const [sent] = await upstreamRequests(marker)
    for (const child of sent?.body ?? []) await upstreamItem(String(child.taskUUID)) // Runware has finished
    expect((await getTask(body.taskUUID)).status).toBe('processing')

    await runCron(reconcileAfter - 5) // too early: the cron leaves young tasks alone
    expect((await getTask(body.taskUUID)).status).toBe('processing')

    await runCron(reconcileAfter + 5)
    const task = await getTask(body.taskUUID)
    expect(task.status).toBe('succeeded')
    expect(task.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded'])
    const image = await call(new URL(String(task.results[0]?.imageURL)).pathname + new URL(String(task.results[0]?.imageURL)).search)
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toBe('image/jpeg')
    expect((await inflight()).some((k) => k.endsWith(body.taskUUID))).toBe(false)

    // Runware's webhook arriving after the cron recorded the result changes nothing.
    const late = await upstreamItem(String(sent?.body[0]?.taskUUID))
    expect((await hook(String(sent?.body[0]?.webhookURL), { ...late, imageUUID: crypto.randomUUID() })).status).toBe(200)
    expect((await getTask(body.taskUUID)).results[0]?.imageUUID).toBe(task.results[0]?.imageUUID)
  })

  it('fails a task past its deadline with a clear timeoutProvider error', async () => {
    const marker = `stuck-${crypto.randomUUID()}`
    await setFault({ match: marker, latencyMs: 120_000 })
    const body = inference({ positivePrompt: `a frozen clock ${marker}`, deliveryMethod: 'async' })
    expect((await postV1([body])).status).toBe(200)

    await runCron(reconcileAfter + 5) // Runware still says "processing": keep waiting
    expect((await getTask(body.taskUUID)).status).toBe('processing')

    await runCron(deadline + 5)
    const task = await getTask(body.taskUUID)
    expect(task.status).toBe('failed')
    expect(task.results[0]?.error).toEqual({ code: 'timeoutProvider', message: `No result from the image provider within ${deadline} s` })
    const polled = await postV1([{ taskType: 'getResponse', taskUUID: body.taskUUID }])
    expect(polled.status).toBe(504)
    expect(polled.json.errors?.[0]).toMatchObject({ code: 'timeoutProvider', taskUUID: body.taskUUID, status: 'error' })
  })

  it('re-dispatches children Runware never received, with the same child UUIDs', async () => {
    const s = services()
    const marker = `never-sent-${crypto.randomUUID()}`
    const taskUUID = crypto.randomUUID()
    const tenantId = await tenantOf(KEY_A)
    // A task whose dispatch was lost on the way: claimed, never received upstream.
    await s.tasks.create(
      taskRecord({
        tenant: tenantId,
        taskUUID,
        outputFormat: 'PNG',
        width: 1440,
        height: 2560,
        positivePrompt: `a message in a bottle ${marker}`,
        outputQuality: 90,
        children: [{ taskUUID: await childTaskUUID(tenantId, taskUUID, 0), seed: 7 }],
      }),
    )
    await runCron(reconcileAfter + 5)
    const [redispatch] = await upstreamRequests(marker)
    expect(redispatch?.body[0]).toMatchObject({
      taskUUID: await childTaskUUID(tenantId, taskUUID, 0),
      seed: 7,
      width: 1440,
      height: 2560,
      outputFormat: 'PNG',
    })
    await upstreamItem(String(redispatch?.body[0]?.taskUUID))
    await runCron(reconcileAfter + 10)
    const task = await getTask(taskUUID)
    expect(task.status).toBe('succeeded')
    expect(await upstreamRequests(marker)).toHaveLength(1) // re-dispatched once, then polled
  })

  it('finishes a complete task whose finalizer stopped before writing KV', async () => {
    const s = services()
    const body = inference({ deliveryMethod: 'async' })
    expect((await postV1([body])).status).toBe(200)
    const task = await s.tasks.get(await tenantOf(KEY_A), body.taskUUID)
    expect(task).not.toBeNull()
    if (!task) return
    // The result is claimed in R2, but no KV record and no finalization happened.
    await s.tasks.claimResult(task, { index: 0, ok: false, code: 'providerTimeout', message: 'slow', at: Date.now() })
    expect(await env.TASKS.get(`task:${task.tenant}:${task.taskUUID}`)).toBeNull()
    await runCron(reconcileAfter + 5)
    const kv = await env.TASKS.get<{ status: string }>(`task:${task.tenant}:${task.taskUUID}`, 'json')
    expect(kv?.status).toBe('failed')
    expect((await inflight()).some((k) => k.endsWith(body.taskUUID))).toBe(false)
  })
})
