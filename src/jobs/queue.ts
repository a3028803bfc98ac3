/** Queue consumers: client deliveries, their dead letters, and due reconciliations. Names match wrangler.jsonc. */
import { ConfigError, readConfig } from '../config/config'
import { log } from '../lib/log'
import { deliveryMessageSchema, type DeliveryMessage } from '../schemas/deliveries'
import { reconcileMessageSchema } from '../schemas/reconcile'
import { buildServices } from '../services'

export const DELIVERY_QUEUE = 'imagine-edge-webhooks'
export const DEAD_LETTER_QUEUE = 'imagine-edge-webhooks-dlq'
export const RECONCILE_QUEUE = 'imagine-edge-reconcile'

export async function queue(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const config = readConfig(env)
  // Retry the whole batch: nothing can be delivered until the configuration is fixed.
  if (config instanceof ConfigError) throw config
  // Tasks carry the origin their URLs were issued for, so jobs need none of their own.
  const { deliverer, reconciler } = buildServices(env, config, { origin: config.PUBLIC_BASE_URL ?? '', waitUntil: (p) => ctx.waitUntil(p) })
  switch (batch.queue) {
    case DELIVERY_QUEUE:
      await Promise.all(
        batch.messages.map(async (message) => {
          const body = deliveryMessageSchema.safeParse(message.body)
          if (!body.success) return message.ack() // malformed: retrying can't help
          const decision = await deliverer.deliver(body.data)
          if (decision.action === 'retry') return message.retry({ delaySeconds: decision.delaySeconds })
          if (decision.action === 'dead') await (env.DEAD_LETTERS as Queue<DeliveryMessage>).send(body.data)
          message.ack()
        }),
      )
      return
    case DEAD_LETTER_QUEUE:
      await Promise.all(
        batch.messages.map(async (message) => {
          const body = deliveryMessageSchema.safeParse(message.body)
          if (body.success) await deliverer.markDead(body.data)
          message.ack()
        }),
      )
      return
    case RECONCILE_QUEUE: {
      // One batch, one run: the reconciler polls Runware for all of its tasks together.
      const due = batch.messages.flatMap((m) => {
        const body = reconcileMessageSchema.safeParse(m.body)
        return body.success ? [body.data] : []
      })
      const report = await reconciler.run(due)
      log('info', 'reconciled', { ...report })
      batch.ackAll()
      return
    }
    default:
      throw new Error(`No consumer for queue "${batch.queue}"`)
  }
}
