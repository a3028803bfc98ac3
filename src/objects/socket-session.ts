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
import {
  dataFrame,
  errorsFrame,
  isAuthentication,
  isPing,
  parseMessage,
  PING_FRAME,
  PONG_FRAME,
  pushedTaskUUID,
} from '../lib/socket-frames'
import type { Principal } from '../schemas/api-keys'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import { authenticationSchema } from '../schemas/tasks'
import { requireConfig } from '../services/config'
import { buildServices, type Services } from '../services/container'
import { enforceRateLimit } from '../services/rate-limits'
import { MAX_TASKS_PER_REQUEST, runTasks } from '../services/runware-api'

export const RESUME_WINDOW_SECONDS = 120
export const IDLE_TIMEOUT_SECONDS = 120
export const AUTH_TIMEOUT_SECONDS = 30
/** The largest message a client may send; larger images go by URL or through POST /v1/images. */
export const MAX_MESSAGE_BYTES = 1024 * 1024
/** imageInference tasks of one session whose results are still being pushed. */
export const MAX_TASKS_IN_FLIGHT = 32
/** Pushed results are remembered this long after their task finished, so a late repeat notice is ignored. */
const DONE_RETENTION_MS = 3_600_000
/** How often an object that only forwards checks that the session still exists. */
const FORWARD_CHECK_MS = 3_600_000

/** Headers the Worker sets when it hands an upgrade to a fresh object. */
export const SESSION_HEADER = 'x-imagine-edge-session'
export const ORIGIN_HEADER = 'x-imagine-edge-origin'

/** Kept on the socket itself, so it survives hibernation. */
interface Attachment {
  /** This object's name: the session UUID a fresh session gets. */
  self: string
  origin: string
  connectedAt: number
  lastSeen: number
  /** Set once authenticated. The key is kept (in memory only) so a disabled key stops working. */
  session?: string
  apiKey?: string
}

/** What one object hands another when a client resumes the session there. */
export interface SessionState {
  tasks: { task: string; total: number; done_at: number | null }[]
  results: { task: string; idx: number; sent: number }[]
}

const sessionUUID = z.uuid()

const attachment = (ws: WebSocket) => ws.deserializeAttachment() as Attachment

