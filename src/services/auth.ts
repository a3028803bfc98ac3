/** Client API keys: the bootstrap keys from API_KEYS, each its own tenant. */
import { sha256Hex } from '../lib/crypto'
import type { Config } from '../schemas/config'

const tenantsByConfig = new WeakMap<Config, Promise<Map<string, string>>>()

/** Tenant ids come from a hash of the key: stable, opaque, and safe to put in paths. */
const tenantOfHash = (hash: string) => `t${hash.slice(0, 24)}`

function bootstrapTenants(config: Config): Promise<Map<string, string>> {
  let tenants = tenantsByConfig.get(config)
  if (!tenants) {
    tenants = Promise.all(config.API_KEYS.map(async (key) => sha256Hex(key))).then(
      (hashes) => new Map(hashes.map((hash) => [hash, tenantOfHash(hash)])),
    )
    tenantsByConfig.set(config, tenants)
  }
  return tenants
}

/** The tenant an API key belongs to, or null. Keys are compared by hash, never by value. */
export async function tenantForKey(config: Config, apiKey: string): Promise<string | null> {
  if (!apiKey) return null
  const tenants = await bootstrapTenants(config)
  return tenants.get(await sha256Hex(apiKey)) ?? null
}

/** The key in `Authorization: Bearer <key>`, if any. */
export function bearerToken(header: string | undefined): string | null {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  return match?.[1] ?? null
}
