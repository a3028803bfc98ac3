/** Shapes of what the gateway stores about a task (see docs/storage.md). */
import type { ImageFormat } from '../lib/image-type'

export interface ChildTask {
  taskUUID: string
  seed: number
}

export interface TaskRecord {
  v: 1
  tenant: string
  /** Lower-cased: lookups ignore case. */
  taskUUID: string
  /** The taskUUID as the client spelled it, when that is not lower-case: answers echo it, since Runware's SDKs match by exact string. */
  sentAs?: string
  /** SHA-256 of the canonical request, its first 128 bits in hex: the same taskUUID with another body is a conflict. */
  requestHash: string
  model: string
  createdAt: number
  deliveryMethod: 'sync' | 'async'
  outputType: 'URL' | 'base64Data' | 'dataURI'
  outputFormat: ImageFormat
  width: number
  height: number
  /**
   * Kept so the reconciler can re-dispatch a child Runware never received. This and every other
   * optional field below but `deleted`, `finishedAt` and `results` is absent once the finished
   * task's shard keeps only its lasting part (src/tenant/shard-rows.ts); the KV record keeps all.
   */
  positivePrompt?: string
  outputQuality?: number
  safety?: { checkContent: boolean; mode: 'none' | 'fast' }
  /** The origin the gateway's upload and webhook URLs were issued for. */
  origin: string
  includeCost: boolean
  ttl?: number
  webhookURL?: string
  uploadEndpoint?: string
  /** The WebSocket session (connectionSessionUUID) its results are pushed to, when it came in over a socket. */
  socket?: string
  /** The W3C traceparent of the request that created it: Runware's calls and the client's webhooks continue its trace. */
  traceparent?: string
  /** Image-to-image inputs: an R2 key (signed afresh at each dispatch) or a client's https URL. */
  references?: StoredReference[]
  /** One per result, in result order. */
  children: ChildTask[]
  status: 'processing' | 'succeeded' | 'failed'
  deleted?: boolean
  finishedAt?: number
  /** Present once the task is final. */
  results?: ResultRecord[]
}

export type StoredReference = { key: string } | { url: string }

export type ResultRecord =
  | {
      index: number
      ok: true
      imageUUID: string
      seed: number
      cost?: number
      nsfw?: boolean
      objectKey: string
      at: number
    }
  /** `billed`: failed on the gateway's side (a deadline) while Runware may still bill it, so it is counted at the estimate. */
  | { index: number; ok: false; code: string; message: string; at: number; billed?: true }

/** A result as a recorder reports it: the task's own seed for the child fills in a missing one. */
export type ResultDraft = Extract<ResultRecord, { ok: false }> | (Omit<Extract<ResultRecord, { ok: true }>, 'seed'> & { seed?: number })

/** A finished task's status: it succeeded if any of its results did. */
export const finalStatus = (results: readonly ResultRecord[]): 'succeeded' | 'failed' =>
  results.some((r) => r.ok) ? 'succeeded' : 'failed'
