/**
 * Requests per minute per key, on Cloudflare's Rate Limiting binding. The binding's limit is
 * fixed in wrangler.jsonc, so each allowed rate is its own binding (a tier); a key's
 * `rateLimitPerMinute` picks one. Counting is per Cloudflare location and approximate by
 * design (the binding's documented behaviour): a limit against abuse, not a meter.
 */
import { ApiError } from '../lib/errors'
import { RATE_LIMIT_TIERS, type Principal, type RateLimitTier } from '../schemas/api-keys'

const PERIOD_SECONDS = 60

const bindingOf = (env: Env, tier: RateLimitTier): RateLimit => env[`RATE_LIMIT_${tier}`]

const isTier = (n: number): n is RateLimitTier => (RATE_LIMIT_TIERS as readonly number[]).includes(n)

/** The `RateLimit-*` headers for a limit (the binding does not say how many remain). */
export const rateLimitHeaders = (limit: number): Record<string, string> => ({
  'ratelimit-limit': String(limit),
  'ratelimit-policy': `${limit};w=${PERIOD_SECONDS}`,
})

/** Sets those headers on a response: every API response has them. */
export function setRateLimitHeaders(headers: Headers, limit: number): void {
  for (const [name, value] of Object.entries(rateLimitHeaders(limit))) headers.set(name, value)
}

/**
 * Per-IP limits on what no key pays for: failed authentications (so a key cannot be guessed at
 * speed), admin requests, and WebSocket upgrades (each wakes a session object before any key is seen).
 */
const GUARDS = { unauthenticated: 300, admin: 300, upgrade: 600 } as const satisfies Record<string, RateLimitTier>
export type Guard = keyof typeof GUARDS

/** The 429 past a limit of `limit` a minute, saying when the window ends. */
function tooMany(limit: number, what: string): ApiError {
  const secondsLeft = PERIOD_SECONDS - Math.floor((Date.now() / 1000) % PERIOD_SECONDS)
  return new ApiError(
    429,
    { code: 'rateLimitExceeded', message: `${what}; retry after ${secondsLeft} s` },
    { 'retry-after': String(secondsLeft), 'ratelimit-remaining': '0', 'ratelimit-reset': String(secondsLeft), ...rateLimitHeaders(limit) },
  )
}

export class RateLimits {
  constructor(
    private readonly env: Env,
    /** DEFAULT_RATE_LIMIT_PER_MINUTE: for keys without a limit of their own. */
    private readonly defaultPerMinute: number,
  ) {}

  /** Counts one `guard` request from `ip`; throws a Runware-style 429 past its limit. */
  async guard(guard: Guard, ip: string): Promise<void> {
    const limit = GUARDS[guard]
    const { success } = await bindingOf(this.env, limit).limit({ key: `${guard}:${ip}` })
    if (!success)
      throw tooMany(
        limit,
        `This address is limited to ${limit} ${guard === 'unauthenticated' ? 'failed authentications' : `${guard} requests`} per minute`,
      )
  }

  /** Counts one request for the caller's key and returns its limit; throws a Runware-style 429 past it. */
  async enforce(principal: Principal): Promise<number> {
    const wanted = principal.limits.rateLimitPerMinute ?? this.defaultPerMinute
    const tier = isTier(wanted) ? wanted : 600
    const { success } = await bindingOf(this.env, tier).limit({ key: principal.keyId ?? principal.tenant })
    if (success) return tier
    throw tooMany(tier, `This API key is limited to ${tier} requests per minute`)
  }
}
