/** zod schema for `imageInference` tasks, built from a model's registry entry. */
import * as z from 'zod'
import { UUID_V4 } from '../lib/ids'
import { isImageSourceProblem, parseImageSource } from '../lib/image-source'
import { unsafeTargetReason } from '../lib/url-safety'
import type { ModelSpec } from '../models/registry'
import { memo } from '../lib/memo'

export const taskUUIDSchema = z
  .string({ error: 'taskUUID is required and must be a UUID v4 string' })
  .regex(UUID_V4, 'taskUUID must be a UUID v4')

const int = (name: string, min: number, max: number) => {
  const message = `${name} must be an integer from ${min} to ${max}`
  return z.number({ error: message }).int(message).min(min, message).max(max, message)
}

/** A URL the gateway will call on the client's behalf: SSRF-checked, with the reason named. */
const target = (name: 'webhookURL' | 'uploadEndpoint', development: boolean) =>
  z.string({ error: `${name} must be a URL string` }).superRefine((value, ctx) => {
    const reason = unsafeTargetReason(value, development)
    if (reason) {
      const runwareCode = name === 'webhookURL' ? 'invalidWebhookURL' : 'invalidUploadEndpoint'
      ctx.addIssue({ code: 'custom', message: `${name} ${reason}`, params: { runwareCode } })
    }
  })

const enumOf = <T extends readonly [string, ...string[]]>(name: string, values: T) =>
  z.enum(values, { error: `${name} must be one of ${values.join(', ')}` })

const bool = (name: string) => z.boolean({ error: `${name} must be a boolean` })

/**
 * `inputs.referenceImages`: each entry an https URL, data URI, base64 or imageUUID, checked
 * against the model's limits; an entry's error names it (`inputs.referenceImages[2]`).
 */
const referenceImages = (model: ModelSpec) => {
  const { maxCount } = model.referenceImages
  const countMessage = `inputs.referenceImages must hold 1 to ${maxCount} images`
  return z
    .array(z.string({ error: 'each of inputs.referenceImages must be a string' }), {
      error: 'inputs.referenceImages must be an array of strings',
    })
    .min(1, countMessage)
    .max(maxCount, countMessage)
    .transform((values, ctx) =>
      values.map((value, i) => {
        const source = parseImageSource(value, model.referenceImages)
        if (!isImageSourceProblem(source)) return source
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `inputs.referenceImages[${i}] ${source.message}`,
          params: { runwareCode: source.code },
        })
        return z.NEVER
      }),
    )
}

/** The `imageInference` schema for one model; sizes, limits and formats come from its entry. */
export interface SchemaOptions {
  /** Development mode allows http://localhost client webhooks. */
  development: boolean
}

const built = new Map<string, ReturnType<typeof buildSchema>>()

/** The schema for a model, built once per isolate: zod schemas are costly to build and free to reuse. */
/** The longest a signed URL may live: a week, as for S3's and R2's presigned URLs. */
export const MAX_TTL_SECONDS = 7 * 86_400
const TTL_MESSAGE = `ttl must be an integer from 60 to ${MAX_TTL_SECONDS} seconds (7 days)`

/** C0 control characters other than tab, newline and carriage return, and UTF-16 surrogates without their pair. */
const CONTROL_OR_LONE_SURROGATE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export function imageInferenceSchema(model: ModelSpec, options: SchemaOptions = { development: false }) {
  return memo(built, `${model.id}:${options.development}`, () => buildSchema(model, options))
}

