/** The gateway's configuration: every var and secret (README's Configuration table), validated with zod. */
import * as z from 'zod'
import { RATE_LIMIT_TIERS } from '../schemas/api-keys'
import { MAX_TTL_SECONDS } from '../schemas/image-inference'
import { DEFAULT_SHARD_PLAN, parseShardPlan } from './shard-plan'

const text = z.string().trim()
const optionalText = z.preprocess((v) => (v === '' ? undefined : v), text.min(1).optional())

/** Seconds as a var: vars arrive as strings (`--var NAME:VALUE`), so coerce them. */
const seconds = (fallback: number, min: number, max: number) =>
  z.preprocess(
    (v) => (v === undefined || v === '' ? fallback : typeof v === 'string' ? Number(v) : v),
    z.number({ error: 'must be a whole number of seconds' }).int('must be a whole number of seconds').min(min).max(max),
  )

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
const list = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : v,
  z.array(z.string()),
)

const DAY_SECONDS = 86_400

export const configSchema = z
  .object({
    RUNWARE_API_URL: z.preprocess((v) => (v === '' ? undefined : v), httpUrl.default('https://api.runware.ai/v1')),
    PUBLIC_BASE_URL: z.preprocess((v) => (v === '' ? undefined : v), httpUrl.optional()),
    UPLOAD_MODE: z.preprocess((v) => (v === '' ? undefined : v), z.enum(['r2-presigned', 'worker']).optional()),
    R2_ACCOUNT_ID: optionalText,
    R2_BUCKET_NAME: text.min(1).default('imagine-edge-images'),
    R2_S3_ENDPOINT: z.preprocess((v) => (v === '' ? undefined : v), httpUrl.optional()),
    SIGNED_URL_TTL_SECONDS: seconds(3600, 60, MAX_TTL_SECONDS),
    // Cloudflare's proxy gives up on a response after ~100 s; stay under it.
    SYNC_TIMEOUT_SECONDS: seconds(85, 1, 95),
    RECONCILE_AFTER_SECONDS: seconds(120, 10, DAY_SECONDS),
    TASK_DEADLINE_SECONDS: seconds(900, 60, 7 * DAY_SECONDS),
    // The first retry delay of client webhooks; each retry doubles it, up to the cap.
    WEBHOOK_RETRY_BASE_SECONDS: seconds(30, 1, 3600),
    // Queues hold a message back at most 12 h.
    WEBHOOK_RETRY_MAX_SECONDS: seconds(6 * 3600, 1, 12 * 3600),
    // Requests per minute for keys without their own limit: one of the Rate Limiting tiers.
    DEFAULT_RATE_LIMIT_PER_MINUTE: z.preprocess(
      (v) => (v === undefined || v === '' ? 600 : Number(v)),
      z.number().refine((n) => (RATE_LIMIT_TIERS as readonly number[]).includes(n), `must be one of ${RATE_LIMIT_TIERS.join(', ')}`),
    ),
    TENANT_SHARDS: z
      .preprocess((v) => (v === undefined || v === '' ? DEFAULT_SHARD_PLAN : v), z.string())
      .transform((text, ctx) => {
        const plan = parseShardPlan(text)
        if (typeof plan === 'string') ctx.addIssue({ code: 'custom', message: plan })
        return typeof plan === 'string' ? (parseShardPlan(DEFAULT_SHARD_PLAN) as Exclude<typeof plan, string>) : plan
      }),
    // The widths a signed image URL may ask for with `&w=`: a short list bounds what transforming costs.
    IMAGE_VARIANT_WIDTHS: z.preprocess(
      (v) =>
        String(v === undefined || v === '' ? '256,512,1024' : v)
          .split(',')
          .map((w) => (w.trim() === '' ? NaN : Number(w))),
      z
        .array(
          z
            .number()
            .int('each width must be a whole number')
            .min(16, 'each width must be at least 16')
            .max(4096, 'each width must be at most 4096'),
        )
        .min(1, 'must list at least one width')
        .max(12, 'must list at most 12 widths'),
    ),
    ENVIRONMENT: z.preprocess((v) => (v === '' ? undefined : v), z.enum(['development', 'production']).default('production')),
    CORS_ORIGINS: list.default([]),
    // Log successful reads too (lib/request-log); writes and failures are always logged.
    LOG_READS: z.preprocess((v) => (v === '' ? undefined : v), z.enum(['true', 'false']).default('false')).transform((v) => v === 'true'),
    RUNWARE_API_KEY: text.min(1, 'is required (wrangler secret put RUNWARE_API_KEY)'),
    SIGNING_SECRET: text.min(32, 'must be at least 32 characters (wrangler secret put SIGNING_SECRET)'),
    // The secret SIGNING_SECRET replaced: still accepted on URLs and tokens (and still signing client
    // webhooks beside the new one) while a rotation settles. Remove it once URLs signed with it have expired.
    SIGNING_SECRET_PREVIOUS: optionalText,
    R2_ACCESS_KEY_ID: optionalText,
    R2_SECRET_ACCESS_KEY: optionalText,
    // Guards every key and every tenant's usage: long enough that guessing it is hopeless.
    ADMIN_TOKEN: optionalText.refine(
      (v) => v === undefined || v.length >= 32,
      'must be at least 32 characters (wrangler secret put ADMIN_TOKEN)',
    ),
    API_KEYS: list.pipe(
      z
        .array(z.string().min(16, 'each key must be at least 16 characters'))
        .min(1, 'must list at least one client key (wrangler secret put API_KEYS)'),
    ),
  })
  .superRefine((c, ctx) => {
    if (c.WEBHOOK_RETRY_MAX_SECONDS < c.WEBHOOK_RETRY_BASE_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_RETRY_MAX_SECONDS'], message: 'must be at least WEBHOOK_RETRY_BASE_SECONDS' })
    }
    if (c.UPLOAD_MODE !== 'r2-presigned') return
    for (const name of ['R2_ACCESS_KEY_ID', 'R2_SECRET_ACCESS_KEY'] as const) {
      if (!c[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'is required when UPLOAD_MODE is r2-presigned' })
    }
    if (!c.R2_ACCOUNT_ID && !c.R2_S3_ENDPOINT) {
      ctx.addIssue({ code: 'custom', path: ['R2_ACCOUNT_ID'], message: 'or R2_S3_ENDPOINT is required when UPLOAD_MODE is r2-presigned' })
    }
  })
  .transform((c) => {
    const canPresign = Boolean(c.R2_ACCESS_KEY_ID && c.R2_SECRET_ACCESS_KEY && (c.R2_ACCOUNT_ID || c.R2_S3_ENDPOINT))
    return {
      ...c,
      PUBLIC_BASE_URL: c.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
      // r2-presigned is the default wherever S3 credentials exist; worker mode needs none.
      UPLOAD_MODE: c.UPLOAD_MODE ?? (canPresign ? 'r2-presigned' : 'worker'),
      R2_S3_ENDPOINT: (c.R2_S3_ENDPOINT ?? `https://${c.R2_ACCOUNT_ID ?? 'unset'}.r2.cloudflarestorage.com`).replace(/\/+$/, ''),
    }
  })

export type Config = z.output<typeof configSchema>
