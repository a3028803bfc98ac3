/** The reconciler: lost webhooks, deadlines, re-dispatch, repair — nothing stays stuck. */
import { env } from 'cloudflare:workers'
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from 'cloudflare:test'
import worker from '../../../src/index'
import { RECONCILE_QUEUE } from '../../../src/jobs/queue'
import { describe, expect, it } from 'vitest'
import { childTaskUUID } from '../../../src/lib/ids'
import { packUUID } from '../../../src/tenant/shard-rows'
import { requireConfig } from '../../../src/config/config'
import { buildServices } from '../../../src/services'
import { KEY_A } from '../../secrets'
import {
  BASE,
  call,
  firstDue,
  hook,
  inference,
  shardOf,
  sweepAll,
  postV1,
  setFault,
  upstreamItem,
  upstreamRequests,
  emulatorUrl as emulatorUrlOf,
  tenantOf,
  taskRecord,
} from '../helpers'

interface TaskView {
  status: string
  results: { index: number; status: string; imageUUID?: string; imageURL?: string; error?: { code: string; message: string } }[]
}

const getTask = async (taskUUID: string) =>
  ((await (await call(`/v1/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${KEY_A}` } })).json()) as { data: TaskView }).data

const services = () => buildServices(env, requireConfig(env), { origin: BASE, waitUntil: () => undefined })

/**
 * What KEY_A's object and the reconcile queue do when `secondsLater` have passed: the object
 * sweeps its due tasks (as its alarm does) and the consumer reconciles them.
 */
