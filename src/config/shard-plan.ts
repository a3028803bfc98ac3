/**
 * TENANT_SHARDS: how many shard objects hold each tenant's tasks (src/tenant/shard-map.ts). `4`
 * sets every tenant's count; `tacme=16@2026-12-01` sets one tenant's from a date on (UTC
 * midnight), and `tacme=16` from the start. Dates let every Worker switch at the same instant,
 * whenever each deployed, and let a live tenant grow without moving a task.
 */
import { TENANT_ID } from '../schemas/api-keys'

export interface ShardEpoch {
  /** When this count takes effect (ms). */
  from: number
  count: number
}

export type ShardPlan = { fallback: ShardEpoch[]; tenants: Map<string, ShardEpoch[]> }

/** The most shards one tenant may have: usage queries and image lookups ask every one. */
export const MAX_SHARDS = 64

const ENTRY = /^(?:([a-z0-9_]+)=)?(\d+)(?:@(\d{4}-\d{2}-\d{2}))?$/

/** Parses TENANT_SHARDS; a message naming the entry when it is not valid. */
export function parseShardPlan(text: string): ShardPlan | string {
  const plan: ShardPlan = { fallback: [{ from: 0, count: 1 }], tenants: new Map() }
  for (const entry of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [, tenant, count, date] = ENTRY.exec(entry) ?? []
    const n = Number(count)
    const from = date ? Date.parse(`${date}T00:00:00Z`) : 0
    if (!count || !Number.isInteger(n) || n < 1 || n > MAX_SHARDS || Number.isNaN(from)) {
      return `"${entry}" is not [tenant=]count[@YYYY-MM-DD] with a count from 1 to ${MAX_SHARDS}`
    }
    if (tenant && !TENANT_ID.test(tenant)) return `"${entry}": ${tenant} is not a tenant id (t and up to 40 of a-z, 0-9, _)`
    if (!tenant) {
      if (date) return `"${entry}": a date needs a tenant`
      plan.fallback = [{ from: 0, count: n }]
      continue
    }
    plan.tenants.set(tenant, [...(plan.tenants.get(tenant) ?? []), { from, count: n }])
  }
  for (const epochs of plan.tenants.values()) epochs.sort((a, b) => a.from - b.from)
  return plan
}

export const DEFAULT_SHARD_PLAN = '4'
