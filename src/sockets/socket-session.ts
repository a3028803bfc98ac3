/**
 * One Durable Object per WebSocket connection session: Runware's WebSocket protocol on `/v1`
 * (docs/websocket.md). The object accepts the socket with the Hibernation API, so an idle
 * connection costs nothing, and the runtime answers the SDK's pings without waking it.
 *
 * The object keeps the socket and its lifecycle (accept, messages, close, timers); the protocol
 * runs in small modules behind `SessionHost`: authentication (session-auth), tasks
 * (session-tasks), resume and forwarding (session-resume), and pushing results (session-push).
 */
import { DurableObject } from 'cloudflare:workers'
import { requireConfig } from '../config/config'
import { ApiError, type RunwareError } from '../lib/errors'
import { memo } from '../lib/memo'
import { isPing, parseMessage, PING_FRAME, PONG_FRAME, refusalFrames } from '../protocol/frames'
import { buildServices, type Services } from '../services'
import { ORIGIN_HEADER, SESSION_HEADER } from './open-socket'
import { AUTH_TIMEOUT_SECONDS, authenticate, IDLE_TIMEOUT_SECONDS } from './session-auth'
import { attachmentOf, type Attachment, type SessionHost, type SessionPeer } from './session-host'
import { deliver } from './session-push'
import { checkSession, handOver, socketGone } from './session-resume'
import { SessionStore, type SessionState } from './session-store'
import { runMessage } from './session-tasks'

/** The largest message a client may send; larger images go by URL or through POST /v1/images. */
export const MAX_MESSAGE_BYTES = 1024 * 1024
/** The ping text the runtime answers for this session, once a client's differs from PING_FRAME; and how long one may be. */
const PING_KEY = 'ping'
const MAX_PING_LENGTH = 100

