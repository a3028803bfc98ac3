/** Runware's WebSocket frames: each message is a JSON array of tasks; each answer an envelope. */
import type { RunwareError } from '../lib/errors'

/** The SDK's heartbeat, byte for byte: the runtime answers it without waking the session's object. */
export const PING_FRAME = '[{"taskType":"ping","ping":true}]'
export const PONG_FRAME = '{"data":[{"taskType":"ping","pong":true}]}'

export const dataFrame = (items: readonly unknown[]) => JSON.stringify({ data: items })
export const errorsFrame = (errors: readonly RunwareError[]) => JSON.stringify({ errors })

/** One frame per task, so a client waiting on one task never reads another's answer. */
export function framesPerTask(items: readonly Record<string, unknown>[], errors: readonly RunwareError[]): string[] {
  const byTask = <T extends { taskUUID?: unknown }>(list: readonly T[]) => Map.groupBy(list, (x) => String(x.taskUUID ?? ''))
  return [...[...byTask(items).values()].map(dataFrame), ...[...byTask(errors).values()].map(errorsFrame)]
}

/** The tasks of one message (an array, or one task object); null when it is not JSON of that shape. */
export function parseMessage(message: string | ArrayBuffer): unknown[] | null {
  try {
    const body: unknown = JSON.parse(typeof message === 'string' ? message : new TextDecoder().decode(message))
    if (Array.isArray(body)) return body
    return body !== null && typeof body === 'object' ? [body] : null
  } catch {
    return null
  }
}

const taskTypeOf = (task: unknown) => (task !== null && typeof task === 'object' ? (task as { taskType?: unknown }).taskType : undefined)
export const isPing = (task: unknown) => taskTypeOf(task) === 'ping'
export const isAuthentication = (task: unknown) => taskTypeOf(task) === 'authentication'

/** The taskUUID an imageInference task whose results are pushed goes by (sync is the default). */
export function pushedTaskUUID(task: unknown): string | null {
  if (taskTypeOf(task) !== 'imageInference') return null
  const { taskUUID, deliveryMethod } = task as { taskUUID?: unknown; deliveryMethod?: unknown }
  return typeof taskUUID === 'string' && deliveryMethod !== 'async' ? taskUUID.toLowerCase() : null
}
