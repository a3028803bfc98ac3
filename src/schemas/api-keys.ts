/** Managed API keys: the admin API's request body and the record kept in KV. */
import * as z from 'zod'
import { MODEL_IDS } from '../models/registry'

/** Requests per minute a key may be limited to: each is a Rate Limiting binding (wrangler.jsonc). */
export const RATE_LIMIT_TIERS = [5, 30, 60, 300, 600, 1200] as const
export type RateLimitTier = (typeof RATE_LIMIT_TIERS)[number]

export const TENANT_ID = /^t[a-z0-9_]{1,40}$/

export const createKeySchema = z.strictObject({
  name: z.string({ error: 'name is required' }).trim().min(1, 'name is required').max(100, 'name must be at most 100 characters'),
  tenant: z.string().regex(TENANT_ID, 'tenant must look like t followed by lowercase letters, digits or _').optional(),
  rateLimitPerMinute: z
    .number()
    .int()
    .refine((n) => (RATE_LIMIT_TIERS as readonly number[]).includes(n), {
      message: `rateLimitPerMinute must be one of ${RATE_LIMIT_TIERS.join(', ')}`,
      params: { allowedValues: RATE_LIMIT_TIERS },
    })
    .optional(),
  maxConcurrentTasks: z.number().int().min(1).max(10_000).optional(),
  budgetUSD: z.number().positive().max(1_000_000).optional(),
  budgetPeriod: z.enum(['day', 'month']).default('month'),
  models: z
    .array(z.enum(MODEL_IDS as [string, ...string[]]))
    .min(1)
    .optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
})
export type CreateKey = z.output<typeof createKeySchema>

export interface KeyLimits {
  rateLimitPerMinute?: number
  maxConcurrentTasks?: number
  budgetUSD?: number
  budgetPeriod?: 'day' | 'month'
  models?: string[]
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
