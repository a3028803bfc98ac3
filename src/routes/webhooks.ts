/** POST /webhooks/runware/{tenant}/{taskUUID}/{index} — Runware's completion callbacks. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import type { ResultReport } from '../services/result-recorder'
import { parseUpstreamBody } from '../schemas/upstream'
import { failureOf } from '../services/upstream-errors'

const forged = () => new ApiError(401, { code: 'invalidWebhookToken', message: 'The webhook token is not valid for this task' })

export const webhookRoutes = new Hono<AppEnv>().post('/runware/:tenant/:taskUUID/:index', async (c) => {
  const { tenant, taskUUID, index } = c.req.param()
  const { signer, tasks, recorder } = c.var.services
  // The token binds tenant, task and result: anything else is a forgery and changes nothing.
  if (!(await signer.checkRunwareWebhook(tenant, taskUUID, index, c.req.query('token')))) throw forged()

  const task = await tasks.get(tenant, taskUUID)
  const child = task?.children[Number(index)]
  // A task abandoned or deleted since: acknowledge, so Runware stops retrying.
  if (!task || task.deleted || !child) return c.json({ ok: true, ignored: 'unknown task' })

  const body = parseUpstreamBody(await c.req.json().catch(() => null))
  const i = Number(index)
  const reports: ResultReport[] = [
    ...body.items.filter((item) => item.taskUUID === child.taskUUID).map((item) => ({ index: i, item })),
    ...body.errors
      .filter((e) => (e.taskUUID ?? child.taskUUID) === child.taskUUID && e.code !== 'conflictTaskUUID')
      .map((e) => ({ index: i, error: failureOf(e) })),
  ]
  if (!reports.length) return c.json({ ok: true, ignored: 'no result for this task' })

  const outcome = await recorder.record(task, reports.slice(0, 1))
  if (outcome.pending.length) {
    // The image has not landed and could not be copied yet: ask Runware to retry.
    throw new ApiError(503, { code: 'imageNotStored', message: 'The image is not stored yet; retry' }, { 'retry-after': '5' })
  }
  return c.json({ ok: true })
})
