/**
 * One small Durable Object per tenant for what must be exact across all of its shards: the
 * budget and the in-flight slots. Only tasks opened under a key with limits come here (their
 * shard asks, once to reserve and once per recorded result to settle), so a tenant without
 * limits never touches it, and one with limits costs it a reserve per task and a settle per
 * call that records results (one per webhook), whatever the number of shards. Requests run one at a time, so "check, then reserve" cannot interleave. It also
 * runs key transitions one at a time per key (docs/tenants.md).
 */
import { DurableObject } from 'cloudflare:workers'
import { ApiKeys } from '../access/api-keys'
import { ConfigError, readConfig } from '../config/config'
import type { KeyTransition, Limits, Refusal } from './contract'
import { day, refusal } from './spend'

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS reservations (task TEXT PRIMARY KEY, per_result INTEGER NOT NULL, open INTEGER NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS reservations_created ON reservations (created_at);
  CREATE TABLE IF NOT EXISTS spend (day TEXT PRIMARY KEY, cost INTEGER NOT NULL);
`
/** A reservation no shard settled in this long lost its task (a shard that stopped between reserve and create). */
const STALE_MS = 2 * 86_400_000
/** Spend is kept this long: a month budget reads at most 31 days back. */
const SPEND_DAYS = 40

export interface Charge {
  index: number
  micros: number
}

export class TenantAccount extends DurableObject<Env> {
  private readonly sql: SqlStorage
  private readonly keyQueue = new Map<string, Promise<unknown>>()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.sql.exec(SCHEMA)
  }

  /** Reserves `open` results at `perResult` for the task, or says which limit refuses it. A second reserve of a task is a no-op. */
  reserve(taskUUID: string, perResult: number, open: number, limits: Limits, now: number): Refusal | null {
    const held = this.sql.exec('SELECT 1 FROM reservations WHERE task = ?', taskUUID).toArray().length
    if (held) return null
    this.sql.exec('DELETE FROM reservations WHERE created_at < ?', now - STALE_MS)
    const refused = refusal(this.sql, perResult * open, limits, now)
    if (refused) return refused
    this.sql.exec('INSERT INTO reservations (task, per_result, open, created_at) VALUES (?, ?, ?, ?)', taskUUID, perResult, open, now)
    return null
  }

  /** Settles recorded results, each once (by index): its charge into spend, its share of the reservation freed. */
  settle(taskUUID: string, charges: readonly Charge[], now: number): void {
    const row = this.sql
      .exec<{ settled: number; open: number }>('SELECT settled, open FROM reservations WHERE task = ?', taskUUID)
      .toArray()[0]
    if (!row) return
    let { settled, open } = row
    let spent = 0
    for (const { index, micros } of charges) {
      const bit = 2 ** index
      if (Math.floor(settled / bit) % 2 === 1) continue
      settled += bit
      open -= 1
      spent += micros
    }
    if (spent) {
      this.sql.exec(
        'INSERT INTO spend (day, cost) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET cost = cost + excluded.cost',
        day(now),
        spent,
      )
      this.sql.exec('DELETE FROM spend WHERE day < ?', day(now - SPEND_DAYS * 86_400_000))
    }
    if (open <= 0) this.sql.exec('DELETE FROM reservations WHERE task = ?', taskUUID)
    else this.sql.exec('UPDATE reservations SET settled = ?, open = ? WHERE task = ?', settled, open, taskUUID)
  }

  /** Frees a task's reservation unsettled: Runware never took it. */
  release(taskUUID: string): void {
    this.sql.exec('DELETE FROM reservations WHERE task = ?', taskUUID)
  }

  /**
   * Disables or rotates one of the tenant's API keys. Each transition reads the key's current
   * record and writes the next, so two at once could both start from the same record (two live
   * keys after two rotations); here they run one after another, per key id, in this one place.
   */
  keyTransition(id: string, operation: 'disable' | 'rotate'): Promise<KeyTransition> {
    const config = readConfig(this.env)
    if (config instanceof ConfigError) throw new Error('configuration is invalid')
    const keys = new ApiKeys(this.env.TASKS, config)
    const run = (this.keyQueue.get(id) ?? Promise.resolve()).then(async (): Promise<KeyTransition> => {
      if (operation === 'disable') return { record: await keys.disable(id) }
      const rotated = await keys.rotate(id)
      return rotated ? { record: rotated.record, key: rotated.key } : { record: null }
    })
    const settled = run.catch(() => undefined)
    this.keyQueue.set(id, settled)
    void settled.then(() => {
      if (this.keyQueue.get(id) === settled) this.keyQueue.delete(id)
    })
    return run
  }
}
