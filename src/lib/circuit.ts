/**
 * A circuit breaker: after `threshold` consecutive failures it opens for `openMs` (or longer,
 * if the upstream asked), fails fast meanwhile, then lets one probe through (half-open).
 */
export interface CircuitOptions {
  threshold: number
  openMs: number
  now?: () => number
}

export class Circuit {
  private failures = 0
  private openUntil = 0
  private probing = false

  constructor(private readonly options: CircuitOptions) {}

  private now(): number {
    return (this.options.now ?? Date.now)()
  }

  /** 0 when a call may go ahead; otherwise how long to wait, in ms. */
  blockedForMs(): number {
    const now = this.now()
    if (this.openUntil === 0) return 0
    if (now < this.openUntil) return this.openUntil - now
    // Half-open: one probe at a time; the others keep waiting a moment.
    if (this.probing) return 1000
    this.probing = true
    return 0
  }

  success(): void {
    this.failures = 0
    this.openUntil = 0
    this.probing = false
  }

  /** Records a failure; `retryAfterMs` from the upstream can hold the circuit open longer. */
  failure(retryAfterMs = 0): void {
    this.failures += 1
    if (this.probing || this.failures >= this.options.threshold) {
      this.openUntil = this.now() + Math.max(this.options.openMs, retryAfterMs)
      this.probing = false
    }
  }
}
