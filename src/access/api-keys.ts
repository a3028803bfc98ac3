/**
 * Managed API keys in KV, beside the bootstrap keys of API_KEYS. Only a SHA-256 of each key is
 * stored; the key itself is shown once, at creation or rotation. KV is eventually consistent:
 * a disabled or rotated key may keep working for up to ~60 s in other locations.
 */
import type { Config } from '../config/schema'
import { BoundedCache } from '../lib/bounded-cache'
import { sha256Hex } from '../lib/crypto'
import { toHex } from '../lib/encoding'
import { log } from '../lib/log'
import { KV_KEY_ID_PREFIX, kvApiKeyKey, kvKeyIdKey } from '../lib/storage-keys'
import type { CreateKey, KeyRecord, Principal, UpdateKey } from '../schemas/api-keys'
import { memo } from '../lib/memo'

/** Recognisable to secret scanners, and to people. */
export const KEY_PREFIX = 'ie_live_'

const random = (bytes: number) => toHex(crypto.getRandomValues(new Uint8Array(bytes)))

/** Tenant ids of bootstrap keys come from a hash of the key: stable, opaque, safe in paths. */
const tenantOfHash = (hash: string) => `t${hash.slice(0, 24)}`
export const bootstrapTenant = async (apiKey: string) => tenantOfHash(await sha256Hex(apiKey))
const bootstrapByConfig = new WeakMap<Config, Promise<Map<string, string>>>()

const bootstrapTenants = (config: Config): Promise<Map<string, string>> =>
  memo(bootstrapByConfig, config, () =>
    Promise.all(config.API_KEYS.map((key) => sha256Hex(key))).then((hashes) => new Map(hashes.map((h) => [h, tenantOfHash(h)]))),
  )

/** Key hashes this isolate computed lately: clients send the same key on every request. */
const hashes = new BoundedCache<Promise<string>>(1000)
const hashOf = (apiKey: string) => hashes.get(apiKey, () => sha256Hex(apiKey))

/** An audit line: structured, and never with a key or a secret in it. */
export const audit = (action: string, fields: Record<string, unknown>) => log('info', 'audit', { action, ...fields })

export class ApiKeys {
  constructor(
    private readonly kv: KVNamespace,
    private readonly config: Config,
  ) {}

  /** Who a key belongs to, or null for an unknown, disabled or expired key. */
  async resolve(apiKey: string, now = Date.now()): Promise<Principal | null> {
    if (!apiKey) return null
    const hash = await hashOf(apiKey)
    const bootstrap = (await bootstrapTenants(this.config)).get(hash)
    if (bootstrap) return { tenant: bootstrap, limits: {} }
    if (!apiKey.startsWith(KEY_PREFIX)) return null
    const record = await this.kv.get<KeyRecord>(kvApiKeyKey(hash), { type: 'json', cacheTtl: 60 })
    if (!record || record.disabled || (record.expiresAt && Date.parse(record.expiresAt) <= now)) return null
    const { rateLimitPerMinute, maxConcurrentTasks, budgetUSD, budgetPeriod, models, alerts } = record
    return {
      tenant: record.tenant,
      keyId: record.id,
      limits: { rateLimitPerMinute, maxConcurrentTasks, budgetUSD, budgetPeriod, models, ...(alerts ? { alerts } : {}) },
    }
  }

  async create(input: CreateKey, now = new Date()): Promise<{ key: string; record: KeyRecord }> {
    const key = `${KEY_PREFIX}${random(24)}`
    const record: KeyRecord = {
      id: `key_${random(8)}`,
      tenant: input.tenant ?? `t${random(12)}`,
      name: input.name,
      prefix: key.slice(0, KEY_PREFIX.length + 4),
      createdAt: now.toISOString(),
      disabled: false,
      budgetPeriod: input.budgetPeriod,
      ...(input.expiresAt ? { expiresAt: new Date(input.expiresAt).toISOString() } : {}),
      ...(input.rateLimitPerMinute ? { rateLimitPerMinute: input.rateLimitPerMinute } : {}),
      ...(input.maxConcurrentTasks ? { maxConcurrentTasks: input.maxConcurrentTasks } : {}),
      ...(input.budgetUSD ? { budgetUSD: input.budgetUSD } : {}),
      ...(input.models ? { models: input.models } : {}),
      ...(input.alerts ? { alerts: input.alerts } : {}),
    }
    await this.save(await sha256Hex(key), record)
    audit('key.create', { keyId: record.id, tenant: record.tenant, name: record.name })
    return { key, record }
  }

