/**
 * Runware's upload tasks: `imageUpload` (deprecated by Runware) and `mediaStorage` (its
 * replacement, which can also delete). Both store the image in the tenant's R2 space; its UUID
 * works in inputs.referenceImages, and its signed URL serves the stored bytes.
 */
import { ApiError } from '../lib/errors'
import { derivedUUID } from '../lib/ids'
import { isImageSourceProblem, parseImageSource } from '../lib/image-source'
import { UPLOAD_LIMITS } from '../models/registry'
import type { Principal } from '../schemas/api-keys'
import { issuesToErrors } from '../schemas/issues'
import { taskUUIDSchema as mediaUUIDSchema } from '../schemas/image-inference'
import { imageUploadSchema, mediaStorageSchema } from '../schemas/tasks'
import type { Services } from '../services'
import type { TaskOutcome } from '../tasks/generation'

const failed = (...errors: ApiError[]): TaskOutcome => ({ items: [], errors })

/** Stores the image `value` holds under a UUID derived from the task, so a re-send stores nothing new. */
async function store(services: Services, principal: Principal, taskUUID: string, value: string, parameter: string) {
  const source = parseImageSource(value, UPLOAD_LIMITS)
  if (isImageSourceProblem(source) || source.kind === 'uuid') {
    const { code, message } = isImageSourceProblem(source)
      ? source
      : { code: 'invalidImage', message: 'must hold the image itself (a data URI, base64 or an https URL)' }
    throw new ApiError(400, { code, message: `${parameter} ${message}`, parameter })
  }
  const uuid = await derivedUUID('upload', principal.tenant, taskUUID.toLowerCase())
  const key =
    source.kind === 'inline'
      ? await services.library.storeInline(principal.tenant, uuid, source.base64, UPLOAD_LIMITS.maxBytes)
      : await services.library.fetchAndStore(principal.tenant, uuid, source.url, UPLOAD_LIMITS.maxBytes, parameter)
  return { uuid, url: await services.presenter.uploadUrl(key) }
}

/** imageUpload: answers imageUUID and imageURL (Runware's Python SDK reads response["imageURL"]). */
export async function imageUpload(services: Services, principal: Principal, task: Record<string, unknown>): Promise<TaskOutcome> {
  const parsed = imageUploadSchema.safeParse(task)
  if (!parsed.success) return failed(...issuesToErrors(parsed.error.issues, task))
  const { taskUUID, image } = parsed.data
  const { uuid, url } = await store(services, principal, taskUUID, image, 'image')
  return { items: [async () => ({ taskType: 'imageUpload', taskUUID, imageUUID: uuid, imageURL: url })], errors: [] }
}

/** mediaStorage: `upload` answers mediaUUID and mediaURL; `delete` forgets an upload (Runware's TypeScript SDK types). */
export async function mediaStorage(services: Services, principal: Principal, task: Record<string, unknown>): Promise<TaskOutcome> {
  const parsed = mediaStorageSchema.safeParse(task)
  if (!parsed.success) return failed(...issuesToErrors(parsed.error.issues, task))
  const { taskUUID, operation, media } = parsed.data
  if (operation === 'upload') {
    const { uuid, url } = await store(services, principal, taskUUID, media, 'media')
    return { items: [async () => ({ taskType: 'mediaStorage', taskUUID, operation, mediaUUID: uuid, mediaURL: url })], errors: [] }
  }
  const mediaUUID = media.trim()
  const keys = mediaUUIDSchema.safeParse(mediaUUID).success ? await services.library.remove(principal.tenant, mediaUUID) : []
  if (!keys.length) {
    const message = 'media names no media uploaded with this API key’s tenant'
    return failed(new ApiError(404, { code: 'mediaNotFound', message, parameter: 'media' }))
  }
  await services.cache.purge(keys)
  return { items: [async () => ({ taskType: 'mediaStorage', taskUUID, operation, mediaUUID })], errors: [] }
}
