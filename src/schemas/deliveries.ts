/** Queue messages for client deliveries, and the delivery log's records. */
import * as z from 'zod'

export const deliveryMessageSchema = z.object({
  v: z.literal(1),
  /** A result's webhook event, or the copy of its image to the client's uploadEndpoint. */
  kind: z.enum(['webhook', 'upload']),
  tenant: z.string().min(1),
  taskUUID: z.string().min(1),
  index: z.number().int().min(0),
  /** A client asked for it again: deliver even if an earlier attempt succeeded. */
  replay: z.boolean().optional(),
})
export type DeliveryMessage = z.output<typeof deliveryMessageSchema>
export type DeliveryKind = DeliveryMessage['kind']

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
  kind: DeliveryKind
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
}
