/**
 * One Durable Object per WebSocket connection session: Runware's WebSocket protocol on `/v1`
 * (docs/websocket.md). The object accepts the socket with the Hibernation API, so an idle
 * connection costs nothing, and the runtime answers the SDK's pings without waking it.
 *
 * A session outlives its socket by RESUME_WINDOW_SECONDS. A reconnecting client lands on a new
 * object; when it authenticates with its connectionSessionUUID, the object of that name hands
 * the session over (its tasks and the results not yet pushed) and from then on forwards to it.
 * Tasks name their session, never the object holding the socket, so a result is always at most
 * one hop from its socket. Each result is pushed once: `results` remembers every one.
 */
import { DurableObject } from 'cloudflare:workers'
import * as z from 'zod'
import { ApiError, type RunwareError } from '../lib/errors'
import { dataFrame, errorsFrame, framesPerTask, isAuthentication, isPing, parseMessage, PING_FRAME, PONG_FRAME } from '../protocol/frames'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import { authenticationSchema } from '../schemas/tasks'
import { SessionStore, type SessionState } from './session-store'
import { requireConfig } from '../config/config'
import { buildServices, type Services } from '../services'
import { enforceRateLimit } from '../access/rate-limits'
import { tagOf } from '../protocol/run-tasks'
import { runSocketTasks } from './session-tasks'

export const RESUME_WINDOW_SECONDS = 120
export const IDLE_TIMEOUT_SECONDS = 120
export const AUTH_TIMEOUT_SECONDS = 30
/** The largest message a client may send; larger images go by URL or through POST /v1/images. */
export const MAX_MESSAGE_BYTES = 1024 * 1024
/** Pushed results are remembered this long after their task finished, so a late repeat notice is ignored. */
const DONE_RETENTION_MS = 3_600_000
/** How often an object that only forwards checks that the session still exists. */
const FORWARD_CHECK_MS = 3_600_000

/** Headers the Worker sets when it hands an upgrade to a fresh object. */
export const SESSION_HEADER = 'x-imagine-edge-session'
export const ORIGIN_HEADER = 'x-imagine-edge-origin'

/** Kept on the socket itself, so it survives hibernation. */
interface Attachment {
  origin: string
  connectedAt: number
  lastSeen: number
  /** Set once authenticated. The key is kept (in memory only) so a disabled key stops working. */
  session?: string
  apiKey?: string
}

const sessionUUID = z.uuid()

const attachment = (ws: WebSocket) => ws.deserializeAttachment() as Attachment

