/**
 * A session outlives its socket by RESUME_WINDOW_SECONDS. A reconnecting client lands on a new
 * object; when it authenticates with its connectionSessionUUID, the object of that name hands
 * the session over (its tasks and the results not yet pushed) and from then on forwards to it.
 * Tasks name their session, never the object holding the socket, so a result is always at most
 * one hop from its socket.
 */
import { log } from '../lib/log'
import { attachmentOf, openSocketOf, type SessionHost } from './session-host'
import type { SessionState } from './session-store'

export const RESUME_WINDOW_SECONDS = 120
/** How often an object that only forwards checks that the session still exists. */
const FORWARD_CHECK_MS = 3_600_000

/** This object now holds `session` of `tenant`. */
export function holdSession(host: SessionHost, session: string, tenant: string): void {
  host.store.set('session', session)
  host.store.set('tenant', tenant)
}

/** Takes over `session` from the object named after it; false when there is no such session of this tenant. */
export async function resume(host: SessionHost, session: string, self: string, tenant: string): Promise<boolean> {
  // Accept forwarded results before the state arrives: they travel while it does.
  holdSession(host, session, tenant)
  const state = await host
    .peer(session)
    .handOver(self, tenant)
    .catch(() => null)
  if (!state) {
    host.store.wipe()
    return false
  }
  host.store.import(state)
  return true
}

/** A client resumes this session on object `to`: hand over its state and forward from now on. */
export async function handOver(host: SessionHost, to: string, tenant: string): Promise<SessionState | null> {
  const { store } = host
  const forward = store.get('forward')
  if (forward) {
    const state = await host.peer(forward).handOver(to, tenant)
    if (state) store.set('forward', to)
    return state
  }
  const session = store.get('session')
  if (!session || store.get('tenant') !== tenant) return null
  for (const ws of host.sockets()) {
    if (attachmentOf(ws).session === session) host.close(ws, 4000, 'session resumed on another connection')
  }
  const state = store.export()
  store.wipe()
  // The object the session is named after stays its address.
  if (session === store.get('self')) {
    store.set('forward', to)
    await host.wakeAt(Date.now() + FORWARD_CHECK_MS)
  }
  return state
}

/** A socket closed: the session waits RESUME_WINDOW_SECONDS for its client to come back. */
export async function socketGone(host: SessionHost, ws: WebSocket): Promise<void> {
  const { store } = host
  const a = attachmentOf(ws)
  if (!a.session || a.session !== store.get('session') || store.get('forward') || openSocketOf(host, ws)) return
  const now = Date.now()
  store.set('closedAt', String(now))
  log('info', 'socket closed', { tenant: store.get('tenant') })
  await host.wakeAt(now + RESUME_WINDOW_SECONDS * 1000)
}

/**
 * The alarm's part for the session: a forwarding object checks its session still exists, and a
 * session whose socket stayed away past the resume window expires. Returns when to look again.
 */
export async function checkSession(host: SessionHost, now: number): Promise<number> {
  const { store } = host
  let next = Infinity
  const forward = store.get('forward')
  if (forward) {
    const session = store.get('self') ?? ''
    if (
      await host
        .peer(forward)
        .holds(session)
        .catch(() => true)
    )
      next = now + FORWARD_CHECK_MS
    else store.wipe()
  }
  const closedAt = Number(store.get('closedAt') ?? NaN)
  if (store.get('session') && !forward && !openSocketOf(host) && Number.isFinite(closedAt)) {
    if (now - closedAt >= RESUME_WINDOW_SECONDS * 1000) await expire(host)
    else next = Math.min(next, closedAt + RESUME_WINDOW_SECONDS * 1000)
  }
  return next
}

/** Nobody came back: forget the session (its results stay reachable through getResponse). */
async function expire(host: SessionHost): Promise<void> {
  const session = host.store.get('session')
  const self = host.store.get('self')
  if (session && session !== self)
    await host
      .peer(session)
      .release(self ?? '')
      .catch(() => undefined)
  host.store.wipe()
}
