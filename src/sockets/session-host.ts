/**
 * What a session object lends the modules that run its protocol (authentication, tasks, resume,
 * pushes): a narrow interface, so the object itself keeps only the socket and its lifecycle.
 */
import type { Services } from '../services'
import type { SessionState, SessionStore } from './session-store'

/** Kept on the socket itself, so it survives hibernation. */
export interface Attachment {
  origin: string
  /** This object's name, the UUID a fresh session gets; stored only once the socket authenticates. */
  self: string
  connectedAt: number
  lastSeen: number
  /** Set once authenticated. The key is kept (in memory only) so a disabled key stops working. */
  session?: string
  apiKey?: string
}

export const attachmentOf = (ws: WebSocket) => ws.deserializeAttachment() as Attachment

/** Another session object, as this one calls it. */
export interface SessionPeer {
  deliver(tenant: string, taskUUID: string, indexes: number[], total: number): Promise<void>
  handOver(to: string, tenant: string): Promise<SessionState | null>
  holds(session: string): Promise<boolean>
  release(holder: string): Promise<void>
}

export interface SessionHost {
  readonly store: SessionStore
  /** The services for sockets issued at `origin`, built once per wake of the object. */
  services(origin: string): Services
  /** Sends a frame; a socket that closed meanwhile drops it. */
  send(ws: WebSocket, frame: string): void
  close(ws: WebSocket, code: number, reason: string): void
  /** The object's sockets, open or not. */
  sockets(): WebSocket[]
  /** The object named `name`. */
  peer(name: string): SessionPeer
  /** Makes sure the object's alarm fires no later than `at`. */
  wakeAt(at: number): Promise<void>
}

/** The session's authenticated, open socket on this object, if any. */
export function openSocketOf(host: SessionHost, except?: WebSocket): WebSocket | undefined {
  const session = host.store.get('session')
  return host
    .sockets()
    .find((ws) => ws !== except && ws.readyState === WebSocket.OPEN && session !== null && attachmentOf(ws).session === session)
}
