/**
 * What Runware sends back: responses, getResponse answers and webhook bodies. Lenient by
 * design: Runware's docs show several shapes (an envelope, a legacy `error`, a flat webhook
 * item), and every one must be understood.
 */
import * as z from 'zod'

export const upstreamErrorSchema = z.looseObject({
  code: z.string().optional(),
  message: z.string().optional(),
  parameter: z.union([z.string(), z.array(z.string())]).optional(),
  taskType: z.string().optional(),
  taskUUID: z.string().optional(),
  allowedValues: z.array(z.unknown()).optional(),
  status: z.string().optional(),
})
export type UpstreamError = z.output<typeof upstreamErrorSchema>

export const upstreamItemSchema = z.looseObject({
  taskType: z.string().optional(),
  taskUUID: z.string(),
  imageUUID: z.string().optional(),
  imageURL: z.string().optional(),
  seed: z.number().optional(),
  cost: z.number().optional(),
  NSFWContent: z.boolean().optional(),
  status: z.string().optional(),
})
export type UpstreamItem = z.output<typeof upstreamItemSchema>

const errorList = z.union([z.array(upstreamErrorSchema), upstreamErrorSchema.transform((e) => [e])])

const envelopeSchema = z.looseObject({
  data: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown()).transform((d) => [d])]).optional(),
  errors: errorList.optional(),
  // Older servers said `error` (an object or an array) instead of `errors`.
  error: errorList.optional(),
})

export interface UpstreamBody {
  items: UpstreamItem[]
  errors: UpstreamError[]
}

/**
 * Normalises any Runware body — `{data,errors}`, legacy `{error}`, or a flat webhook item —
 * into items and errors. Unparseable entries are dropped, never thrown.
 */
export function parseUpstreamBody(body: unknown): UpstreamBody {
  const flat = upstreamItemSchema.safeParse(body)
  const envelope = envelopeSchema.safeParse(body)
  if (!envelope.success || (!envelope.data.data && !envelope.data.errors && !envelope.data.error)) {
    return { items: flat.success ? [flat.data] : [], errors: [] }
  }
  const items = (envelope.data.data ?? []).flatMap((d) => {
    const item = upstreamItemSchema.safeParse(d)
    return item.success ? [item.data] : []
  })
  return { items, errors: [...(envelope.data.errors ?? []), ...(envelope.data.error ?? [])] }
}
