/** Hands a WebSocket upgrade on /v1 to a fresh session object, named by a new connectionSessionUUID. */
import { ORIGIN_HEADER, SESSION_HEADER } from '../objects/socket-session'

export function openSocket(sessions: Env['SOCKETS'], request: Request, origin: string): Promise<Response> {
  const session = crypto.randomUUID()
  const headers = new Headers({ upgrade: 'websocket', [SESSION_HEADER]: session, [ORIGIN_HEADER]: origin })
  // Everything else the client sent (its key arrives in the first message, never in the URL) stays here.
  for (const name of ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions']) {
    const value = request.headers.get(name)
    if (value) headers.set(name, value)
  }
  return sessions.get(sessions.idFromName(session)).fetch(new Request(request.url, { headers }))
}
