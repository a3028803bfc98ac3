/** POST /webhooks/runware/{tenant}/{taskUUID}/{index}.{ext} — Runware's completion callbacks. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import { childTaskUUID } from '../lib/ids'
import { EXTENSIONS, type ImageFormat } from '../lib/image-type'
import type { ResultReport } from '../tasks/result-recorder'
import { parseUpstreamBody } from '../schemas/upstream'
import { failureOf } from '../upstream/upstream-errors'
import { services } from './middleware'

const forged = () => new ApiError(401, { code: 'invalidWebhookToken', message: 'The webhook token is not valid for this task' })

const FORMATS = new Map(Object.entries(EXTENSIONS).map(([format, ext]) => [ext, format as ImageFormat]))

export const webhookRoutes = new Hono<AppEnv>().post('/runware/:tenant/:taskUUID/:result{[0-9]{1,2}\\.[a-z]{3,4}}', async (c) => {
  const { tenant, taskUUID, result } = c.req.param()
  const { signer, recorder } = services(c)
  // The token binds tenant, task, result and format: anything else is a forgery and changes nothing.
  if (!(await signer.checkRunwareWebhook(`${tenant}/${taskUUID}/${result}`, c.req.query('token')))) throw forged()
  const dot = result.indexOf('.')
  const index = Number(result.slice(0, dot))
  const outputFormat = FORMATS.get(result.slice(dot + 1))
  // Stryker disable next-line ConditionalExpression: unreachable past the token, which only the gateway signs, and only for real formats (refusing every format is a curated mutant)
  if (!outputFormat) throw forged()

  // The child's UUID is derived, not stored, so the webhook needs no read of the task to check it.
  const child = await childTaskUUID(tenant, taskUUID, index)
  // Stryker disable next-line ArrowFunction: an unreadable body as null or as undefined is the same invalid body
  const body = parseUpstreamBody(await c.req.json().catch(() => null))
  const reports: ResultReport[] = [
    ...body.items.filter((item) => item.taskUUID === child).map((item) => ({ index, item })),
    ...body.errors
      .filter((e) => (e.taskUUID ?? child) === child && e.code !== 'conflictTaskUUID')
      .map((e) => ({ index, error: failureOf(e) })),
  ]
  // One result per child: the first report for it is the one recorded.
  const report = reports[0]
  if (!report) return c.json({ ok: true, ignored: 'no result for this task' })

  const outcome = await recorder.record({ tenant, taskUUID, outputFormat }, [report])
  // A task abandoned or deleted since: acknowledge, so Runware stops retrying.
  if (!outcome.task) return c.json({ ok: true, ignored: 'unknown task' })
  if (outcome.pending.length) {
    // The image has not landed and could not be copied yet: ask Runware to retry.
    throw new ApiError(503, { code: 'imageNotStored', message: 'The image is not stored yet; retry' }, { 'retry-after': '5' })
  }
  return c.json({ ok: true })
})
