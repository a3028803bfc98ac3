/** The last received `POST /v1` bodies, for tests that assert what a client actually sent. */

const KEPT_REQUESTS = 500

export type AuthMethod = 'bearer' | 'body' | 'none'

/** One recorded request; `body` has any apiKey already redacted. */
export interface RecordedRequest {
  at: string
  auth: AuthMethod
  body: unknown
  /** The W3C traceparent header the request carried, if any. */
  traceparent?: string
}

export class RequestLog {
  private readonly entries: { entry: RecordedRequest; text: string }[] = []

  add(auth: AuthMethod, body: unknown, traceparent?: string): void {
    const entry = { at: new Date().toISOString(), auth, body, ...(traceparent ? { traceparent } : {}) }
    this.entries.push({ entry, text: JSON.stringify(body) })
    if (this.entries.length > KEPT_REQUESTS) this.entries.shift()
  }

  /** Recorded requests whose JSON text contains `match` (all when absent), newest last. */
  list(match: string | undefined): RecordedRequest[] {
    return this.entries.filter(({ text }) => !match || text.includes(match)).map(({ entry }) => entry)
  }
}

/** A copy of the task list with the authentication element's key replaced. */
export function redactAuth(tasks: readonly unknown[]): unknown[] {
  return tasks.map((task) => (typeof task === 'object' && task !== null && 'apiKey' in task ? { ...task, apiKey: '[redacted]' } : task))
}