function buildSchema(model: ModelSpec, options: SchemaOptions) {
  const { prompt, outputQuality: q, numberResults: n } = model
  const promptMessage = `positivePrompt must be a string of ${prompt.minLength} to ${prompt.maxLength} characters`
  const sizeNames = model.sizes.map((s) => `${s.width}x${s.height}`)
  return z
    .strictObject({
      taskType: z.literal('imageInference'),
      taskUUID: taskUUIDSchema,
      model: z.literal(model.id),
      positivePrompt: z
        .string({ error: promptMessage })
        .min(prompt.minLength, promptMessage)
        .max(prompt.maxLength, promptMessage)
        .refine(
          (text) => !CONTROL_OR_LONE_SURROGATE.test(text),
          'positivePrompt must be text: no NUL or other control characters, no lone surrogates',
        ),
      width: z
        .number({ error: 'width must be an integer' })
        .int('width must be an integer')
        .optional()
        .describe(
          `Used with height; the pair must be one of ${sizeNames.join(', ')} (default ${model.defaultSize.width}x${model.defaultSize.height})`,
        ),
      height: z
        .number({ error: 'height must be an integer' })
        .int('height must be an integer')
        .optional()
        .describe(`Used with width; the pair must be one of ${sizeNames.join(', ')}`),
      outputType: enumOf('outputType', model.outputTypes).default('URL'),
      outputFormat: enumOf('outputFormat', model.outputFormats as ['JPG', 'PNG', 'WEBP']).default('JPG'),
      outputQuality: int('outputQuality', q.min, q.max).default(q.default),
      numberResults: int('numberResults', n.min, n.max).default(n.default),
      seed: int('seed', 0, Number.MAX_SAFE_INTEGER).optional(),
      deliveryMethod: enumOf('deliveryMethod', ['sync', 'async'] as const).default('sync'),
      webhookURL: target('webhookURL', options.development).optional(),
      uploadEndpoint: target('uploadEndpoint', options.development).optional(),
      ttl: z.number({ error: TTL_MESSAGE }).int(TTL_MESSAGE).min(60, TTL_MESSAGE).max(MAX_TTL_SECONDS, TTL_MESSAGE).optional(),
      includeCost: bool('includeCost').default(false),
      safety: z
        .strictObject({
          checkContent: bool('safety.checkContent').optional(),
          mode: enumOf('safety.mode', ['none', 'fast'] as const).optional(),
        })
        .optional(),
      checkNSFW: bool('checkNSFW').optional(),
      inputs: z.strictObject({ referenceImages: referenceImages(model).optional() }).optional(),
    })
    .superRefine((t, ctx) => {
      if ((t.width === undefined) !== (t.height === undefined)) {
        const missing = t.width === undefined ? 'width' : 'height'
        ctx.addIssue({
          code: 'custom',
          path: [missing],
          message: 'width and height must be used together',
          params: { runwareCode: 'missingParameter' },
        })
      } else if (t.width !== undefined && !model.sizes.some((s) => s.width === t.width && s.height === t.height)) {
        ctx.addIssue({
          code: 'custom',
          path: ['width'],
          message: `${t.width}x${t.height} is not a supported size for ${model.id}`,
          params: { allowedValues: sizeNames },
        })
      }
      if (t.seed !== undefined && !Number.isSafeInteger(t.seed + t.numberResults - 1)) {
        ctx.addIssue({ code: 'custom', path: ['seed'], message: 'seed + numberResults - 1 must stay a safe integer' })
      }
      if (t.inputs?.referenceImages !== undefined && !model.capabilities.includes('imageToImage')) {
        ctx.addIssue({
          code: 'custom',
          path: ['inputs', 'referenceImages'],
          message: `inputs.referenceImages (image to image) is not available on ${model.id}`,
          params: { runwareCode: 'unsupportedParameter' },
        })
      }
    })
    .transform(({ checkNSFW, inputs, width, height, safety, ...rest }) => ({
      ...rest,
      references: inputs?.referenceImages ?? [],
      width: width ?? model.defaultSize.width,
      height: height ?? model.defaultSize.height,
      // checkNSFW is the legacy alias of safety.checkContent; Runware's page lists only `safety`.
      safety:
        safety?.checkContent || checkNSFW
          ? { checkContent: true, mode: safety?.mode === 'none' ? ('none' as const) : ('fast' as const) }
          : undefined,
    }))
}

export type InferenceRequest = z.output<ReturnType<typeof buildSchema>>
