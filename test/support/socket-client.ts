/** A raw Runware-protocol WebSocket client for tests: every frame it receives, parsed, in order. */
import WebSocket from 'ws'

export interface Frame {
  data?: Record<string, unknown>[]
  errors?: Record<string, unknown>[]
}

export class TestSocket {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  private waiters: (() => void)[] = []

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      this.frames.push(JSON.parse(raw.toString()) as Frame)
      for (const wake of this.waiters.splice(0)) wake()
    })
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  static async open(url: string): Promise<TestSocket> {
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return new TestSocket(ws)
  }

  /** Opens a socket and authenticates; resolves with the connectionSessionUUID the gateway gave. */
  static async session(url: string, apiKey: string, connectionSessionUUID?: string): Promise<{ socket: TestSocket; session: string }> {
    const socket = await TestSocket.open(url)
    socket.send([{ taskType: 'authentication', apiKey, ...(connectionSessionUUID ? { connectionSessionUUID } : {}) }])
    const frame = await socket.next((f) => f.data?.[0]?.taskType === 'authentication' || Boolean(f.errors))
    const session = frame.data?.[0]?.connectionSessionUUID
    if (typeof session !== 'string') throw new Error(`authentication failed: ${JSON.stringify(frame)}`)
    return { socket, session }
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** The first frame (from `from` on) that matches, waiting for it if need be. */
  async next(match: (frame: Frame) => boolean, timeoutMs = 20_000, from = 0): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.slice(from).find(match)
      if (found) return found
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(0, 500)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Frames carrying items or errors of one task. */
  about(taskUUID: string): Frame[] {
    return this.frames.filter((f) => [...(f.data ?? []), ...(f.errors ?? [])].some((x) => x.taskUUID === taskUUID))
  }

  /** Drops the connection without a close handshake, as a lost network would. */
  kill(): void {
    this.ws.terminate()
  }

  close(): void {
    this.ws.close()
  }
}

/** The gateway's WebSocket URL for its HTTP URL. */
export const socketUrl = (gatewayUrl: string) => `${gatewayUrl.replace(/^http/, 'ws')}/v1`
