/**
 * Where Runware's docs are silent or ambiguous, the emulator plays one reading, chosen here.
 * Each default is the least convenient documented reading, so the gateway is tested against it;
 * tests pick the other reading explicitly (for the whole emulator, or per fault rule).
 */

export interface Readings {
  /**
   * A sync task that carries a webhookURL. 'acknowledge': answered at once with an ack and its
   * results go to the webhook only (Runware's webhook page: "processes the request asynchronously";
   * its Python SDK README). 'wait': the sync reply carries the results too.
   */
  syncWithWebhook: 'acknowledge' | 'wait'
  /** Whether a failed result is POSTed to the webhook as `{errors:[…]}`; undocumented, so none by default. */
  webhookErrors: boolean
  /**
   * The upload PUT's Content-Type, undocumented: 'none', 'image' (the image's own type), 'binary'
   * (application/octet-stream), or 'mixed' (one of those at random, per upload).
   */
  uploadContentType: 'none' | 'image' | 'binary' | 'mixed'
  /** Probability that an image checked for safety comes back `NSFWContent: true`. */
  nsfwRate: number
  /** getResponse answers `taskExpired` for a task accepted longer ago than this. */
  taskExpirySeconds: number
}

export const DEFAULT_READINGS: Readings = {
  syncWithWebhook: 'acknowledge',
  webhookErrors: false,
  uploadContentType: 'mixed',
  nsfwRate: 0.2,
  taskExpirySeconds: 3600,
}

const CHOICES = {
  syncWithWebhook: ['acknowledge', 'wait'],
  uploadContentType: ['none', 'image', 'binary', 'mixed'],
} as const

/** Checks untrusted readings (from the control endpoint or a fault rule); returns an error message when bad. */
export function readingsError(value: Record<string, unknown>): string | undefined {
  for (const [key, allowed] of Object.entries(CHOICES)) {
    if (value[key] !== undefined && !(allowed as readonly unknown[]).includes(value[key]))
      return `${key} must be one of ${allowed.join(', ')}`
  }
  if (value.webhookErrors !== undefined && typeof value.webhookErrors !== 'boolean') return 'webhookErrors must be a boolean'
  for (const key of ['nsfwRate', 'taskExpirySeconds']) {
    if (value[key] !== undefined && (typeof value[key] !== 'number' || (value[key] as number) < 0))
      return `${key} must be a non-negative number`
  }
  return undefined
}

/** `base` with whatever readings `overrides` (a fault rule, say) sets; its other fields are ignored. */
export function readingsWith(base: Readings, overrides: Partial<Readings> | undefined): Readings {
  const picked = Object.fromEntries(
    (Object.keys(DEFAULT_READINGS) as (keyof Readings)[]).filter((k) => overrides?.[k] !== undefined).map((k) => [k, overrides?.[k]]),
  )
  return { ...base, ...picked }
}

/** The Content-Type an upload PUT carries under this reading, if any. */
export function uploadContentType(reading: Readings['uploadContentType'], mimeType: string): string | undefined {
  const choice = reading === 'mixed' ? (['none', 'image', 'binary'] as const)[Math.floor(Math.random() * 3)] : reading
  return choice === 'image' ? mimeType : choice === 'binary' ? 'application/octet-stream' : undefined
}