async function reconcileLater(secondsLater: number): Promise<void> {
  const s = services()
  const now = Date.now() + secondsLater * 1000
  await s.reconciler.run(await sweepAll(await tenantOf(KEY_A), now), now)
}
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

    await reconcileLater(reconcileAfter - 5) // too early: young tasks are not due
    expect((await getTask(body.taskUUID)).status).toBe('processing')

    await reconcileLater(reconcileAfter + 5)
    const task = await getTask(body.taskUUID)
    expect(task.status).toBe('succeeded')
    expect(task.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded'])
    const image = await call(new URL(String(task.results[0]?.imageURL)).pathname + new URL(String(task.results[0]?.imageURL)).search)
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toBe('image/jpeg')
    // Runware's webhook arriving after the reconciler recorded the result changes nothing.
    const late = await upstreamItem(String(sent?.body[0]?.taskUUID))
    expect((await hook(String(sent?.body[0]?.webhookURL), { ...late, imageUUID: crypto.randomUUID() })).status).toBe(200)
    expect((await getTask(body.taskUUID)).results[0]?.imageUUID).toBe(task.results[0]?.imageUUID)
  })

  // getResponse reports a failed task with that error's own status (the emulator: 500 for
  // internalServerError). That is an answer, not an outage: it must be recorded, not retried.
  it('records a failure getResponse reports with a 5xx status', async () => {
    const marker = `sunk-${crypto.randomUUID()}`
    await setFault({ match: marker, failSeeds: [901], dropWebhookRate: 1 })
    const body = inference({ positivePrompt: `a sunk barge ${marker}`, deliveryMethod: 'async', seed: 901 })
    expect((await postV1([body])).status).toBe(200)
    const [sent] = await upstreamRequests(marker)
    const child = String(sent?.body[0]?.taskUUID)
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${emulatorUrlOf()}/v1`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.RUNWARE_API_KEY}` },
        body: JSON.stringify([{ taskType: 'getResponse', taskUUID: child }]),
      })
      if (res.status === 500) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const polls = (await upstreamRequests(child)).length
    await reconcileLater(reconcileAfter + 5)
    const task = await getTask(body.taskUUID)
    expect(task.status).toBe('failed')
    expect(task.results[0]?.error?.code).toBe('internalServerError')
    // One getResponse, not a retried one.
    expect((await upstreamRequests(child)).length).toBe(polls + 1)
  })

  it("records taskExpired, when getResponse answers it, as the result's failure", async () => {
    const marker = `expired-${crypto.randomUUID()}`
    await setFault({ match: marker, dropWebhookRate: 1, taskExpirySeconds: 0 })
    const body = inference({ positivePrompt: `an old map ${marker}`, deliveryMethod: 'async' })
    expect((await postV1([body])).status).toBe(200)
    await reconcileLater(reconcileAfter + 5)
    const task = await getTask(body.taskUUID)
    expect(task.status).toBe('failed')
    expect(task.results[0]?.error?.code).toBe('taskExpired')
  })

  it('isolates a task that cannot be reconciled: the others are acked, only it is retried', async () => {
    const marker = `isolated-${crypto.randomUUID()}`
    await setFault({ match: marker, dropWebhookRate: 1 })
    const body = inference({ positivePrompt: `a lone buoy ${marker}`, deliveryMethod: 'async' })
    expect((await postV1([body])).status).toBe(200)
    const tenant = await tenantOf(KEY_A)
    // A task whose stored record cannot be read: reconciling it throws.
    const broken = crypto.randomUUID()
    await runInDurableObject(shardOf(tenant, broken), (_instance, state) => {
      state.storage.sql.exec(
        `INSERT INTO tasks (uuid, hash, created_at, state, model, origin, width, height, format, flags, n)
         VALUES (?, ?, ?, 0, 1, 1, 1, 1, 'JPG', 0, 1)`,
        packUUID(broken),
        packUUID(broken),
        Date.now(),
      )
      state.storage.sql.exec(`INSERT INTO details (id, detail) SELECT id, '{not json' FROM tasks WHERE uuid = ?`, packUUID(broken))
    })
    const [sent] = await upstreamRequests(marker)
    await upstreamItem(String(sent?.body[0]?.taskUUID)) // Runware has finished
    const batch = createMessageBatch(RECONCILE_QUEUE, [
      { id: 'broken', timestamp: new Date(), attempts: 1, body: { v: 1, tenant, taskUUID: broken } },
      { id: 'good', timestamp: new Date(), attempts: 1, body: { v: 1, tenant, taskUUID: body.taskUUID } },
    ])
    const ctx = createExecutionContext()
    await worker.queue(batch, env, ctx)
    await waitOnExecutionContext(ctx)
    const result = await getQueueResult(batch, ctx)
    expect(result.explicitAcks).toEqual(['good'])
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(['broken'])
    expect((await getTask(body.taskUUID)).status).toBe('succeeded')
    await runInDurableObject(shardOf(tenant, broken), (_instance, state) => {
      state.storage.sql.exec('DELETE FROM details WHERE id IN (SELECT id FROM tasks WHERE uuid = ?)', packUUID(broken))
      state.storage.sql.exec('DELETE FROM tasks WHERE uuid = ?', packUUID(broken))
    })
  })

  it('fails a task past its deadline with a clear timeoutProvider error', async () => {
    const marker = `stuck-${crypto.randomUUID()}`
    await setFault({ match: marker, latencyMs: 120_000 })
    const body = inference({ positivePrompt: `a frozen clock ${marker}`, deliveryMethod: 'async' })
    expect((await postV1([body])).status).toBe(200)

    await reconcileLater(reconcileAfter + 5) // Runware still says "processing": keep waiting
    expect((await getTask(body.taskUUID)).status).toBe('processing')

    // Usage is counted on the day of the (simulated) reconciliation, which may be tomorrow.
    const [today, tomorrow] = [0, 1].map((d) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10))
    const spent = async () =>
      (await services().tenants.usage(await tenantOf(KEY_A), today!, tomorrow!)).reduce(
        (n, r) => ({ images: n.images + r.images, cost: n.cost + r.costMicros }),
        { images: 0, cost: 0 },
      )
    const before = await spent()
    await reconcileLater(deadline + 5)
    // Runware may still generate and bill it: the estimate is counted, as spend, not as an image.
    expect(await spent()).toEqual({ images: before.images, cost: before.cost + 30_000 })
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
    const lost = taskRecord({
      tenant: tenantId,
      taskUUID,
      outputFormat: 'PNG',
      width: 1440,
      height: 2560,
      positivePrompt: `a message in a bottle ${marker}`,
      outputQuality: 90,
      children: [{ taskUUID: await childTaskUUID(tenantId, taskUUID, 0), seed: 7 }],
    })
    await s.tenants.open(lost, 0, {}, firstDue(lost))
    await reconcileLater(reconcileAfter + 5)
    const [redispatch] = await upstreamRequests(marker)
    expect(redispatch?.body[0]).toMatchObject({
      taskUUID: await childTaskUUID(tenantId, taskUUID, 0),
      seed: 7,
      width: 1440,
      height: 2560,
      outputFormat: 'PNG',
    })
    await upstreamItem(String(redispatch?.body[0]?.taskUUID))
    await reconcileLater(2 * reconcileAfter + 10) // the next check of a task still open
    const task = await getTask(taskUUID)
    expect(task.status).toBe('succeeded')
    expect(await upstreamRequests(marker)).toHaveLength(1) // re-dispatched once, then polled
  })

  it('finishes a task whose recorder stopped after recording: the missing client event is sent', async () => {
    const s = services()
    const body = inference({ deliveryMethod: 'async', webhookURL: 'http://127.0.0.1:1/hook' })
    expect((await postV1([body])).status).toBe(200)
    const tenant = await tenantOf(KEY_A)
    // The result is recorded in the object, but its recorder stopped before queueing the event.
    const recorded = await s.tenants.recordResults(tenant, body.taskUUID, [
      { index: 0, ok: false, code: 'providerTimeout', message: 'slow', at: Date.now() },
    ])
    expect(recorded?.final?.status).toBe('failed')
    expect(await s.deliveryLog.list(tenant, body.taskUUID)).toEqual([])

    await reconcileLater(reconcileAfter + 5)
    expect((await s.deliveryLog.list(tenant, body.taskUUID)).map((d) => d.id)).toEqual([`evt_${body.taskUUID}_0`])
    // Settled: a later sweep does not hand the task out again.
    expect(await sweepAll(tenant, Date.now() + 10 * reconcileAfter * 1000)).not.toContainEqual(
      expect.objectContaining({ taskUUID: body.taskUUID }),
    )
  })

  it("runs from the tenant object's alarm, through the reconcile queue", async () => {
    const s = services()
    const tenant = 'talarm'
    const marker = `alarm-${crypto.randomUUID()}`
    // Claimed long enough ago to be due, and never received by Runware.
    const taskUUID = crypto.randomUUID()
    const record = taskRecord({
      tenant,
      taskUUID,
      positivePrompt: `a wake-up call ${marker}`,
      createdAt: Date.now() - (reconcileAfter + 5) * 1000,
      children: [{ taskUUID: await childTaskUUID(tenant, taskUUID, 0), seed: 3 }],
    })
    expect((await s.tenants.open(record, 0, {}, firstDue(record))).kind).toBe('created')
    // The task is already due, so its alarm is set in the past and may fire by itself before
    // this line; otherwise this runs it now. Either way the alarm, not the test, hands it out.
    await runDurableObjectAlarm(shardOf(tenant, taskUUID))
    // The alarm handed it out: it is not due again until one more RECONCILE_AFTER.
    expect(await sweepAll(tenant, Date.now())).toEqual([])
    // The queue consumer asked Runware, heard "not found", and dispatched it again.
    for (const until = Date.now() + 10_000; (await upstreamRequests(marker)).length === 0 && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 100))
    }
    expect((await upstreamRequests(marker))[0]?.body[0]).toMatchObject({ taskUUID: record.children[0]?.taskUUID, seed: 3 })
  })
})
