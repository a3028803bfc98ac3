/**
 * The tenant's input images: uploads (`imageUpload`, `POST /v1/images`) and image-to-image
 * references. Every image a task may reference lives in the operator's R2 bucket or at the
 * client's own https URL; an imageUUID resolves only within the tenant that stored or
 * generated it, through the tenant's Durable Object.
 */
import { ApiError } from '../lib/errors'
import { fromBase64 } from '../lib/encoding'
import { derivedUUID } from '../lib/ids'
import type { ImageSource } from '../lib/image-source'
import { uploadKey, variantPrefix } from '../lib/storage-keys'
import type { StoredReference, TaskRecord } from '../schemas/records'
import type { TenantClient } from '../tenant/tenant-client'
import type { ImageStore } from './image-store'

/** How long fetching an image from a client's URL may take. */
const FETCH_TIMEOUT_MS = 15_000

export class ImageLibrary {
  constructor(
    private readonly images: ImageStore,
    private readonly tenants: TenantClient,
  ) {}

  /** Stores an image under `imageUUID` (once: a re-send finds it there) and indexes it. */
  async store(tenant: string, imageUUID: string, body: ReadableStream<Uint8Array> | null, length: number | null, maxBytes: number) {
    const key = uploadKey(tenant, imageUUID)
    await this.images.put(key, body, length, maxBytes)
    await this.tenants.addImage(tenant, imageUUID, key, Date.now())
    return key
  }

  /** Stores inline bytes (already checked by the schema) under `imageUUID`. */
  storeInline(tenant: string, imageUUID: string, base64: string, maxBytes: number): Promise<string> {
    const bytes = fromBase64(base64)
    if (!bytes) throw new ApiError(400, { code: 'invalidImage', message: 'The image is not valid base64' })
    return this.store(tenant, imageUUID, new Response(bytes).body, bytes.byteLength, maxBytes)
  }

  /** Fetches an image from the client's https URL (already checked) and stores it. */
  async fetchAndStore(tenant: string, imageUUID: string, url: string, maxBytes: number, parameter = 'image'): Promise<string> {
    // A redirect is not followed: its target was never checked against the SSRF policy.
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) }).catch(() => null)
    if (!response?.ok) {
      await response?.body?.cancel()
      const why = !response
        ? ''
        : response.status >= 300 && response.status < 400
          ? ' (it redirects; redirects are not followed)'
          : ` (HTTP ${response.status})`
      throw new ApiError(400, { code: 'invalidImage', message: `image could not be fetched from its URL${why}`, parameter })
    }
    const length = response.headers.get('content-length')
    return this.store(tenant, imageUUID, response.body, length === null ? null : Number(length), maxBytes)
  }

  /**
   * Deletes an uploaded image: its imageUUID stops resolving at once, then its bytes and variants
   * go. The R2 keys deleted (for the edge cache to forget), none when there is no such upload.
   */
  async remove(tenant: string, imageUUID: string): Promise<string[]> {
    const key = await this.tenants.forgetUpload(tenant, imageUUID)
    if (!key) return []
    const [, variants] = await Promise.all([this.images.delete(key), this.images.deletePrefix(`${variantPrefix(key)}/`)])
    return [key, ...variants]
  }

  /** Deletes the inline reference images a task stored for itself (not uploads it named); their R2 keys. */
  async removeInlineReferences(task: TaskRecord): Promise<string[]> {
    const removed = await Promise.all(
      (task.references ?? []).map(async (reference, i) => {
        const imageUUID = await this.inlineReferenceUUID(task.tenant, task.taskUUID, i)
        if (!('key' in reference) || reference.key !== uploadKey(task.tenant, imageUUID)) return []
        return this.remove(task.tenant, imageUUID)
      }),
    )
    return removed.flat()
  }

  /** The imageUUID of a task's inline reference `i`: derived, so a re-sent request stores nothing new. */
  private inlineReferenceUUID(tenant: string, taskUUID: string, i: number): Promise<string> {
    return derivedUUID('reference', tenant, taskUUID, String(i))
  }

  /**
   * The stored form of a task's reference images: inline ones are put in R2 (under UUIDs
   * derived from the task, so a re-send stores nothing new), imageUUIDs are looked up, URLs
   * pass through. Unknown or foreign imageUUIDs come back as errors naming their entry.
   */
  async references(
    tenant: string,
    taskUUID: string,
    sources: readonly ImageSource[],
    maxBytes: number,
  ): Promise<{ references: StoredReference[] } | { errors: ApiError[] }> {
    const uuids = sources.flatMap((s) => (s.kind === 'uuid' ? [s.imageUUID] : []))
    const found: Record<string, string> = uuids.length ? await this.tenants.findImages(tenant, uuids) : {}
    const errors: ApiError[] = []
    sources.forEach((s, i) => {
      if (s.kind === 'uuid' && !found[s.imageUUID]) {
        const parameter = `inputs.referenceImages[${i}]`
        errors.push(
          new ApiError(400, {
            code: 'imageNotFound',
            message: `${parameter} names no image generated or uploaded with this API key's tenant`,
            parameter,
          }),
        )
      }
    })
    if (errors.length) return { errors }
    const references = await Promise.all(
      sources.map(async (s, i): Promise<StoredReference> => {
        if (s.kind === 'url') return { url: s.url }
        if (s.kind === 'uuid') return { key: found[s.imageUUID] as string }
        const imageUUID = await this.inlineReferenceUUID(tenant, taskUUID, i)
        return { key: await this.storeInline(tenant, imageUUID, s.base64, maxBytes) }
      }),
    )
    return { references }
  }
}
