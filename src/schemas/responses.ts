/** zod schemas of what the API answers: the source of the OpenAPI description's responses. */
import * as z from 'zod'

export const errorSchema = z
  .object({
    code: z.string().describe('Runware-style error code, e.g. invalidParameter, insufficientCredits'),
    message: z.string(),
    parameter: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe('The offending field, e.g. inputs.referenceImages[2]'),
    taskType: z.string().optional(),
    taskUUID: z.string().optional(),
    allowedValues: z.array(z.unknown()).optional(),
    status: z.literal('error').optional(),
    documentation: z.url().optional().describe("A page about the error: /docs/errors#<code>, or Runware's own page"),
  })
  .describe('One error')

export const errorEnvelopeSchema = z.object({ errors: z.array(errorSchema) }).describe("Runware's error envelope")

export const imageItemSchema = z
  .object({
    taskType: z.literal('imageInference'),
    taskUUID: z.string(),
    imageUUID: z.string(),
    imageURL: z.string().optional().describe('A gateway signed URL (outputType URL)'),
    imageBase64Data: z.string().optional(),
    imageDataURI: z.string().optional(),
    seed: z.number().int(),
    NSFWContent: z.boolean().optional(),
    cost: z.number().optional().describe('USD, with includeCost'),
    status: z.literal('success').optional().describe('On getResponse only'),
  })
  .describe('A finished result: exactly the shape of the model page examples')

export const v1ItemSchema = z.union([
  imageItemSchema,
  z.object({ taskType: z.literal('imageInference'), taskUUID: z.string() }).describe('Async acknowledgement'),
  z.object({ taskType: z.literal('imageInference'), taskUUID: z.string(), status: z.literal('processing') }).describe('Still running'),
  z.object({ taskType: z.literal('ping'), pong: z.literal(true) }),
  z
    .object({ taskType: z.literal('imageUpload'), taskUUID: z.string(), imageUUID: z.string(), imageURL: z.url() })
    .describe('A stored upload, with a signed URL serving its bytes'),
  z
    .object({
      taskType: z.literal('mediaStorage'),
      taskUUID: z.string(),
      operation: z.literal('upload'),
      mediaUUID: z.string(),
      mediaURL: z.url(),
    })
    .describe('mediaStorage upload: the stored media, with a signed URL serving its bytes'),
  z
    .object({ taskType: z.literal('mediaStorage'), taskUUID: z.string(), operation: z.literal('delete'), mediaUUID: z.string() })
    .describe('mediaStorage delete: the media is gone'),
])

export const v1ResponseSchema = z.object({ data: z.array(v1ItemSchema).optional(), errors: z.array(errorSchema).optional() })

export const taskResourceSchema = z.object({
  data: z.object({
    taskType: z.literal('imageInference'),
    taskUUID: z.string(),
    model: z.string(),
    status: z.enum(['processing', 'succeeded', 'failed']),
    deliveryMethod: z.enum(['sync', 'async']),
    numberResults: z.number().int(),
    width: z.number().int(),
    height: z.number().int(),
    outputFormat: z.enum(['JPG', 'PNG', 'WEBP']),
    createdAt: z.string(),
    completedAt: z.string().optional(),
    results: z.array(
      z.object({
        index: z.number().int(),
        status: z.enum(['succeeded', 'failed']),
        imageUUID: z.string().optional(),
        imageURL: z.string().optional(),
        seed: z.number().int().optional(),
        NSFWContent: z.boolean().optional(),
        cost: z.number().optional(),
        upload: z.object({ status: z.string(), attempts: z.number().int() }).optional(),
        error: z.object({ code: z.string(), message: z.string() }).optional(),
        completedAt: z.string(),
      }),
    ),
  }),
})

export const taskListSchema = z.object({
  data: z.array(taskResourceSchema.shape.data).describe('Newest first, each as GET /v1/tasks/{taskUUID} shows it'),
  nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null after the last'),
})

