/** /v1/webhooks — the caller's signing secret, its rotation, and replays from the delivery log. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import { parseEventId } from '../lib/storage-keys'
import type { DeliveryMessage } from '../schemas/deliveries'
import { WebhookSecrets } from '../deliveries/webhook-secrets'
import { requireTenant, services } from './middleware'

const notFound = (id: string) =>
  new ApiError(404, { code: 'deliveryNotFound', message: `No delivery ${id} for this API key`, parameter: 'id' })

export const clientWebhookRoutes = new Hono<AppEnv>()
  .use('*', requireTenant)
  .get('/secret', async (c) => c.json({ data: WebhookSecrets.describe(await services(c).secrets.forTenant(c.get('tenant'))) }))
  .post('/secret/rotate', async (c) => c.json({ data: WebhookSecrets.describe(await services(c).secrets.rotate(c.get('tenant'))) }))
  .post('/deliveries/:id/replay', async (c) => {
    const id = c.req.param('id')
    const parts = parseEventId(id)
    const { deliveryLog } = services(c)
    const record = parts ? await deliveryLog.get(c.get('tenant'), parts.taskUUID, id) : null
    if (!parts || !record) throw notFound(id)
    const message: DeliveryMessage = {
      v: 1,
      kind: parts.kind,
      tenant: c.get('tenant'),
      taskUUID: parts.taskUUID,
      index: parts.index,
      replay: true,
    }
    await (c.env.DELIVERIES as Queue<DeliveryMessage>).send(message)
    await deliveryLog.put(c.get('tenant'), { ...record, status: 'queued' })
    return c.json({ data: { id, status: 'queued' } }, 202)
  })
