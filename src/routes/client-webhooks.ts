/** /v1/webhooks — the caller's signing secret, its rotation, and replays from the delivery log. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
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
    if (!(await services(c).publisher.replay(c.get('tenant'), id))) throw notFound(id)
    return c.json({ data: { id, status: 'queued' } }, 202)
  })
