/** The `from`/`to` query of the usage routes: whole UTC days, inclusive. */
import * as z from 'zod'

const dayString = (name: string) => z.string().regex(/^\d{4}-\d{2}-\d{2}$/, `${name} must be a date like 2026-11-24`)

export const USAGE_GROUPS = ['key', 'model', 'day'] as const
export type UsageGroup = (typeof USAGE_GROUPS)[number]

/** `groupBy=key`, or several joined by commas (`day,key`: each day's usage per key). */
const groupBy = z
  .string()
  .transform((v) => v.split(',').map((g) => g.trim()))
  .pipe(
    z
      .array(z.enum(USAGE_GROUPS, { error: `groupBy must be key, model or day, or several joined by commas` }))
      .min(1)
      .refine((gs) => new Set(gs).size === gs.length, 'groupBy names a group twice'),
  )

export const usageQuerySchema = z
  .strictObject({ from: dayString('from').optional(), to: dayString('to').optional(), groupBy: groupBy.optional() })
  .transform(({ from, to, groupBy }, ctx) => {
    const today = new Date().toISOString().slice(0, 10)
    const range = { from: from ?? `${today.slice(0, 7)}-01`, to: to ?? today }
    if (range.from > range.to) ctx.addIssue({ code: 'custom', path: ['from'], message: 'from must not be after to' })
    return { ...range, groupBy: groupBy ?? [] }
  })
