/** Queue messages for client deliveries, and the delivery log's records. */
import * as z from 'zod'

const taskDeliverySchema = z.object({
  v: z.literal(1),
  /** A result's webhook event, or the copy of its image to the client's uploadEndpoint. */
  kind: z.enum(['webhook', 'upload']),
  tenant: z.string().min(1),
  taskUUID: z.string().min(1),
  index: z.number().int().min(0),
  /** A client asked for it again: deliver even if an earlier attempt succeeded. */
  replay: z.boolean().optional(),
})

/** A budget's threshold event: whole in the message, since no task holds it (src/tenant/budget-alerts.ts). */
export const alertMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal('alert'),
  tenant: z.string().min(1),
  /** `bud_{key id or tenant}_{period start}_{threshold in %}`: the webhook-id, the same on every attempt. */
  id: z.string().regex(/^bud_[\w-]{1,80}_\d{4}-\d{2}-\d{2}_\d{1,3}$/),
  url: z.string().min(1),
  event: z.record(z.string(), z.unknown()),
  replay: z.boolean().optional(),
})
export type AlertMessage = z.output<typeof alertMessageSchema>

export const deliveryMessageSchema = z.union([taskDeliverySchema, alertMessageSchema])
export type TaskDeliveryMessage = z.output<typeof taskDeliverySchema>
export type DeliveryMessage = z.output<typeof deliveryMessageSchema>
export type DeliveryKind = TaskDeliveryMessage['kind']

export interface DeliveryAttempt {
  at: string
  /** The receiver's HTTP status; null when it never answered. */
  status: number | null
  durationMs: number
  error?: string
}

export type DeliveryStatus = 'queued' | 'retrying' | 'delivered' | 'cancelled' | 'dead'

export interface DeliveryRecord {
  id: string
  kind: DeliveryKind | 'alert'
  /** `result.succeeded` or `result.failed` for webhooks; `result.upload` for copies. */
  event: string
  taskUUID: string
  index: number
  status: DeliveryStatus
  /** The target without its query string (presigned URLs carry secrets there). */
  target: string
  createdAt: string
  /** The retry window runs from here: the first publication, or the latest replay. */
  windowStart: string
  attempts: DeliveryAttempt[]
  /** An alert's message, kept so a replay can send it again (never shown: the URL may hold secrets). */
  message?: AlertMessage
}
