/** Hands a WebSocket upgrade on /v1 to a fresh session object, named by a new connectionSessionUUID. */

/** Headers the Worker sets when it hands an upgrade to a fresh object. */
export const SESSION_HEADER = 'x-imagine-edge-session'
export const ORIGIN_HEADER = 'x-imagine-edge-origin'

export function openSocket(sessions: Env['SOCKETS'], request: Request, origin: string): Promise<Response> {
  const session = crypto.randomUUID()
  // The key arrives in the first message, never in the upgrade, so nothing else of it is needed.
  const headers = { upgrade: 'websocket', [SESSION_HEADER]: session, [ORIGIN_HEADER]: origin }
  return sessions.get(sessions.idFromName(session)).fetch(new Request(request.url, { headers }))
}
