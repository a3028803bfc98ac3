/** Runware's WebSocket frames: each message is a JSON array of tasks; each answer an envelope. */
import { documented, type RunwareError } from '../lib/errors'
import { memo } from '../lib/memo'

/** The SDK's heartbeat, byte for byte: the runtime answers it without waking the session's object. */
export const PING_FRAME = '[{"taskType":"ping","ping":true}]'
export const PONG_FRAME = '{"data":[{"taskType":"ping","pong":true}]}'

export const dataFrame = (items: readonly unknown[]) => JSON.stringify({ data: items })
/** `origin` is where the client reached the gateway: each error points at its page there. */
export const errorsFrame = (errors: readonly RunwareError[], origin: string) =>
  JSON.stringify({ errors: errors.map((e) => documented(e, origin)) })

/**
 * One envelope per task, its items and its errors together: a client waiting on one task never
 * reads another's answer, and Runware's SDK pollers, which take a task's first frame, see all of it.
 */
export function framesPerTask(items: readonly Record<string, unknown>[], errors: readonly RunwareError[], origin: string): string[] {
  const tasks = new Map<string, { data: Record<string, unknown>[]; errors: RunwareError[] }>()
  const of = (taskUUID: unknown) => memo(tasks, String(taskUUID ?? ''), () => ({ data: [], errors: [] }))
  for (const item of items) of(item.taskUUID).data.push(item)
  for (const error of errors) of(error.taskUUID).errors.push(documented(error, origin))
  return [...tasks.values()].map((t) =>
    JSON.stringify({ ...(t.data.length ? { data: t.data } : {}), ...(t.errors.length ? { errors: t.errors } : {}) }),
  )
}

/** The most taskUUIDs read from a message that cannot be parsed, and how much of it is read. */
const MAX_NAMED_TASKS = 32
const MAX_SCANNED_BYTES = 1024 * 1024

/**
 * The taskUUIDs a message names, read from its text even when it is too large or not JSON, so
 * a refusal of the whole message reaches each task's waiter (Runware's SDKs route by taskUUID and
 * drop, or spread to every task, an error without one).
 */
export function taskUUIDsNamed(message: string | ArrayBuffer): string[] {
  // Only the head of a hostile, oversize message is read: a refusal must cost little whatever its size.
  const text =
    typeof message === 'string'
      ? message.slice(0, MAX_SCANNED_BYTES)
      : new TextDecoder().decode(new Uint8Array(message, 0, Math.min(message.byteLength, MAX_SCANNED_BYTES)))
  const named = new Set<string>()
  for (const [, taskUUID] of text.matchAll(/"taskUUID"\s*:\s*"([^"\\]{1,100})"/g)) {
    if (taskUUID) named.add(taskUUID)
    if (named.size >= MAX_NAMED_TASKS) break
  }
  return [...named]
}

/** The frames refusing a whole message: one per task it names, or one without a taskUUID when it names none. */
export function refusalFrames(message: string | ArrayBuffer, error: RunwareError, origin: string): string[] {
  const named = taskUUIDsNamed(message)
  return named.length ? named.map((taskUUID) => errorsFrame([{ ...error, taskUUID }], origin)) : [errorsFrame([error], origin)]
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
