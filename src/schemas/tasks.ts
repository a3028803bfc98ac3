/** zod schemas for the small task types of POST /v1. */
import * as z from 'zod'
import { taskUUIDSchema } from './image-inference'

export const getResponseSchema = z.strictObject({
  taskType: z.literal('getResponse'),
  taskUUID: taskUUIDSchema,
})

export const pingSchema = z.looseObject({ taskType: z.literal('ping') })

export const authenticationSchema = z.looseObject({
  taskType: z.literal('authentication'),
  apiKey: z.string(),
})

export const TASK_TYPES = ['imageInference', 'getResponse', 'ping'] as const
