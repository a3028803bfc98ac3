/**
 * Every KV key and R2 key the gateway uses, in one place. docs/storage.md documents each
 * with its value shape and TTL; change both together.
 */
import { EXTENSIONS, type ImageFormat } from './image-type'

/**
 * KV: the whole final record of a task with client deliveries, with its results, written once
 * by its shard object (src/tenant/task-shard.ts) when the task finishes; the deliverer reads it.
 */
export const kvTaskKey = (tenant: string, taskUUID: string) => `task:${tenant}:${taskUUID}`

/** KV: a managed key's record, under the SHA-256 (hex) of the key itself; the key is never stored. */
export const kvApiKeyKey = (keyHash: string) => `apikey:${keyHash}`

/** KV: a managed key's id, pointing at its hash, with the record as metadata so a list needs no reads. */
export const KV_KEY_ID_PREFIX = 'keyid:'
export const kvKeyIdKey = (id: string) => `${KV_KEY_ID_PREFIX}${id}`

/** KV: a tenant's webhook secret version (the secret itself is derived, never stored). */
export const kvWebhookSecretKey = (tenant: string) => `whsec:${tenant}`

/** R2: everything the gateway stores for one task's images. */
export const imagePrefix = (tenant: string, taskUUID: string) => `images/${tenant}/${taskUUID}/`

/** R2: the image bytes of one result. */
export const imageKey = (tenant: string, taskUUID: string, index: number, format: ImageFormat) =>
  `${imagePrefix(tenant, taskUUID)}${index}.${EXTENSIONS[format]}`

const IMAGE_KEY = /^images\/([a-z0-9_]+)\/([0-9a-f-]{36})\/(\d{1,2})\.(jpg|png|webp)$/

/** The parts of an image key, or null when `key` is not one. */
export function parseImageKey(key: string): { tenant: string; taskUUID: string; index: number } | null {
  const [, tenant, taskUUID, index] = IMAGE_KEY.exec(key) ?? []
  if (!tenant || !taskUUID) return null
  return { tenant, taskUUID, index: Number(index) }
}

/**
 * R2: resized copies of the image at `objectKey` (src/images/variants.ts), each written once, on
 * its first request. Under the image's own key, so whatever deletes an image deletes its variants
 * by this prefix: `variantPrefix(imagePrefix(…))` covers a whole task's.
 */
export const variantPrefix = (objectKey: string) => `variants/${objectKey}`
/** R2: one variant: `variants/{objectKey}/{width}.{avif|webp|jpg|png}`, `full` for a format change alone. */
export const variantKey = (objectKey: string, width: number | undefined, extension: string) =>
  `${variantPrefix(objectKey)}/${width ?? 'full'}.${extension}`

/**
 * R2: an input image of the tenant's (an imageUpload, or an inline reference image), named by
 * its imageUUID. The tenant's Durable Object indexes it beside generated images.
 */
export const uploadKey = (tenant: string, imageUUID: string) => `uploads/${tenant}/${imageUUID}`

/** R2: the delivery log of a task's client webhooks and upload copies, one object per event. */
export const deliveryPrefix = (tenant: string, taskUUID: string) => `deliveries/${tenant}/${taskUUID}/`
export const deliveryKey = (tenant: string, taskUUID: string, eventId: string) => `${deliveryPrefix(tenant, taskUUID)}${eventId}`

/** R2: budget threshold events are logged beside tasks' deliveries, under this name instead of a taskUUID. */
export const ALERT_LOG = 'alerts'

/** The event id of a budget threshold event: once per budget, period and threshold. */
export const alertEventId = (keyId: string | null, periodStart: string, threshold: number) =>
  `bud_${keyId ?? 'tenant'}_${periodStart}_${Math.round(threshold * 100)}`

/** The event id of a result's webhook (`evt_`) or upload copy (`upl_`): stable across retries. */
export const eventId = (kind: 'webhook' | 'upload', taskUUID: string, index: number) =>
  `${kind === 'webhook' ? 'evt' : 'upl'}_${taskUUID}_${index}`

/** The parts of an event id, or null when `id` is not one. */
export function parseEventId(id: string): { kind: 'webhook' | 'upload'; taskUUID: string; index: number } | null {
  const [, prefix, taskUUID, index] = /^(evt|upl)_([0-9a-f-]{36})_(\d{1,2})$/.exec(id) ?? []
  if (!prefix || !taskUUID || !index) return null
  return { kind: prefix === 'evt' ? 'webhook' : 'upload', taskUUID, index: Number(index) }
}

/** How long finished task records live in KV and in their shard. R2 objects follow the bucket's lifecycle rule. */
export const TASK_RETENTION_SECONDS = 30 * 86_400