export class SocketSession extends DurableObject<Env> {
  private readonly store: SessionStore
  /** What the protocol modules may use; a field, not methods, so none of it is callable over RPC. */
  private readonly host: SessionHost
  /** Authentications under way, by socket: the object stays awake while one runs, so memory holds. */
  private readonly authenticating = new WeakMap<WebSocket, Promise<boolean>>()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new SessionStore(ctx.storage.sql)
    this.host = sessionHost(ctx, env, this.store)
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(this.store.get(PING_KEY) ?? PING_FRAME, PONG_FRAME))
  }

  /**
   * The runtime answers one exact ping text without waking the object, and clients spell their
   * pings differently (Runware's Python SDK, spaced, every 5 s; sdk-js compact, every 45 s). The
   * first ping of another spelling wakes the object; from then on, the runtime answers that one.
   */
  private learnPing(message: string | ArrayBuffer, tasks: unknown[]): void {
    if (typeof message !== 'string' || message.length > MAX_PING_LENGTH || tasks.length !== 1 || !isPing(tasks[0])) return
    if (message === (this.store.get(PING_KEY) ?? PING_FRAME)) return
    this.store.set(PING_KEY, message)
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(message, PONG_FRAME))
  }

  /** The upgrade, handed over by the Worker: accept the socket and wait for authentication. */
  override async fetch(request: Request): Promise<Response> {
    const self = request.headers.get(SESSION_HEADER)
    const origin = request.headers.get(ORIGIN_HEADER)
    if (!self || !origin || request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('Expected a WebSocket upgrade', { status: 426 })
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket]
    this.ctx.acceptWebSocket(server)
    const now = Date.now()
    // Nothing is stored before the socket authenticates, only the alarm that closes it if it never does.
    server.serializeAttachment({ origin, self, connectedAt: now, lastSeen: now } satisfies Attachment)
    await this.host.wakeAt(now + AUTH_TIMEOUT_SECONDS * 1000)
    return new Response(null, { status: 101, webSocket: client })
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const a = attachmentOf(ws)
    a.lastSeen = Date.now()
    ws.serializeAttachment(a)
    const size = typeof message === 'string' ? message.length : message.byteLength
    const refuse = (error: RunwareError) => {
      for (const frame of refusalFrames(message, error, a.origin)) this.host.send(ws, frame)
    }
    if (size > MAX_MESSAGE_BYTES) {
      const text = `A message may hold at most ${MAX_MESSAGE_BYTES} bytes; send large images as https URLs or upload them with POST /v1/images`
      return refuse({ code: 'payloadTooLarge', message: text })
    }
    let tasks = parseMessage(message)
    if (!tasks?.length) return refuse({ code: 'invalidRequestBody', message: 'Each message must be a JSON array of tasks' })
    let services: Services
    try {
      services = this.host.services(a.origin)
    } catch (error) {
      if (error instanceof ApiError) return refuse(error.detail)
      throw error
    }
    const pending = this.authenticating.get(ws)
    if (pending) {
      // An eager client (Runware's Python SDK pings right after authenticating, without waiting):
      // its message waits for the authentication under way, and is never taken as one.
      if (!(await pending)) return
      this.learnPing(message, tasks)
      return runMessage(this.host, ws, attachmentOf(ws), services, tasks)
    }
    if (a.session) this.learnPing(message, tasks)
    else {
      const authenticated = authenticate(this.host, ws, a, services, tasks[0])
      this.authenticating.set(ws, authenticated)
      const ok = await authenticated.finally(() => this.authenticating.delete(ws))
      if (!ok) return
      tasks = tasks.slice(1)
    }
    await runMessage(this.host, ws, a, services, tasks)
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await socketGone(this.host, ws)
    this.host.close(ws, code === 1005 || code === 1006 ? 1000 : code, 'closed')
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await socketGone(this.host, ws)
  }

  /** Authentication deadlines, idle sockets, and sessions whose resume window has passed. */
  override async alarm(): Promise<void> {
    const now = Date.now()
    let next = Infinity
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue
      const a = attachmentOf(ws)
      if (!a.session) {
        if (now - a.connectedAt >= AUTH_TIMEOUT_SECONDS * 1000) this.host.close(ws, 1008, 'authentication timeout')
        else next = Math.min(next, a.connectedAt + AUTH_TIMEOUT_SECONDS * 1000)
        continue
      }
      const seen = Math.max(a.lastSeen, this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0)
      if (now - seen >= IDLE_TIMEOUT_SECONDS * 1000) {
        this.host.close(ws, 1000, 'idle timeout')
        await socketGone(this.host, ws)
      } else next = Math.min(next, seen + IDLE_TIMEOUT_SECONDS * 1000)
    }
    next = Math.min(next, await checkSession(this.host, now))
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next)
  }

  // ── RPC, from the Worker's services and from other sessions' objects ──

  /** Results of one of the session's tasks were stored: push them (or keep them for a resume). */
  async deliver(tenant: string, taskUUID: string, indexes: number[], total: number): Promise<void> {
    return deliver(this.host, tenant, taskUUID, indexes, total)
  }

  /** A client resumes this session on object `to`: hand over its state and forward from now on. */
  async handOver(to: string, tenant: string): Promise<SessionState | null> {
    return handOver(this.host, to, tenant)
  }

  /** Whether this object holds `session` (for an object that forwards to it). */
  async holds(session: string): Promise<boolean> {
    return this.store.get('session') === session && !this.store.get('forward')
  }

  /** The session held at `holder` expired: stop forwarding to it. */
  async release(holder: string): Promise<void> {
    if (this.store.get('forward') === holder) this.store.wipe()
  }
}

/** The object's side of SessionHost. */
function sessionHost(ctx: DurableObjectState, env: Env, store: SessionStore): SessionHost {
  // Services by origin, built once per wake rather than once per message.
  const built = new Map<string, Services>()
  return {
    store,
    services: (origin) => memo(built, origin, () => buildServices(env, requireConfig(env), { origin, waitUntil: (p) => ctx.waitUntil(p) })),
    // A socket can close while a message's tasks run (the client dropped it, or resumed its
    // session on another connection): its answers are dropped, not thrown, and the client gets
    // them by sending its unanswered tasks again after resuming.
    send(ws, frame) {
      try {
        ws.send(frame)
      } catch {
        // The client is gone.
      }
    },
    close(ws, code, reason) {
      try {
        ws.close(code, reason)
      } catch {
        // Already closed.
      }
    },
    sockets: () => ctx.getWebSockets(),
    peer: (name): SessionPeer => env.SOCKETS.get(env.SOCKETS.idFromName(name)),
    async wakeAt(at) {
      const current = await ctx.storage.getAlarm()
      if (current === null || current > at) await ctx.storage.setAlarm(at)
    },
  }
}
