/**
 * Every KV key and R2 key the gateway uses, in one place. docs/storage.md documents each
 * with its value shape and TTL; change both together.
 */
import { EXTENSIONS, type ImageFormat } from './image-type'

/** KV: the task record, written at creation and once more at finalization. */
export const kvTaskKey = (tenant: string, taskUUID: string) => `task:${tenant}:${taskUUID}`

/** KV: one write-once record per result, written only while the task is still incomplete. */
export const kvResultKey = (tenant: string, taskUUID: string, index: number) => `result:${tenant}:${taskUUID}:${index}`

/** R2: the image bytes of one result. */
export const imageKey = (tenant: string, taskUUID: string, index: number, format: ImageFormat) =>
  `images/${tenant}/${taskUUID}/${index}.${EXTENSIONS[format]}`

/** R2: everything the gateway stores for one task's images. */
export const imagePrefix = (tenant: string, taskUUID: string) => `images/${tenant}/${taskUUID}/`

/** R2: the strongly consistent, write-once state of one task (idempotency and result claims). */
export const statePrefix = (tenant: string, taskUUID: string) => `state/${tenant}/${taskUUID}/`
export const stateTaskKey = (tenant: string, taskUUID: string) => `${statePrefix(tenant, taskUUID)}task`
export const stateResultPrefix = (tenant: string, taskUUID: string) => `${statePrefix(tenant, taskUUID)}results/`
export const stateResultKey = (tenant: string, taskUUID: string, index: number) => `${stateResultPrefix(tenant, taskUUID)}${index}`
export const stateFinalKey = (tenant: string, taskUUID: string) => `${statePrefix(tenant, taskUUID)}final`

const IMAGE_KEY = /^images\/([a-z0-9_]+)\/([0-9a-f-]{36})\/(\d{1,2})\.(jpg|png|webp)$/

/** The parts of an image key, or null when `key` is not one. */
export function parseImageKey(key: string): { tenant: string; taskUUID: string; index: number } | null {
  const [, tenant, taskUUID, index] = IMAGE_KEY.exec(key) ?? []
  if (!tenant || !taskUUID) return null
  return { tenant, taskUUID, index: Number(index) }
}

/** R2: the delivery log of a task's client webhooks and upload copies, one object per event. */
export const deliveryPrefix = (tenant: string, taskUUID: string) => `deliveries/${tenant}/${taskUUID}/`
export const deliveryKey = (tenant: string, taskUUID: string, eventId: string) => `${deliveryPrefix(tenant, taskUUID)}${eventId}`

/** The event id of a result's webhook (`evt_`) or upload copy (`upl_`): stable across retries. */
export const eventId = (kind: 'webhook' | 'upload', taskUUID: string, index: number) =>
  `${kind === 'webhook' ? 'evt' : 'upl'}_${taskUUID}_${index}`

/** The parts of an event id, or null when `id` is not one. */
export function parseEventId(id: string): { kind: 'webhook' | 'upload'; taskUUID: string; index: number } | null {
  const [, prefix, taskUUID, index] = /^(evt|upl)_([0-9a-f-]{36})_(\d{1,2})$/.exec(id) ?? []
  if (!prefix || !taskUUID || !index) return null
  return { kind: prefix === 'evt' ? 'webhook' : 'upload', taskUUID, index: Number(index) }
}

/**
 * R2: a marker per unfinished task, named so a listing returns the oldest first; the
 * reconciler walks these. Deleted when the task is finalized, abandoned or deleted.
 */
export const INFLIGHT_PREFIX = 'inflight/'
export const inflightKey = (createdAt: number, tenant: string, taskUUID: string) =>
  `${INFLIGHT_PREFIX}${String(createdAt).padStart(15, '0')}/${tenant}/${taskUUID}`

/** The parts of an in-flight marker key, or null when `key` is not one. */
export function parseInflightKey(key: string): { createdAt: number; tenant: string; taskUUID: string } | null {
  const [, createdAt, tenant, taskUUID] = /^inflight\/(\d{15})\/([a-z0-9_]+)\/([0-9a-f-]{36})$/.exec(key) ?? []
  if (!createdAt || !tenant || !taskUUID) return null
  return { createdAt: Number(createdAt), tenant, taskUUID }
}

/** How long task records live in KV. R2 objects follow the bucket's lifecycle rule. */
export const TASK_RETENTION_SECONDS = 30 * 86_400
