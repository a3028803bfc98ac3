/**
 * One small Durable Object per tenant for what must be exact across all of its shards: budgets
 * (each key's, and the tenant's own) and in-flight slots, counted per key. Only tasks opened
 * under a key with limits, or in a tenant with a budget, come here (their shard asks, once to
 * reserve and once per recorded result to settle), so a tenant without limits touches it only
 * once per shard, when a shard no budget call reached asks whether the tenant has a budget.
 * Requests run one at a time, so "check, then reserve" cannot interleave, and a threshold is
 * crossed once. It also runs key transitions one at a time per key (docs/tenants.md).
 */
import { DurableObject } from 'cloudflare:workers'
import { runs } from '../lib/sql'
import { ApiKeys } from '../access/api-keys'
import type { UpdateKey } from '../schemas/api-keys'
import type { AlertMessage } from '../schemas/deliveries'
import { claimCrossings, sendClaimed } from './budget-alerts'
import { limitsOf } from './budgets'
import { requireConfig } from '../config/config'
import type { Alerts, Budget, BudgetStatus, KeyTransition, Limits, Refusal, UsageRow } from './contract'
import { day, keyBudget, periodStart, refusal, standing, sumUsage } from './spend'

/** Brings an account made before per-key budgets up to this schema: its reservations and spend become the bootstrap key's (''). */
export function migrate(sql: SqlStorage): void {
  if (!runs(sql, 'SELECT api_key FROM reservations LIMIT 0'))
    sql.exec("ALTER TABLE reservations ADD COLUMN api_key TEXT NOT NULL DEFAULT ''")
  if (runs(sql, 'SELECT 1 FROM spend LIMIT 0')) {
    sql.exec("INSERT OR IGNORE INTO key_spend (day, api_key, cost) SELECT day, '', cost FROM spend")
    sql.exec('DROP TABLE spend')
  }
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS reservations (task TEXT PRIMARY KEY, per_result INTEGER NOT NULL, open INTEGER NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, api_key TEXT NOT NULL DEFAULT '');
  CREATE INDEX IF NOT EXISTS reservations_created ON reservations (created_at);
  CREATE TABLE IF NOT EXISTS key_spend (day TEXT NOT NULL, api_key TEXT NOT NULL, cost INTEGER NOT NULL, PRIMARY KEY (day, api_key));
  CREATE TABLE IF NOT EXISTS untold_spend (day TEXT NOT NULL, api_key TEXT NOT NULL, cost INTEGER NOT NULL, PRIMARY KEY (day, api_key));
  CREATE TABLE IF NOT EXISTS budgets (scope TEXT PRIMARY KEY, micros INTEGER NOT NULL, period TEXT NOT NULL, alerts TEXT);
  CREATE TABLE IF NOT EXISTS alerts_sent (scope TEXT NOT NULL, period TEXT NOT NULL, threshold REAL NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL, PRIMARY KEY (scope, period, threshold));
  CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
`
/** A budget's row in \`budgets\`: the tenant's own, or a key's (as its last reservation brought it). */
// Stryker disable next-line StringLiteral: a row name; any value but a `key:` one behaves alike (docs/storage.md names it)
const TENANT = 'tenant'
const keyScope = (keyId: string) => `key:${keyId}`
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
    migrate(this.sql)
  }

  private budgetRows(where: string, ...bindings: string[]): (Budget & { scope: string })[] {
    return this.sql
      .exec<{ scope: string; micros: number; period: string; alerts: string | null }>(
        `SELECT scope, micros, period, alerts FROM budgets ${where}`,
        ...bindings,
      )
      .toArray()
      .map((row) => ({
        scope: row.scope,
        budgetMicros: row.micros,
        budgetPeriod: row.period as Budget['budgetPeriod'],
        ...(row.alerts ? { alerts: JSON.parse(row.alerts) as Alerts } : {}),
      }))
  }

  private budget(scope: string): Budget | null {
    const [found] = this.budgetRows('WHERE scope = ?', scope)
    if (!found) return null
    const { scope: _, ...budget } = found
    return budget
  }

  private putBudget(scope: string, budget: Budget | null): void {
    if (!budget) this.sql.exec('DELETE FROM budgets WHERE scope = ?', scope)
    else
      this.sql.exec(
        'INSERT INTO budgets (scope, micros, period, alerts) VALUES (?, ?, ?, ?) ON CONFLICT (scope) DO UPDATE SET micros = excluded.micros, period = excluded.period, alerts = excluded.alerts',
        scope,
        budget.budgetMicros,
        budget.budgetPeriod,
        budget.alerts ? JSON.stringify(budget.alerts) : null,
      )
  }

  /** Sets (or, with null, removes) the tenant's own budget, with the spend the shards counted of tasks this object never heard of. */
  setTenantBudget(budget: Budget | null, tenant: string, untold: readonly UsageRow[] = []): void {
    this.learnTenant(tenant)
    this.putBudget(TENANT, budget)
    this.countUntold(untold)
  }

  /**
   * Takes the shards' word on the spend of tasks this object never heard of (tasks under no
   * limits), so a budget set after it counts it. The shards' counts only grow, so of two words
   * on a (day, key), the larger is the later: two admin calls at once cannot lower it.
   */
  countUntold(rows: readonly UsageRow[], now = Date.now()): void {
    // Every model's rows of a (day, key) as one.
    for (const { day: d, key, costMicros } of sumUsage([rows.map((r) => ({ ...r, model: '' }))]))
      this.sql.exec(
        'INSERT INTO untold_spend (day, api_key, cost) VALUES (?, ?, ?) ON CONFLICT (day, api_key) DO UPDATE SET cost = MAX(cost, excluded.cost)',
        d,
        key,
        costMicros,
      )
    this.sql.exec('DELETE FROM untold_spend WHERE day < ?', day(now - SPEND_DAYS * 86_400_000))
  }

  /** Whether the tenant has a budget of its own (for a shard the admin API never told). */
  tenantBudgeted(): boolean {
    return this.budget(TENANT) !== null
  }

  /** The tenant this account is for (its events name it), as the first caller told it. */
  private learnTenant(tenant: string): void {
    this.sql.exec("INSERT OR IGNORE INTO meta (name, value) VALUES ('tenant', ?)", tenant)
  }

  /** Known whenever a budget is: only calls that name the tenant write budgets. */
  private tenant(): string {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE name = 'tenant'").one().value
  }

  /** Where the tenant's budget and each budgeted key's stand in their current periods (the usage page's table). */
  budgets(now: number): BudgetStatus[] {
    return this.budgetRows('ORDER BY scope').map(({ scope, ...budget }) => {
      const keyId = scope === TENANT ? null : scope.slice('key:'.length)
      const periodStartDay = periodStart(budget.budgetPeriod, now)
      return { ...budget, keyId, periodStart: periodStartDay, ...standing(this.sql, keyId, periodStartDay) }
    })
  }

  /** Reserves `open` results at `perResult` for the task, or says which limit refuses it. A second reserve of a task is a no-op. */
  reserve(taskUUID: string, perResult: number, open: number, limits: Limits, now: number, tenant: string): Refusal | null {
    this.learnTenant(tenant)
    const held = this.sql.exec('SELECT 1 FROM reservations WHERE task = ?', taskUUID).toArray().length
    if (held) return null
    this.sql.exec('DELETE FROM reservations WHERE created_at < ?', now - STALE_MS)
    // The key's budget as its record says now: its alerts are read from here when spend settles.
    // Stryker disable next-line ConditionalExpression: a bootstrap key (no keyId) has no limits, so this would delete a row that is not there (never storing is a curated mutant)
    if (limits.keyId) this.putBudget(keyScope(limits.keyId), keyBudget(limits))
    const refused = refusal(this.sql, perResult * open, limits, this.budget(TENANT), now)
    if (refused) return refused
    this.sql.exec(
      'INSERT INTO reservations (task, per_result, open, created_at, api_key) VALUES (?, ?, ?, ?, ?)',
      taskUUID,
      perResult,
      open,
      now,
      limits.keyId ?? '',
    )
    return null
  }

  /**
   * Settles recorded results, each once (by index): its charge into spend, its share of the
   * reservation freed; then each budget threshold the spend reached is claimed, and its event queued, once.
   */
  async settle(taskUUID: string, charges: readonly Charge[], now: number): Promise<void> {
    const row = this.sql
      .exec<{ settled: number; open: number; api_key: string }>('SELECT settled, open, api_key FROM reservations WHERE task = ?', taskUUID)
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
    if (open <= 0) this.sql.exec('DELETE FROM reservations WHERE task = ?', taskUUID)
    else this.sql.exec('UPDATE reservations SET settled = ?, open = ? WHERE task = ?', settled, open, taskUUID)
    if (spent) {
      this.sql.exec(
        'INSERT INTO key_spend (day, api_key, cost) VALUES (?, ?, ?) ON CONFLICT (day, api_key) DO UPDATE SET cost = cost + excluded.cost',
        day(now),
        row.api_key,
        spent,
      )
      this.sql.exec('DELETE FROM key_spend WHERE day < ?', day(now - SPEND_DAYS * 86_400_000))
      const ownBudget = row.api_key ? this.budget(keyScope(row.api_key)) : null
      if (ownBudget) claimCrossings(this.sql, this.tenant(), keyScope(row.api_key), row.api_key, ownBudget, now)
      const tenantBudget = this.budget(TENANT)
      if (tenantBudget) claimCrossings(this.sql, this.tenant(), TENANT, null, tenantBudget, now)
    }
    await sendClaimed(this.sql, this.env.DELIVERIES as Queue<AlertMessage>)
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
  keyTransition(id: string, operation: 'disable' | 'rotate' | 'update', patch: UpdateKey = {}): Promise<KeyTransition> {
    const keys = new ApiKeys(this.env.TASKS, requireConfig(this.env))
    const run = (this.keyQueue.get(id) ?? Promise.resolve()).then(async (): Promise<KeyTransition> => {
      if (operation === 'disable') return { record: await keys.disable(id) }
      if (operation === 'update') {
        const record = await keys.update(id, patch)
        // Its budget as this object shows it (the usage page) is the new one at once, not from the key's next task.
        if (record) this.putBudget(keyScope(id), keyBudget(limitsOf({ tenant: record.tenant, keyId: id, limits: record })))
        return { record }
      }
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
