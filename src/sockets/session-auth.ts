/**
 * A socket's first task must authenticate it: `{"taskType":"authentication","apiKey":…}`,
 * optionally with the connectionSessionUUID of a session to resume.
 */
import * as z from 'zod'
import { log } from '../lib/log'
import { dataFrame, errorsFrame } from '../protocol/frames'
import { authenticationSchema } from '../schemas/tasks'
import type { Services } from '../services'
import { type Attachment, type SessionHost } from './session-host'
import { flush } from './session-push'
import { holdSession, resume } from './session-resume'

export const AUTH_TIMEOUT_SECONDS = 30
export const IDLE_TIMEOUT_SECONDS = 120

const sessionUUID = z.uuid()

/** Authenticates `ws` with `first`; false (and the socket closed) when it does not. */
export async function authenticate(host: SessionHost, ws: WebSocket, a: Attachment, services: Services, first: unknown): Promise<boolean> {
  const auth = authenticationSchema.safeParse(first)
  const principal = auth.success ? await services.keys.resolve(auth.data.apiKey) : null
  if (!auth.success || !principal) {
    const message = auth.success
      ? 'Invalid API key: use a key issued by this gateway'
      : 'The first message must authenticate: [{"taskType":"authentication","apiKey":"…"}]'
    host.send(ws, errorsFrame([{ code: 'invalidApiKey', message, parameter: 'apiKey', taskType: 'authentication' }], a.origin))
    host.close(ws, 1008, 'authentication failed')
    log('info', 'socket authentication failed')
    return false
  }
  // This object's name: the session UUID a fresh session gets. Stored now that a key vouches for it.
  const self = a.self ?? host.store.get('self') ?? ''
  host.store.set('self', self)
  const wanted = sessionUUID.safeParse(auth.data.connectionSessionUUID)
  const asked = wanted.success ? wanted.data.toLowerCase() : null
  const resumed = asked !== null && asked !== self && (await resume(host, asked, self, principal.tenant))
  const session = resumed && asked ? asked : self
  if (!resumed) holdSession(host, session, principal.tenant)
  host.store.delete('closedAt')
  a.session = session
  a.apiKey = auth.data.apiKey
  ws.serializeAttachment(a)
  host.send(ws, dataFrame([{ taskType: 'authentication', connectionSessionUUID: session }]))
  log('info', 'socket authenticated', { tenant: principal.tenant, resumed })
  await host.wakeAt(Date.now() + IDLE_TIMEOUT_SECONDS * 1000)
  await flush(host)
  return true
}
