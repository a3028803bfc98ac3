/** zod schemas for the small task types of POST /v1. */
import * as z from 'zod'
import { taskUUIDSchema } from './image-inference'

export const getResponseSchema = z.strictObject({
  taskType: z.literal('getResponse'),
  taskUUID: taskUUIDSchema,
})

export const authenticationSchema = z.looseObject({
  taskType: z.literal('authentication'),
  apiKey: z.string(),
})

/** `imageUpload`: `image` is a data URI, base64 or an https URL; what it holds is checked by parseImageSource. */
export const imageUploadSchema = z.strictObject({
  taskType: z.literal('imageUpload'),
  taskUUID: taskUUIDSchema,
  image: z.string({ error: 'image must be a data URI, base64 image data or an https URL' }),
})

export const TASK_TYPES = ['imageInference', 'imageUpload', 'getResponse', 'ping'] as const
