/** Queue consumers: client deliveries, their dead letters, and due reconciliations. Names match wrangler.jsonc. */
import { ConfigError, readConfig } from '../config/config'
import { log } from '../lib/log'
import { deliveryMessageSchema, type DeliveryMessage } from '../schemas/deliveries'
import { reconcileMessageSchema, type ReconcileMessage } from '../schemas/reconcile'
import { buildServices } from '../services'

export const DELIVERY_QUEUE = 'imagine-edge-webhooks'
export const DEAD_LETTER_QUEUE = 'imagine-edge-webhooks-dlq'
export const RECONCILE_QUEUE = 'imagine-edge-reconcile'
export const RECONCILE_DEAD_LETTERS = 'imagine-edge-reconcile-dlq'

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
      const due: { message: Message<unknown>; body: ReconcileMessage }[] = []
      for (const message of batch.messages) {
        const body = reconcileMessageSchema.safeParse(message.body)
        if (body.success) due.push({ message, body: body.data })
        else message.ack() // malformed: retrying can't help
      }
      try {
        // One batch, one run: the reconciler polls Runware for all of its tasks together.
        log('info', 'reconciled', { ...(await reconciler.run(due.map((d) => d.body))) })
        for (const { message } of due) message.ack()
      } catch {
        // One task that cannot be reconciled must not hold the others back: each alone, and only
        // the failures retried (after max_retries, to the dead-letter queue; the object sends the task again later).
        for (const { message, body } of due) {
          try {
            await reconciler.run([body])
            message.ack()
          } catch (error) {
            log('error', 'reconcile failed', { tenant: body.tenant, taskUUID: body.taskUUID, error: String(error) })
            message.retry()
          }
        }
      }
      return
    }
    case RECONCILE_DEAD_LETTERS: {
      for (const message of batch.messages) {
        const body = reconcileMessageSchema.safeParse(message.body)
        log('error', 'reconcile dead-lettered', body.success ? { tenant: body.data.tenant, taskUUID: body.data.taskUUID } : {})
        message.ack()
      }
      return
    }
    default:
      throw new Error(`No consumer for queue "${batch.queue}"`)
  }
}
