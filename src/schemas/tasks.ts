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

/** `mediaStorage`: `media` is the image to upload (as for imageUpload), or the mediaUUID to delete. */
export const mediaStorageSchema = z.strictObject({
  taskType: z.literal('mediaStorage'),
  taskUUID: taskUUIDSchema,
  operation: z.enum(['upload', 'delete']),
  media: z.string({ error: 'media must be a data URI, base64 image data or an https URL to upload, or a mediaUUID to delete' }),
})

export const TASK_TYPES = ['imageInference', 'imageUpload', 'mediaStorage', 'getResponse', 'ping'] as const