export const deliveriesSchema = z.object({
  data: z.array(
    z.object({
      id: z.string().describe('evt_{taskUUID}_{index} or upl_{taskUUID}_{index}: the webhook-id'),
      kind: z.enum(['webhook', 'upload']),
      event: z.string(),
      taskUUID: z.string(),
      index: z.number().int(),
      status: z.enum(['queued', 'retrying', 'delivered', 'cancelled', 'dead']),
      target: z.string(),
      createdAt: z.string(),
      windowStart: z.string(),
      attempts: z.array(
        z.object({ at: z.string(), status: z.number().int().nullable(), durationMs: z.number(), error: z.string().optional() }),
      ),
    }),
  ),
})

export const usageSchema = z.object({
  data: z.object({
    tenant: z.string(),
    from: z.string(),
    to: z.string(),
    images: z.number().int(),
    costUSD: z.number(),
    days: z.array(z.object({ day: z.string(), model: z.string(), images: z.number().int(), costUSD: z.number() })),
    groupBy: z.array(z.enum(['key', 'model', 'day'])).optional(),
    groups: z
      .array(
        z.object({
          keyId: z.string().nullable().optional().describe('null: the bootstrap key'),
          name: z.string().nullable().optional(),
          model: z.string().optional(),
          day: z.string().optional(),
          images: z.number().int(),
          costUSD: z.number(),
        }),
      )
      .optional()
      .describe('With groupBy: the sums per key (by id and name, never by secret), model and/or day'),
    budgets: z
      .array(
        z.object({
          keyId: z.string().nullable().describe("null: the tenant's own budget"),
          name: z.string().nullable().optional(),
          budgetUSD: z.number(),
          budgetPeriod: z.enum(['day', 'month']),
          periodStart: z.string(),
          spentUSD: z.number().describe('Settled spend in the current period'),
          reservedUSD: z.number().describe('Held for tasks still running'),
          used: z.number().describe('spentUSD / budgetUSD'),
          alerts: z.object({ webhookURL: z.string(), thresholds: z.array(z.number()) }).optional(),
        }),
      )
      .describe("Where the tenant's budget and each budgeted key's stand"),
  }),
})

export const storageSchema = z.object({
  data: z.object({
    tenant: z.string(),
    shards: z.array(
      z.object({
        shard: z.number().int(),
        bytes: z.number().int().describe("The shard object's SQLite size"),
        tasks: z.number().int(),
        images: z.number().int(),
      }),
    ),
    images: z.number().int(),
    fullestShard: z.number().int().nullable(),
    bytesPerImage: z.number().int().nullable().describe('In the fullest shard'),
    retainableImages: z.number().int().nullable().describe('Images the tenant can retain before its fullest shard reaches 10 GB'),
  }),
})

export const webhookSecretSchema = z.object({
  data: z.object({
    secret: z.string().describe('whsec_…'),
    version: z.number().int(),
    previous: z.object({ secret: z.string(), version: z.number().int(), expiresAt: z.string() }).optional(),
  }),
})

export const modelsSchema = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      creator: z.string(),
      capabilities: z.array(z.enum(['textToImage', 'imageToImage'])),
      sizes: z.array(z.object({ label: z.string(), width: z.number().int(), height: z.number().int() })),
      defaultSize: z.object({ label: z.string(), width: z.number().int(), height: z.number().int() }),
      positivePrompt: z.object({ minLength: z.number().int(), maxLength: z.number().int() }),
      outputTypes: z.array(z.string()),
      outputFormats: z.array(z.string()),
      outputQuality: z.object({ min: z.number().int(), max: z.number().int(), default: z.number().int() }),
      numberResults: z.object({ min: z.number().int(), max: z.number().int(), default: z.number().int() }),
      priceUSD: z.number(),
    }),
  ),
})

export const keyRecordSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  name: z.string(),
  prefix: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().optional(),
  disabled: z.boolean(),
  rateLimitPerMinute: z.number().int().optional(),
  maxConcurrentTasks: z.number().int().optional(),
  budgetUSD: z.number().optional(),
  budgetPeriod: z.enum(['day', 'month']).optional(),
  models: z.array(z.string()).optional(),
  alerts: z.object({ webhookURL: z.string(), thresholds: z.array(z.number()) }).optional(),
})
