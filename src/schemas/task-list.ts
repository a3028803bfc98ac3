/** The query of GET /v1/tasks, and its cursor: where the last page ended, `{createdAt}_{taskUUID}`. */
import * as z from 'zod'

const CURSOR = /^(\d{1,15})_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/

/** The cursor after a task; opaque to clients, who pass back `nextCursor` as it came. */
export const cursorAfter = (task: { createdAt: number; taskUUID: string }) => `${task.createdAt}_${task.taskUUID.toLowerCase()}`

export const taskListQuerySchema = z.strictObject({
  limit: z.preprocess(
    (v) => (v === undefined ? 20 : /^\d{1,4}$/.test(String(v)) ? Number(v) : v),
    z
      .number({ error: 'limit must be a whole number from 1 to 100' })
      .int()
      .min(1, 'limit must be at least 1')
      .max(100, 'limit must be at most 100'),
  ),
  cursor: z
    .string()
    .regex(CURSOR, 'cursor must be a nextCursor from an earlier page, unchanged')
    .transform((cursor) => {
      const [, createdAt, taskUUID] = CURSOR.exec(cursor) ?? []
      return { createdAt: Number(createdAt), taskUUID: taskUUID ?? '' }
    })
    .optional(),
  status: z.enum(['processing', 'succeeded', 'failed'], { error: 'status must be processing, succeeded or failed' }).optional(),
})
