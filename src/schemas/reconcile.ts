/** Messages on the reconcile queue: one task whose due time came (src/tenant/shard-upkeep.ts). */
import * as z from 'zod'

export const reconcileMessageSchema = z.object({
  v: z.literal(1),
  tenant: z.string().min(1),
  taskUUID: z.string().min(1),
})

export type ReconcileMessage = z.infer<typeof reconcileMessageSchema>
