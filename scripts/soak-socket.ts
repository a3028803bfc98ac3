/**
 * A soak client over Runware's WebSocket protocol that loses its connection at random: it drops
 * the socket (no close handshake) and comes back with its connectionSessionUUID, as a client on a
 * flaky network would. It records every result pushed to it, so the audit can count them.
 */
import WebSocket from 'ws'

type Entry = { taskUUID?: string; code?: string; imageUUID?: string; taskType?: string; connectionSessionUUID?: string }

/** Errors a well-behaved client answers by sending the task again a little later. */
export const RETRYABLE_CODES = new Set(['serviceUnavailable', 'rateLimitExceeded'])
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Longer than any task takes here (p99 about 11 s), so a task still running is rarely asked again. */
const SILENCE_MS = 20_000

export class SoakSocket {
  /** Per task: every item and every error pushed for it. */
  readonly received = new Map<string, Entry[]>()
  disconnects = 0
  private ws: WebSocket | null = null
  private session: string | undefined
  private connecting: Promise<void> | null = null
  /** While a deliberate drop stays away, nothing else reconnects. */
  private away = false
  private readonly wake = new Set<() => void>()
  /** Tasks sent and not yet answered in full: sent again after a reconnect, in case the drop ate them. */
  private readonly waiting = new Map<string, object>()

  constructor(
    private readonly url: string,
    private readonly apiKey: string,
    /** Chance that the connection is dropped shortly after a task is sent. */
    private readonly dropRate: number,
  ) {}

  /**
   * Sends a task and waits (bounded) for all its results; resends it after a retryable error.
   * As patient as the soak's REST client, which honours up to nine Retry-Afters: while the
   * gateway's circuit is open (30 s at a time) every dispatch is refused with serviceUnavailable,
   * and a client that gives up sooner counts a refusal it was told to retry as a lost task.
   */
  async submit(task: { taskUUID: string; numberResults: number }, timeoutMs = 150_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    this.waiting.set(task.taskUUID, task)
    try {
      await this.attempts(task, deadline)
    } finally {
      this.waiting.delete(task.taskUUID)
    }
  }

  private async attempts(task: { taskUUID: string; numberResults: number }, deadline: number): Promise<void> {
    for (let attempt = 0; attempt < 12; attempt++) {
      const seen = this.received.get(task.taskUUID)?.length ?? 0
      await this.send([task])
      if (Math.random() < this.dropRate) void this.dropSoon()
      const sentAt = Date.now()
      const outcome = await this.until(deadline, () => {
        const entries = (this.received.get(task.taskUUID) ?? []).slice(seen)
        if (entries.some((e) => e.code && RETRYABLE_CODES.has(e.code))) return 'retry'
        if ((this.received.get(task.taskUUID)?.length ?? 0) >= task.numberResults) return 'done'
        // Not a word about the task for a long while: its answer may have gone down with a
        // connection, so ask again (the same taskUUID is the same task).
        return entries.length === 0 && Date.now() - sentAt > SILENCE_MS ? 'resend' : null
      })
      if (outcome === 'resend') continue
      if (outcome !== 'retry') return
      // The protocol carries no Retry-After: back off (a rate limit's window is a minute).
      await sleep(Math.min(30_000, 1000 * 2 ** attempt))
    }
  }

  close(): void {
    this.ws?.close()
  }

  private async send(message: unknown): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.connect()
      } catch (error) {
        // A failed connect is retried for a while, as a client on a flaky network would.
        if (attempt >= 50) throw error
        await sleep(200)
        continue
      }
      const ws = this.ws
      if (ws?.readyState === WebSocket.OPEN) return ws.send(JSON.stringify(message))
      this.ws = null
    }
  }

  private connect(): Promise<void> {
    if (this.ws?.readyState === WebSocket.OPEN) return Promise.resolve()
    this.connecting ??= this.open().finally(() => (this.connecting = null))
    return this.connecting
  }

  private async open(): Promise<void> {
    const ws = new WebSocket(this.url)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    const authenticated = new Promise<void>((resolve, reject) => {
      // A socket that closes before the session is confirmed must not leave the client waiting on it.
      ws.once('close', () => reject(new Error('closed before authentication')))
      ws.on('message', (raw) => {
        const frame = JSON.parse(raw.toString()) as { data?: Entry[]; errors?: Entry[] }
        for (const entry of [...(frame.data ?? []), ...(frame.errors ?? [])]) {
          if (entry.taskType === 'authentication' && entry.connectionSessionUUID) {
            this.session = entry.connectionSessionUUID
            resolve()
          } else if (entry.taskUUID) this.received.set(entry.taskUUID, [...(this.received.get(entry.taskUUID) ?? []), entry])
        }
        for (const wake of this.wake) wake()
      })
    })
    ws.on('error', () => undefined)
    ws.send(
      JSON.stringify([
        { taskType: 'authentication', apiKey: this.apiKey, ...(this.session ? { connectionSessionUUID: this.session } : {}) },
      ]),
    )
    await authenticated
    // Re-sending is safe: the same taskUUID is the same task, and its session pushes each result once.
    const waiting = [...this.waiting.values()]
    for (let i = 0; i < waiting.length; i += 10) ws.send(JSON.stringify(waiting.slice(i, i + 10)))
    this.ws = ws
  }

  /** Drops the connection within 2 s, without a close handshake; the next send reconnects. */
  private async dropSoon(): Promise<void> {
    await sleep(Math.random() * 2000)
    const ws = this.ws
    if (ws?.readyState !== WebSocket.OPEN) return
    this.disconnects++
    this.away = true
    ws.terminate()
    // Stay away a moment (results land meanwhile), then resume the session.
    await sleep(200 + Math.random() * 1500)
    this.away = false
    // A failed reconnect is retried by whoever waits next (until, send).
    await this.connect().catch(() => undefined)
  }

  /**
   * Waits for `check`, reconnecting whenever the socket is gone: the gateway or the network may
   * close it, and a reconnect re-sends every unanswered task.
   */
  private async until<T>(deadline: number, check: () => T | null): Promise<T | null> {
    for (;;) {
      const value = check()
      if (value !== null || Date.now() > deadline) return value
      if (this.ws?.readyState !== WebSocket.OPEN && !this.away) void this.connect().catch(() => undefined)
      await new Promise<void>((resolve) => {
        const done = () => {
          this.wake.delete(done)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(done, 250)
        this.wake.add(done)
      })
    }
  }
}
