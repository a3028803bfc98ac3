/** Small helpers for background work that must stop promptly when the emulator closes. */

/** Waits `ms`, or less if `signal` aborts first (it never rejects, so callers just check the signal). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** Tracks fire-and-forget promises so `close()` can wait for them instead of leaking them. */
export class Background {
  private readonly pending = new Set<Promise<unknown>>()

  constructor(private readonly onError: (error: unknown) => void) {}

  run(work: Promise<unknown>): void {
    const tracked = work.catch(this.onError).finally(() => this.pending.delete(tracked))
    this.pending.add(tracked)
  }

  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }
}

/** Host and path of a URL, without its query string, which may hold a presigned signature. */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return '<invalid url>'
  const { host, pathname } = new URL(url)
  return `${host}${pathname}`
}
