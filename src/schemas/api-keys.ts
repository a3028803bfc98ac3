/** Managed API keys: the admin API's request body and the record kept in KV. */
import * as z from 'zod'
import { unsafeTargetReason } from '../lib/url-safety'
import { MODEL_IDS } from '../models/registry'

/** Requests per minute a key may be limited to: each is a Rate Limiting binding (wrangler.jsonc). */
export const RATE_LIMIT_TIERS = [5, 30, 60, 300, 600, 1200] as const
export type RateLimitTier = (typeof RATE_LIMIT_TIERS)[number]

export const TENANT_ID = /^t[a-z0-9_]{1,40}$/

/** Where a budget's `budget.threshold` events go, and at which fractions of the budget: SSRF-checked like every client URL. */
export const alertsSchema = (development: boolean) =>
  z.strictObject({
    webhookURL: z.string({ error: 'alerts.webhookURL must be a URL string' }).superRefine((value, ctx) => {
      const reason = unsafeTargetReason(value, development)
      if (reason) ctx.addIssue({ code: 'custom', message: `alerts.webhookURL ${reason}`, params: { runwareCode: 'invalidWebhookURL' } })
    }),
    thresholds: z
      .array(z.number().gt(0, 'each threshold must be above 0').max(1, 'each threshold must be at most 1 (the whole budget)'))
      .min(1, 'alerts.thresholds needs at least one threshold')
      .max(10, 'alerts.thresholds takes at most 10 thresholds')
      .transform((ts) => [...new Set(ts)].sort((a, b) => a - b)),
  })
export type AlertsConfig = z.output<ReturnType<typeof alertsSchema>>

const budgetUSD = z.number().positive().max(1_000_000)
const budgetPeriod = z.enum(['day', 'month'])

/** A key's limits as the admin API takes them, on create and (each one nullable, to remove it) on PATCH. */
const limitFields = (development: boolean) => ({
  rateLimitPerMinute: z
    .number()
    .int()
    .refine((n) => (RATE_LIMIT_TIERS as readonly number[]).includes(n), {
      message: `rateLimitPerMinute must be one of ${RATE_LIMIT_TIERS.join(', ')}`,
      params: { allowedValues: RATE_LIMIT_TIERS },
    }),
  maxConcurrentTasks: z.number().int().min(1).max(10_000),
  budgetUSD,
  models: z.array(z.enum(MODEL_IDS as [string, ...string[]])).min(1),
  expiresAt: z.iso.datetime({ offset: true }),
  alerts: alertsSchema(development),
})

const nameSchema = z.string({ error: 'name is required' }).trim().min(1, 'name is required').max(100, 'name must be at most 100 characters')

export const createKeySchemaFor = (development: boolean) => {
  const f = limitFields(development)
  return z.strictObject({
    name: nameSchema,
    tenant: z.string().regex(TENANT_ID, 'tenant must look like t followed by lowercase letters, digits or _').optional(),
    rateLimitPerMinute: f.rateLimitPerMinute.optional(),
    maxConcurrentTasks: f.maxConcurrentTasks.optional(),
    budgetUSD: f.budgetUSD.optional(),
    budgetPeriod: budgetPeriod.default('month'),
    models: f.models.optional(),
    expiresAt: f.expiresAt.optional(),
    alerts: f.alerts.optional(),
  })
}
export const createKeySchema = createKeySchemaFor(false)
export type CreateKey = z.output<typeof createKeySchema>

/** PATCH /admin/keys/{id}: the fields given replace the key's; `null` removes a limit. */
export const updateKeySchemaFor = (development: boolean) => {
  const f = limitFields(development)
  return z.strictObject({
    name: nameSchema.optional(),
    rateLimitPerMinute: f.rateLimitPerMinute.nullable().optional(),
    maxConcurrentTasks: f.maxConcurrentTasks.nullable().optional(),
    budgetUSD: f.budgetUSD.nullable().optional(),
    budgetPeriod: budgetPeriod.optional(),
    models: f.models.nullable().optional(),
    expiresAt: f.expiresAt.nullable().optional(),
    alerts: f.alerts.nullable().optional(),
  })
}
export type UpdateKey = z.output<ReturnType<typeof updateKeySchemaFor>>

/** PUT /admin/tenants/{tenant}/budget: a budget for all of a tenant's keys together. */
export const tenantBudgetSchemaFor = (development: boolean) =>
  z.strictObject({ budgetUSD, budgetPeriod: budgetPeriod.default('month'), alerts: alertsSchema(development).optional() })
export const tenantBudgetSchema = tenantBudgetSchemaFor(false)

export interface KeyLimits {
  rateLimitPerMinute?: number
  maxConcurrentTasks?: number
  budgetUSD?: number
  budgetPeriod?: 'day' | 'month'
  models?: string[]
  alerts?: AlertsConfig
}

export interface KeyRecord extends KeyLimits {
  id: string
  tenant: string
  name: string
  /** The key's first characters, so people can tell keys apart without the secret. */
  prefix: string
  createdAt: string
  expiresAt?: string
  disabled: boolean
  rotatedAt?: string
}

/** Who is calling: the tenant, and the limits of the key that said so. */
export interface Principal {
  tenant: string
  keyId?: string
  limits: KeyLimits
}
