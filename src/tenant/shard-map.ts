/**
 * Which of a tenant's shard objects holds a task, or an uploaded image. A shard is named by its
 * tenant and index (`tacme/3`), never by the count, so growing a tenant from 4 shards to 16 leaves
 * shards 0–3 where they were: a task stays in the shard its creation chose, and only tasks created
 * before a growth (within retention) may need a second look, in the shard the older count chose.
 */
import type { ShardEpoch, ShardPlan } from '../config/shard-plan'
import { TASK_RETENTION_SECONDS } from '../lib/storage-keys'

/** FNV-1a: a cheap, stable spread of UUIDs over shards (not a security boundary). */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

export class ShardMap {
  constructor(private readonly plan: ShardPlan) {}

  /** The tenant's counts, oldest first; a tenant's own list starts from the fallback until its first date. */
  private epochs(tenant: string): ShardEpoch[] {
    const own = this.plan.tenants.get(tenant)
    if (!own) return this.plan.fallback
    return own[0]?.from === 0 ? own : [...this.plan.fallback, ...own]
  }

  private countAt(tenant: string, at: number): number {
    let count = 1
    for (const epoch of this.epochs(tenant)) if (epoch.from <= at) count = epoch.count
    return count
  }

  /** The shard a task (or an uploaded image) created at `at` lives in, by its UUID. */
  shard(tenant: string, uuid: string, at: number): number {
    return hash(uuid.toLowerCase()) % this.countAt(tenant, at)
  }

  /**
   * Where a task (or an uploaded image) may live, most likely first: the shard today's count
   * picks, then those of earlier counts still within retention (none, unless the tenant grew in
   * the last 30 days).
   */
  shards(tenant: string, uuid: string, now: number): number[] {
    const h = hash(uuid.toLowerCase())
    const horizon = now - TASK_RETENTION_SECONDS * 1000
    const epochs = this.epochs(tenant).filter((e) => e.from <= now)
    const live = epochs.filter((e, i) => (epochs[i + 1]?.from ?? Infinity) > horizon)
    return [...new Set(live.reverse().map((e) => h % e.count))]
  }

  /** Every shard the tenant has had up to `now` (usage and image lookups ask each); counts only grow. */
  allShards(tenant: string, now = Date.now()): number[] {
    const counts = this.epochs(tenant)
      .filter((e) => e.from <= now)
      .map((e) => e.count)
    return [...Array(Math.max(1, ...counts)).keys()]
  }
}