export class SocketSession extends DurableObject<Env> {
  private readonly store: SessionStore

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new SessionStore(ctx.storage.sql)
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME))
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
    server.serializeAttachment({ origin, connectedAt: now, lastSeen: now } satisfies Attachment)
    this.store.set('self', self)
    await this.wakeAt(now + AUTH_TIMEOUT_SECONDS * 1000)
    return new Response(null, { status: 101, webSocket: client })
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const a = attachment(ws)
    a.lastSeen = Date.now()
    ws.serializeAttachment(a)
    const size = typeof message === 'string' ? message.length : message.byteLength
    if (size > MAX_MESSAGE_BYTES) {
      const text = `A message may hold at most ${MAX_MESSAGE_BYTES} bytes; send large images as https URLs or upload them with POST /v1/images`
      return this.sendError(ws, { code: 'payloadTooLarge', message: text })
    }
    let tasks = parseMessage(message)
    if (!tasks?.length) {
      return this.sendError(ws, { code: 'invalidRequestBody', message: 'Each message must be a JSON array of tasks' })
    }
    let services: Services
    try {
      services = this.services(a.origin)
    } catch (error) {
      if (error instanceof ApiError) return this.sendError(ws, error.detail)
      throw error
    }
    if (!a.session) {
      if (!(await this.authenticate(ws, a, services, tasks[0]))) return
      tasks = tasks.slice(1)
    }
    await this.run(ws, a, services, tasks)
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.socketGone(ws)
    this.close(ws, code === 1005 || code === 1006 ? 1000 : code, 'closed')
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.socketGone(ws)
  }

  /** Authentication deadlines, idle sockets, and sessions whose resume window has passed. */
  override async alarm(): Promise<void> {
    const now = Date.now()
    let next = Infinity
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue
      const a = attachment(ws)
      if (!a.session) {
        if (now - a.connectedAt >= AUTH_TIMEOUT_SECONDS * 1000) this.close(ws, 1008, 'authentication timeout')
        else next = Math.min(next, a.connectedAt + AUTH_TIMEOUT_SECONDS * 1000)
        continue
      }
      const seen = Math.max(a.lastSeen, this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0)
      if (now - seen >= IDLE_TIMEOUT_SECONDS * 1000) {
        this.close(ws, 1000, 'idle timeout')
        await this.socketGone(ws)
      } else next = Math.min(next, seen + IDLE_TIMEOUT_SECONDS * 1000)
    }
    const forward = this.store.get('forward')
    if (forward) {
      const session = this.store.get('self') ?? ''
      if (
        await this.stub(forward)
          .holds(session)
          .catch(() => true)
      )
        next = Math.min(next, now + FORWARD_CHECK_MS)
      else this.store.wipe()
    }
    const closedAt = Number(this.store.get('closedAt') ?? NaN)
    if (this.store.get('session') && !forward && !this.openSocket() && Number.isFinite(closedAt)) {
      if (now - closedAt >= RESUME_WINDOW_SECONDS * 1000) await this.expire()
      else next = Math.min(next, closedAt + RESUME_WINDOW_SECONDS * 1000)
    }
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next)
  }

  // ── RPC, from the Worker's services and from other sessions' objects ──

  /** Results of one of the session's tasks were stored: push them (or keep them for a resume). */
  async deliver(tenant: string, taskUUID: string, indexes: number[], total: number): Promise<void> {
    const forward = this.store.get('forward')
    if (forward) return this.stub(forward).deliver(tenant, taskUUID, indexes, total)
    // Unknown or expired session: the results stay reachable through getResponse.
    if (this.store.get('tenant') !== tenant) return
    this.store.add(taskUUID, indexes, total)
    await this.flush()
  }

  /** A client resumes this session on object `to`: hand over its state and forward from now on. */
  async handOver(to: string, tenant: string): Promise<SessionState | null> {
    const forward = this.store.get('forward')
    if (forward) {
      const state = await this.stub(forward).handOver(to, tenant)
      if (state) this.store.set('forward', to)
      return state
    }
    const session = this.store.get('session')
    if (!session || this.store.get('tenant') !== tenant) return null
    for (const ws of this.ctx.getWebSockets()) {
      if (attachment(ws).session === session) this.close(ws, 4000, 'session resumed on another connection')
    }
    const state = this.store.export()
    this.store.wipe()
    // The object the session is named after stays its address.
    if (session === this.store.get('self')) {
      this.store.set('forward', to)
      await this.wakeAt(Date.now() + FORWARD_CHECK_MS)
    }
    return state
  }

  /** Whether this object holds `session` (for an object that forwards to it). */
  async holds(session: string): Promise<boolean> {
    return this.store.get('session') === session && !this.store.get('forward')
  }

  /** The session held at `holder` expired: stop forwarding to it. */
  async release(holder: string): Promise<void> {
    if (this.store.get('forward') === holder) this.store.wipe()
  }

  // ── The protocol ──

  private async authenticate(ws: WebSocket, a: Attachment, services: Services, first: unknown): Promise<boolean> {
    const auth = authenticationSchema.safeParse(first)
    const principal = auth.success ? await services.keys.resolve(auth.data.apiKey) : null
    if (!auth.success || !principal) {
      const message = auth.success
        ? 'Invalid API key: use a key issued by this gateway'
        : 'The first message must authenticate: [{"taskType":"authentication","apiKey":"…"}]'
      this.sendError(ws, { code: 'invalidApiKey', message, parameter: 'apiKey', taskType: 'authentication' })
      this.close(ws, 1008, 'authentication failed')
      log({ msg: 'socket authentication failed' })
      return false
    }
    // This object's name: the session UUID a fresh session gets.
    const self = this.store.get('self') ?? ''
    const wanted = sessionUUID.safeParse(auth.data.connectionSessionUUID)
    const resumed =
      wanted.success && wanted.data.toLowerCase() !== self && (await this.resume(wanted.data.toLowerCase(), self, principal.tenant))
    const session = resumed && wanted.success ? wanted.data.toLowerCase() : self
    if (!resumed) this.open(session, principal.tenant)
    this.store.delete('closedAt')
    a.session = session
    a.apiKey = auth.data.apiKey
    ws.serializeAttachment(a)
    this.send(ws, dataFrame([{ taskType: 'authentication', connectionSessionUUID: session }]))
    log({ msg: 'socket authenticated', tenant: principal.tenant, resumed })
    await this.wakeAt(Date.now() + IDLE_TIMEOUT_SECONDS * 1000)
    await this.flush()
    return true
  }

  /** Takes over `session` from the object named after it; false when there is no such session of this tenant. */
  private async resume(session: string, self: string, tenant: string): Promise<boolean> {
    // Accept forwarded results before the state arrives: they travel while it does.
    this.open(session, tenant)
    const state = await this.stub(session)
      .handOver(self, tenant)
      .catch(() => null)
    if (!state) {
      this.store.wipe()
      return false
    }
    this.store.import(state)
    return true
  }

  /** Runs one message's tasks: pings and authentication at once, the rest as POST /v1 does. */
  private async run(ws: WebSocket, a: Attachment, services: Services, tasks: unknown[]): Promise<void> {
    for (const task of tasks) {
      if (isPing(task)) this.send(ws, PONG_FRAME)
      else if (isAuthentication(task)) this.send(ws, dataFrame([{ taskType: 'authentication', connectionSessionUUID: a.session }]))
    }
    const work = tasks.filter((t) => !isPing(t) && !isAuthentication(t))
    if (!work.length) return
    const principal = await services.keys.resolve(a.apiKey ?? '')
    if (!principal) {
      this.sendError(ws, { code: 'invalidApiKey', message: 'This API key is no longer valid', taskType: 'authentication' })
      return this.close(ws, 1008, 'API key no longer valid')
    }
    try {
      await enforceRateLimit(this.env, principal, services.config.DEFAULT_RATE_LIMIT_PER_MINUTE)
    } catch (error) {
      if (!(error instanceof ApiError)) throw error
      const limited = work.map((t) => {
        const { taskType, taskUUID } = tagOf(t)
        return error.forTask(taskType, taskUUID).detail
      })
      for (const frame of framesPerTask([], limited)) this.send(ws, frame)
      return
    }
    const { items, errors } = await runSocketTasks(services, principal, a.session ?? '', work, this.store)
    for (const frame of framesPerTask(items, errors)) this.send(ws, frame)
  }

  /** Pushes every stored result not pushed yet, when the session's socket is open. */
  private async flush(): Promise<void> {
    const ws = this.openSocket()
    const tenant = this.store.get('tenant')
    if (!ws || !tenant) return
    // Taken before rendering (which waits on I/O), so a concurrent flush cannot push them too.
    const due = this.store.takeDue()
    if (!due.length) return
    const services = this.services(attachment(ws).origin)
    for (const [task, rows] of Map.groupBy(due, (r) => r.task)) {
      const state = await services.tasks.load(tenant, task)
      for (const { idx } of rows) {
        const result = state?.task.deleted ? undefined : state?.results.find((r) => r.index === idx)
        let frame: string | null = null
        if (state && result) frame = await this.render(services, state.task, result)
        // A socket that went away meanwhile leaves the result due, for a resume.
        const open = ws.readyState === WebSocket.OPEN
        if (open && frame) ws.send(frame)
        this.store.settle(task, idx, open)
      }
      this.store.finish(task, Date.now(), Date.now() - DONE_RETENTION_MS)
    }
  }

  /** A result as Runware pushes it: `{"data":[item]}`, or `{"errors":[…]}` with the task's UUID. */
  private async render(services: Services, task: TaskRecord, result: ResultRecord): Promise<string> {
    if (!result.ok) return errorsFrame([services.presenter.error(task, result).detail])
    try {
      return dataFrame([await services.presenter.item(task, result)()])
    } catch (error) {
      const detail = error instanceof ApiError ? error.detail : { code: 'internalServerError', message: 'The result could not be read' }
      return errorsFrame([{ ...detail, taskType: 'imageInference', taskUUID: task.taskUUID }])
    }
  }

  // ── Bookkeeping ──

  private open(session: string, tenant: string): void {
    this.store.set('session', session)
    this.store.set('tenant', tenant)
  }

  /** The session's authenticated, open socket on this object, if any. */
  private openSocket(except?: WebSocket): WebSocket | undefined {
    const session = this.store.get('session')
    return this.ctx
      .getWebSockets()
      .find((ws) => ws !== except && ws.readyState === WebSocket.OPEN && session !== null && attachment(ws).session === session)
  }

  /** A socket closed: the session waits RESUME_WINDOW_SECONDS for its client to come back. */
  private async socketGone(ws: WebSocket): Promise<void> {
    const a = attachment(ws)
    if (!a.session || a.session !== this.store.get('session') || this.store.get('forward') || this.openSocket(ws)) return
    const now = Date.now()
    this.store.set('closedAt', String(now))
    log({ msg: 'socket closed', tenant: this.store.get('tenant') })
    await this.wakeAt(now + RESUME_WINDOW_SECONDS * 1000)
  }

  /** Nobody came back: forget the session (its results stay reachable through getResponse). */
  private async expire(): Promise<void> {
    const session = this.store.get('session')
    const self = this.store.get('self')
    if (session && session !== self)
      await this.stub(session)
        .release(self ?? '')
        .catch(() => undefined)
    this.store.wipe()
  }

  private close(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason)
    } catch {
      // Already closed.
    }
  }

  /**
   * Sends a frame. A socket can close while a message's tasks run (the client dropped it, or
   * resumed its session on another connection): its answers are dropped, not thrown, and the
   * client gets them by sending its unanswered tasks again after resuming.
   */
  private send(ws: WebSocket, frame: string): void {
    try {
      ws.send(frame)
    } catch {
      // The client is gone.
    }
  }

  private sendError(ws: WebSocket, error: RunwareError): void {
    this.send(ws, errorsFrame([error]))
  }

  private async wakeAt(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm()
    if (current === null || current > at) await this.ctx.storage.setAlarm(at)
  }

  private services(origin: string): Services {
    return buildServices(this.env, requireConfig(this.env), { origin, waitUntil: (p) => this.ctx.waitUntil(p) })
  }

  private stub(name: string) {
    return this.env.SOCKETS.get(this.env.SOCKETS.idFromName(name))
  }
}

const log = (fields: Record<string, unknown>) => console.log(JSON.stringify({ level: 'info', ...fields }))
