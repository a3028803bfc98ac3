/** Hands a WebSocket upgrade on /v1 to a fresh session object, named by a new connectionSessionUUID. */
import { ORIGIN_HEADER, SESSION_HEADER } from './socket-session'

export function openSocket(sessions: Env['SOCKETS'], request: Request, origin: string): Promise<Response> {
  const session = crypto.randomUUID()
  // The key arrives in the first message, never in the upgrade, so nothing else of it is needed.
  const headers = { upgrade: 'websocket', [SESSION_HEADER]: session, [ORIGIN_HEADER]: origin }
  return sessions.get(sessions.idFromName(session)).fetch(new Request(request.url, { headers }))
}