  async list(): Promise<KeyRecord[]> {
    const records: KeyRecord[] = []
    let cursor: string | undefined
    do {
      const page = await this.kv.list<KeyRecord>({ prefix: KV_KEY_ID_PREFIX, cursor })
      for (const k of page.keys) if (k.metadata) records.push(k.metadata)
      cursor = page.list_complete ? undefined : page.cursor
    } while (cursor)
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  /**
   * The ids and names of those of `ids` that are the tenant's keys, from the id index's metadata,
   * read in bulk (KV's limit: 100 keys a call): naming a tenant's keys costs its own keys, not a
   * list of every tenant's.
   */
  async names(tenant: string, ids: readonly string[]): Promise<{ id: string; name: string }[]> {
    const unique = [...new Set(ids)].map(kvKeyIdKey)
    const chunks = Array.from({ length: Math.ceil(unique.length / 100) }, (_, i) => unique.slice(i * 100, i * 100 + 100))
    const found = await Promise.all(chunks.map((chunk) => this.kv.getWithMetadata<KeyRecord>(chunk)))
    return found
      .flatMap((map) => [...map.values()])
      .flatMap(({ metadata }) => (metadata?.tenant === tenant ? [{ id: metadata.id, name: metadata.name }] : []))
  }

  /** The tenant a key id belongs to (which never changes), or null for an unknown id. */
  async tenantOfKey(id: string): Promise<string | null> {
    return (await this.find(id))?.record.tenant ?? null
  }

  /** Call only inside the key's tenant ledger object (keyTransition), which runs one transition of a key at a time. */
  async disable(id: string): Promise<KeyRecord | null> {
    const found = await this.find(id)
    if (!found) return null
    const record = { ...found.record, disabled: true }
    await this.save(found.hash, record)
    audit('key.disable', { keyId: id, tenant: record.tenant })
    return record
  }

  /** Changes a key's name or limits (`null` removes one). Only inside keyTransition, as disable. */
  async update(id: string, patch: UpdateKey): Promise<KeyRecord | null> {
    const found = await this.find(id)
    if (!found) return null
    const record: Record<string, unknown> = { ...found.record }
    for (const [field, value] of Object.entries(patch)) {
      if (value === null) delete record[field]
      else if (value !== undefined) record[field] = value
    }
    await this.save(found.hash, record as unknown as KeyRecord)
    audit('key.update', { keyId: id, tenant: found.record.tenant, fields: Object.keys(patch) })
    return record as unknown as KeyRecord
  }

  /** A new key for the same tenant and limits; the old one stops working. Only inside keyTransition, as disable. */
  async rotate(id: string, now = new Date()): Promise<{ key: string; record: KeyRecord } | null> {
    const found = await this.find(id)
    if (!found) return null
    const key = `${KEY_PREFIX}${random(24)}`
    const record: KeyRecord = { ...found.record, prefix: key.slice(0, KEY_PREFIX.length + 4), rotatedAt: now.toISOString() }
    await this.save(await sha256Hex(key), record)
    await this.kv.delete(kvApiKeyKey(found.hash))
    audit('key.rotate', { keyId: id, tenant: record.tenant })
    return { key, record }
  }

  private async find(id: string): Promise<{ hash: string; record: KeyRecord } | null> {
    const entry = await this.kv.get<{ hash: string }>(kvKeyIdKey(id), 'json')
    const record = entry ? await this.kv.get<KeyRecord>(kvApiKeyKey(entry.hash), 'json') : null
    return entry && record ? { hash: entry.hash, record } : null
  }

  private async save(hash: string, record: KeyRecord): Promise<void> {
    await Promise.all([
      this.kv.put(kvApiKeyKey(hash), JSON.stringify(record)),
      // The id index carries the record as metadata, so listing needs no second read.
      this.kv.put(kvKeyIdKey(record.id), JSON.stringify({ hash }), { metadata: record }),
    ])
  }
}

/** The key in `Authorization: Bearer <key>`, if any. */
export function bearerToken(header: string | undefined): string | null {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  return match?.[1] ?? null
}
