/**
 * Requests parked inside a task's shard object until the task settles. A sync request makes
 * one call that returns when the task's last result is recorded (by the sync reply, a webhook or
 * the reconciler, whichever comes first), so waiting costs no polling. Waiters live in memory
 * only: if the object restarts, each waiting call fails and its caller falls back to reading.
 */

/** The longest one call may park, whatever it asks (a sync request waits at most 95 s). */
export const MAX_WAIT_MS = 100_000

export class Waiters {
  private readonly parked = new Map<string, Set<() => void>>()

  /** Resolves when `key` is woken, or after `timeoutMs`. */
  wait(key: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.parked.get(key) ?? new Set()
      this.parked.set(key, set)
      const done = () => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0 && this.parked.get(key) === set) this.parked.delete(key)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, Math.min(timeoutMs, MAX_WAIT_MS)))
      set.add(done)
    })
  }

  /** Wakes every call waiting on `key`. */
  wake(key: string): void {
    for (const done of [...(this.parked.get(key) ?? [])]) done()
  }
}