export class SocketSession extends DurableObject<Env> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tasks (task TEXT PRIMARY KEY, total INTEGER NOT NULL, done_at INTEGER);
      CREATE TABLE IF NOT EXISTS results (task TEXT NOT NULL, idx INTEGER NOT NULL, sent INTEGER NOT NULL, PRIMARY KEY (task, idx));
    `)
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
    server.serializeAttachment({ self, origin, connectedAt: now, lastSeen: now } satisfies Attachment)
    this.setMeta('self', self)
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
    const forward = this.meta('forward')
    if (forward) {
      const session = this.meta('self') ?? ''
      if (
        await this.stub(forward)
          .holds(session)
          .catch(() => true)
      )
        next = Math.min(next, now + FORWARD_CHECK_MS)
      else this.wipe()
    }
    const closedAt = Number(this.meta('closedAt') ?? NaN)
    if (this.meta('session') && !forward && !this.openSocket() && Number.isFinite(closedAt)) {
      if (now - closedAt >= RESUME_WINDOW_SECONDS * 1000) await this.expire()
      else next = Math.min(next, closedAt + RESUME_WINDOW_SECONDS * 1000)
    }
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next)
  }

  // ── RPC, from the Worker's services and from other sessions' objects ──

  /** Results of one of the session's tasks were stored: push them (or keep them for a resume). */
  async deliver(tenant: string, taskUUID: string, indexes: number[], total: number): Promise<void> {
    const forward = this.meta('forward')
    if (forward) return this.stub(forward).deliver(tenant, taskUUID, indexes, total)
    // Unknown or expired session: the results stay reachable through getResponse.
    if (this.meta('tenant') !== tenant) return
    this.sql.exec('INSERT INTO tasks (task, total) VALUES (?, ?) ON CONFLICT (task) DO UPDATE SET total = excluded.total', taskUUID, total)
    for (const idx of indexes) this.sql.exec('INSERT OR IGNORE INTO results (task, idx, sent) VALUES (?, ?, 0)', taskUUID, idx)
    await this.flush()
  }

  /** A client resumes this session on object `to`: hand over its state and forward from now on. */
  async handOver(to: string, tenant: string): Promise<SessionState | null> {
    const forward = this.meta('forward')
    if (forward) {
      const state = await this.stub(forward).handOver(to, tenant)
      if (state) this.setMeta('forward', to)
      return state
    }
    const session = this.meta('session')
    if (!session || this.meta('tenant') !== tenant) return null
    for (const ws of this.ctx.getWebSockets()) {
      if (attachment(ws).session === session) this.close(ws, 4000, 'session resumed on another connection')
    }
    const state: SessionState = {
      tasks: this.sql.exec<SessionState['tasks'][number]>('SELECT task, total, done_at FROM tasks').toArray(),
      // A result being pushed right now goes to a closed socket: it is still to be pushed.
      results: this.sql
        .exec<SessionState['results'][number]>('SELECT task, idx, CASE sent WHEN 1 THEN 1 ELSE 0 END AS sent FROM results')
        .toArray(),
    }
    const self = this.meta('self')
    this.wipe()
    // The object the session is named after stays its address.
    if (session === self) {
      this.setMeta('self', self)
      this.setMeta('forward', to)
      await this.wakeAt(Date.now() + FORWARD_CHECK_MS)
    }
    return state
  }

  /** Whether this object holds `session` (for an object that forwards to it). */
  async holds(session: string): Promise<boolean> {
    return this.meta('session') === session && !this.meta('forward')
  }

  /** The session held at `holder` expired: stop forwarding to it. */
  async release(holder: string): Promise<void> {
    if (this.meta('forward') === holder) this.wipe()
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
    const wanted = sessionUUID.safeParse(auth.data.connectionSessionUUID)
    const resumed =
      wanted.success && wanted.data.toLowerCase() !== a.self && (await this.resume(wanted.data.toLowerCase(), a.self, principal))
    const session = resumed && wanted.success ? wanted.data.toLowerCase() : a.self
    if (!resumed) this.open(session, principal.tenant)
    this.deleteMeta('closedAt')
    a.session = session
    a.apiKey = auth.data.apiKey
    ws.serializeAttachment(a)
    ws.send(dataFrame([{ taskType: 'authentication', connectionSessionUUID: session }]))
    log({ msg: 'socket authenticated', tenant: principal.tenant, resumed })
    await this.wakeAt(Date.now() + IDLE_TIMEOUT_SECONDS * 1000)
    await this.flush()
    return true
  }

  /** Takes over `session` from the object named after it; false when there is no such session of this tenant. */
  private async resume(session: string, self: string, principal: Principal): Promise<boolean> {
    // Accept forwarded results before the state arrives: they travel while it does.
    this.open(session, principal.tenant)
    const state = await this.stub(session)
      .handOver(self, principal.tenant)
      .catch(() => null)
    if (!state) {
      this.wipe()
      this.setMeta('self', self)
      return false
    }
    for (const t of state.tasks)
      this.sql.exec('INSERT OR IGNORE INTO tasks (task, total, done_at) VALUES (?, ?, ?)', t.task, t.total, t.done_at)
    for (const r of state.results) this.sql.exec('INSERT OR IGNORE INTO results (task, idx, sent) VALUES (?, ?, ?)', r.task, r.idx, r.sent)
    return true
  }

  /** Runs one message's tasks: pings and authentication at once, the rest as POST /v1 does. */
  private async run(ws: WebSocket, a: Attachment, services: Services, tasks: unknown[]): Promise<void> {
    for (const task of tasks) {
      if (isPing(task)) ws.send(PONG_FRAME)
      else if (isAuthentication(task)) ws.send(dataFrame([{ taskType: 'authentication', connectionSessionUUID: a.session }]))
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
      return this.sendPerTask(
        ws,
        [],
        work.map((t) => error.forTask(tagOf(t).taskType, tagOf(t).taskUUID).detail),
      )
    }
    if (work.length > MAX_TASKS_PER_REQUEST) {
      return this.sendError(ws, { code: 'tooManyTasks', message: `At most ${MAX_TASKS_PER_REQUEST} tasks per message` })
    }
    // Tasks whose results will be pushed take a slot until the last one is.
    const room = MAX_TASKS_IN_FLIGHT - this.inFlight()
    const pushed = work.filter((t) => pushedTaskUUID(t) !== null)
    const refused = new Set(pushed.slice(Math.max(0, room)))
    const claimed: string[] = []
    for (const task of pushed) {
      if (refused.has(task)) continue
      const uuid = pushedTaskUUID(task) as string
      const total = Number((task as { numberResults?: unknown }).numberResults ?? 1)
      const write = this.sql.exec('INSERT OR IGNORE INTO tasks (task, total) VALUES (?, ?)', uuid, Number.isInteger(total) ? total : 1)
      if (write.rowsWritten) claimed.push(uuid)
    }
    let items: Record<string, unknown>[] = []
    let errors: RunwareError[] = []
    try {
      const outcome = await runTasks(
        services,
        principal,
        work.filter((t) => !refused.has(t)),
        Date.now(),
        { socket: a.session },
      )
      errors = outcome.errors.map((e) => e.detail)
      items = await Promise.all(outcome.items.map((item) => item()))
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', msg: 'socket task failed', error: String(error) }))
      errors = work.map((t) => ({ code: 'internalServerError', message: 'Internal error; retry later', ...tagOf(t) }))
    } finally {
      // A task answered at once (refused, invalid, or a re-send of a known task) is not pushed here: free its slot.
      const answered = new Set([...items, ...errors].map((x) => String(x.taskUUID ?? '').toLowerCase()))
      for (const uuid of claimed) {
        if (answered.has(uuid) && !this.sql.exec('SELECT 1 FROM results WHERE task = ?', uuid).toArray().length) {
          this.sql.exec('DELETE FROM tasks WHERE task = ? AND done_at IS NULL', uuid)
        }
      }
    }
    for (const task of refused) {
      errors.push({
        code: 'tooManyTasksInFlight',
        message: `A connection may have at most ${MAX_TASKS_IN_FLIGHT} imageInference tasks in flight; wait for results before sending more`,
        ...tagOf(task),
      })
    }
    this.sendPerTask(ws, items, errors)
  }

  /** One frame per task, so a client waiting on one task never reads another's answer. */
  private sendPerTask(ws: WebSocket, items: Record<string, unknown>[], errors: RunwareError[]): void {
    const byTask = <T extends { taskUUID?: unknown }>(list: T[]) => Map.groupBy(list, (x) => String(x.taskUUID ?? ''))
    for (const group of byTask(items).values()) ws.send(dataFrame(group))
    for (const group of byTask(errors).values()) ws.send(errorsFrame(group))
  }

  /** Pushes every stored result not pushed yet, when the session's socket is open. */
  private async flush(): Promise<void> {
    const ws = this.openSocket()
    const tenant = this.meta('tenant')
    if (!ws || !tenant) return
    const due = this.sql.exec<{ task: string; idx: number }>('SELECT task, idx FROM results WHERE sent = 0').toArray()
    if (!due.length) return
    // Claimed before rendering (which waits on I/O), so a concurrent flush cannot push them too.
    this.sql.exec('UPDATE results SET sent = 2 WHERE sent = 0')
    const services = this.services(attachment(ws).origin)
    for (const [task, rows] of Map.groupBy(due, (r) => r.task)) {
      const state = await services.tasks.load(tenant, task)
      for (const { idx } of rows) {
        const result = state?.task.deleted ? undefined : state?.results.find((r) => r.index === idx)
        let frame: string | null = null
        if (state && result) frame = await this.render(services, state.task, result)
        try {
          if (ws.readyState !== WebSocket.OPEN) throw new Error('closed')
          if (frame) ws.send(frame)
          this.sql.exec('UPDATE results SET sent = 1 WHERE task = ? AND idx = ?', task, idx)
        } catch {
          // The socket went away meanwhile: keep it for a resume.
          this.sql.exec('UPDATE results SET sent = 0 WHERE task = ? AND idx = ?', task, idx)
        }
      }
      this.sql.exec(
        'UPDATE tasks SET done_at = ? WHERE task = ? AND done_at IS NULL AND total <= (SELECT COUNT(*) FROM results WHERE task = ? AND sent = 1)',
        Date.now(),
        task,
        task,
      )
    }
    const old = Date.now() - DONE_RETENTION_MS
    this.sql.exec('DELETE FROM results WHERE task IN (SELECT task FROM tasks WHERE done_at < ?)', old)
    this.sql.exec('DELETE FROM tasks WHERE done_at < ?', old)
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

  private inFlight(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM tasks WHERE done_at IS NULL').one().n
  }

  private open(session: string, tenant: string): void {
    this.setMeta('session', session)
    this.setMeta('tenant', tenant)
  }

  /** The session's authenticated, open socket on this object, if any. */
  private openSocket(except?: WebSocket): WebSocket | undefined {
    const session = this.meta('session')
    return this.ctx
      .getWebSockets()
      .find((ws) => ws !== except && ws.readyState === WebSocket.OPEN && session !== null && attachment(ws).session === session)
  }

  /** A socket closed: the session waits RESUME_WINDOW_SECONDS for its client to come back. */
  private async socketGone(ws: WebSocket): Promise<void> {
    const a = attachment(ws)
    if (!a.session || a.session !== this.meta('session') || this.meta('forward') || this.openSocket(ws)) return
    const now = Date.now()
    this.setMeta('closedAt', String(now))
    log({ msg: 'socket closed', tenant: this.meta('tenant') })
    await this.wakeAt(now + RESUME_WINDOW_SECONDS * 1000)
  }

  /** Nobody came back: forget the session (its results stay reachable through getResponse). */
  private async expire(): Promise<void> {
    const session = this.meta('session')
    const self = this.meta('self')
    if (session && session !== self)
      await this.stub(session)
        .release(self ?? '')
        .catch(() => undefined)
    this.wipe()
    if (self) this.setMeta('self', self)
  }

  private wipe(): void {
    this.sql.exec('DELETE FROM meta; DELETE FROM tasks; DELETE FROM results;')
  }

  private close(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason)
    } catch {
      // Already closed.
    }
  }

  private sendError(ws: WebSocket, error: RunwareError): void {
    try {
      ws.send(errorsFrame([error]))
    } catch {
      // The client is gone.
    }
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

  private meta(k: string): string | null {
    return this.sql.exec<{ v: string }>('SELECT v FROM meta WHERE k = ?', k).toArray()[0]?.v ?? null
  }

  private setMeta(k: string, v: string): void {
    this.sql.exec('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', k, v)
  }

  private deleteMeta(k: string): void {
    this.sql.exec('DELETE FROM meta WHERE k = ?', k)
  }
}

const tagOf = (task: unknown) => {
  const t = (task ?? {}) as { taskType?: unknown; taskUUID?: unknown }
  return {
    ...(typeof t.taskType === 'string' ? { taskType: t.taskType } : {}),
    ...(typeof t.taskUUID === 'string' ? { taskUUID: t.taskUUID } : {}),
  }
}

const log = (fields: Record<string, unknown>) => console.log(JSON.stringify({ level: 'info', ...fields }))
