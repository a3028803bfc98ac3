/**
 * Budget threshold alerts, decided in the tenant's account object as spend settles. A threshold
 * is crossed once per budget and period: its row in `alerts_sent` is claimed in the same
 * single-threaded call that settled the spend, so concurrent settlements cannot both claim it.
 * The event is queued after the claim; one whose send failed stays unsent and goes with the
 * next settlement, so none is lost and none is sent twice (its id is the same on every attempt).
 */
import { alertEventId } from '../lib/storage-keys'
import type { AlertMessage } from '../schemas/deliveries'
import type { Budget } from './contract'
import { periodStart, standing, toUSD } from './spend'

/**
 * Claims every threshold of `budget` (a key's, or the tenant's when `keyId` is null) that its
 * settled spend in the current period has reached, with the event it calls for; queuing it is
 * `sendClaimed`'s.
 */
export function claimCrossings(sql: SqlStorage, tenant: string, scope: string, keyId: string | null, budget: Budget, now: number): void {
  if (!budget.alerts) return
  const since = periodStart(budget.budgetPeriod, now)
  const { spentMicros } = standing(sql, keyId, since)
  for (const threshold of budget.alerts.thresholds) {
    if (spentMicros < threshold * budget.budgetMicros) continue
    const message: AlertMessage = {
      v: 1,
      kind: 'alert',
      tenant,
      id: alertEventId(keyId, since, threshold),
      url: budget.alerts.webhookURL,
      event: {
        type: 'budget.threshold',
        ...(keyId ? { keyId } : { tenant }),
        threshold,
        spentUSD: toUSD(spentMicros),
        budgetUSD: toUSD(budget.budgetMicros),
        periodStart: since,
      },
    }
    sql.exec(
      'INSERT OR IGNORE INTO alerts_sent (scope, period, threshold, sent, message) VALUES (?, ?, ?, 0, ?)',
      scope,
      since,
      threshold,
      JSON.stringify(message),
    )
  }
}

/** Claimed events not yet queued: sent now, and marked once the queue has them. */
export async function sendClaimed(sql: SqlStorage, queue: Queue<AlertMessage>): Promise<void> {
  const unsent = sql
    .exec<{ scope: string; period: string; threshold: number; message: string }>(
      'SELECT scope, period, threshold, message FROM alerts_sent WHERE sent = 0',
    )
    .toArray()
  if (!unsent.length) return
  // In flight (2) while the queue is asked: a settlement that runs meanwhile leaves them to this one.
  const mark = (sent: number) => {
    for (const u of unsent)
      sql.exec('UPDATE alerts_sent SET sent = ? WHERE scope = ? AND period = ? AND threshold = ?', sent, u.scope, u.period, u.threshold)
  }
  mark(2)
  try {
    await queue.sendBatch(unsent.map((u) => ({ body: JSON.parse(u.message) as AlertMessage })))
    mark(1)
  } catch {
    mark(0) // still unsent: the next settlement sends them
  }
}
