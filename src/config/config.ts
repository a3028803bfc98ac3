/** Validates configuration once per isolate (module scope cannot see env) and caches the outcome. */
import * as z from 'zod'
import { ApiError } from '../lib/errors'
import { configSchema, type Config } from './schema'
import { memo } from '../lib/memo'

/** One line per bad setting, naming it; values are never echoed, since some are secrets. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`)
    this.name = 'ConfigError'
  }
}

const cache = new WeakMap<object, Config | ConfigError>()

function parse(env: object): Config | ConfigError {
  const result = configSchema.safeParse(env)
  if (result.success) return result.data
  return new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || 'config'} ${describe(i)}`))
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return 'is required'
  // Never echo zod's message for enums with the received value; name the allowed ones.
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.join(', ')}`
  return issue.message
}

/** The validated configuration, or a ConfigError naming every bad setting. */
export function readConfig(env: object): Config | ConfigError {
  return memo(cache, env, () => parse(env))
}

/** The validated configuration; throws a 503 ApiError naming the bad settings. */
export function requireConfig(env: object): Config {
  const config = readConfig(env)
  if (config instanceof ConfigError) {
    throw new ApiError(503, { code: 'gatewayMisconfigured', message: config.message })
  }
  return config
}
