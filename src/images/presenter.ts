/** Turns stored results into Runware-shaped items: signed URLs, or the bytes inline. */
import { ApiError, type RunwareError } from '../lib/errors'
import { toBase64 } from '../lib/encoding'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import { statusOfFailure } from '../upstream/upstream-errors'
import type { LazyItem } from '../lib/envelope'
import type { ImageStore } from './image-store'
import type { UrlSigner } from './url-signer'

export type ClientItem = Record<string, unknown>

/** A task's taskUUID as its client spelled it: Runware's SDKs match answers by exact string. */
export const shownTaskUUID = (task: TaskRecord) => task.sentAs ?? task.taskUUID

export class Presenter {
  constructor(
    private readonly signer: UrlSigner,
    private readonly images: ImageStore,
    private readonly defaultTtlSeconds: number,
  ) {}

  /** The signed URL of a stored image; the task's ttl wins over the default. Jobs sign for the task's origin. */
  imageUrl(task: TaskRecord, objectKey: string): Promise<string> {
    return this.signer.fileUrl(objectKey, task.ttl ?? this.defaultTtlSeconds, Date.now(), this.signer.baseUrl || task.origin)
  }

  /** The signed URL of an uploaded input image, for the client that stored it (Runware's clients read it). */
  uploadUrl(objectKey: string): Promise<string> {
    return this.signer.fileUrl(objectKey, this.defaultTtlSeconds)
  }

  /** The sync-response item for a successful result, in the field order of Runware's examples. */
  item(task: TaskRecord, result: Extract<ResultRecord, { ok: true }>): LazyItem {
    return async () => {
      const item: ClientItem = { taskType: 'imageInference', taskUUID: shownTaskUUID(task), imageUUID: result.imageUUID }
      if (task.outputType === 'URL') item.imageURL = await this.imageUrl(task, result.objectKey)
      else {
        const object = await this.images.get(result.objectKey)
        if (!object) throw new ApiError(500, { code: 'internalServerError', message: 'A stored image is missing' })
        const base64 = toBase64(new Uint8Array(await object.arrayBuffer()))
        if (task.outputType === 'base64Data') item.imageBase64Data = base64
        else item.imageDataURI = `data:${object.httpMetadata?.contentType ?? 'image/jpeg'};base64,${base64}`
      }
      item.seed = result.seed
      if (result.nsfw !== undefined) item.NSFWContent = result.nsfw
      if (task.includeCost && result.cost !== undefined) item.cost = result.cost
      return item
    }
  }

  /** The error object for a failed result. */
  error(task: TaskRecord, result: Extract<ResultRecord, { ok: false }>): ApiError {
    const detail: RunwareError = { code: result.code, message: result.message, taskType: 'imageInference', taskUUID: shownTaskUUID(task) }
    return new ApiError(statusOfFailure(result.code), detail)
  }

  /** One result as Runware shows it: the item of a success, the error of a failure. */
  async render(task: TaskRecord, result: ResultRecord): Promise<{ item: ClientItem } | { error: RunwareError }> {
    return result.ok ? { item: await this.item(task, result)() } : { error: this.error(task, result).detail }
  }

  /** Items for the successes and errors for the failures, in result order. */
  split(task: TaskRecord, results: readonly ResultRecord[]): { items: LazyItem[]; errors: ApiError[] } {
    const items: LazyItem[] = []
    const errors: ApiError[] = []
    for (const r of results) {
      if (r.ok) items.push(this.item(task, r))
      else errors.push(this.error(task, r))
    }
    return { items, errors }
  }
}
