/** The `from`/`to` query of the usage routes: whole UTC days, inclusive. */
import * as z from 'zod'

const dayString = (name: string) => z.string().regex(/^\d{4}-\d{2}-\d{2}$/, `${name} must be a date like 2026-11-24`)

export const usageQuerySchema = z
  .strictObject({ from: dayString('from').optional(), to: dayString('to').optional() })
  .transform(({ from, to }, ctx) => {
    const today = new Date().toISOString().slice(0, 10)
    const range = { from: from ?? `${today.slice(0, 7)}-01`, to: to ?? today }
    if (range.from > range.to) ctx.addIssue({ code: 'custom', path: ['from'], message: 'from must not be after to' })
    return range
  })
