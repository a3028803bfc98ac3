/**
 * Records results from either channel (the sync reply, or Runware's webhooks). A result is
 * done only when its image is in R2; the task's shard records each result once, so the
 * first report wins and every later copy is a no-op.
 */
import type { EventPublisher } from '../deliveries/event-publisher'
import type { SocketNotifier } from '../deliveries/socket-notifier'
import type { ImageStore } from '../images/image-store'
import { imageKey } from '../lib/storage-keys'
import type { ResultDraft, ResultRecord, TaskRecord } from '../schemas/records'
import type { UpstreamItem } from '../schemas/upstream'
import type { TenantClient } from '../tenant/tenant-client'

/** What one channel reports for result `index`: an item, or an error. */
export type ResultReport =
  | { index: number; item: UpstreamItem }
  /** `billed`: Runware may still bill it (a deadline failure), so it costs the estimate. */
  | { index: number; error: { code: string; message: string }; billed?: true }

/** What a recorder needs to know of a task before asking its object: where its images go. */
export type TaskRef = Pick<TaskRecord, 'tenant' | 'taskUUID' | 'outputFormat'>

export interface RecordOutcome {
  /** Indices whose image has not landed yet and could not be copied; ask again later. */
  pending: number[]
  /** The task as its object knows it; null when the task is unknown or deleted. */
  task: TaskRecord | null
  /** Whether every result is recorded, by this call or an earlier one. */
  complete: boolean
  /** Every result known after this call. */
  results: ResultRecord[]
}

export interface RecorderDeps {
  tenants: TenantClient
  images: ImageStore
  maxImageBytes: number
  /**
   * Whether an object found in R2 must be checked to be the image its key names: in r2-presigned
   * mode whoever holds the upload URL chose its bytes; in worker mode the upload route checked them.
   */
  verifyUploads: boolean
  /** Whether the gateway may fetch an image from this upstream URL (SSRF guard). */
  mayCopyFrom: (url: URL) => boolean
  /** Sends the client's webhooks and upload copies for newly recorded results. */
  publisher: EventPublisher
  /** Pushes newly recorded results to the WebSocket session of a task that came in over one. */
  sockets: SocketNotifier
}

export class ResultRecorder {
  constructor(private readonly deps: RecorderDeps) {}

  async record(ref: TaskRef, reports: readonly ResultReport[], now = Date.now()): Promise<RecordOutcome> {
    const drafts = await Promise.all(reports.map((report) => this.toDraft(ref, report, now)))
    const pending = reports.filter((_, i) => !drafts[i]).map((r) => r.index)
    const ready = drafts.filter((d): d is ResultDraft => d !== null)
    const outcome = await this.deps.tenants.recordResults(ref.tenant, ref.taskUUID, ready, now)
    // A task deleted, or abandoned before Runware took it. A running task is neither (DELETE refuses
    // one; only a task Runware refused is abandoned, before anything is recorded), so only a late
    // webhook gets here, and its route reads no further than `task`.
    // Stryker disable next-line ObjectLiteral,ArrayDeclaration,BooleanLiteral: as above, nothing but `task` is read
    if (!outcome) return { pending, task: null, complete: false, results: [] }
    const { task, claimed, results } = outcome
    // Only this call's records: each result's events have exactly one producer. A producer that
    // stops before sending is covered by the reconciler's look at the finished task. A socket
    // hears of a task once it is complete, so its items and errors travel in one envelope (the
    // session pushes each result once, however often it is told).
    const complete = results.length === task.children.length
    await Promise.all([
      this.deps.publisher.publish(task, claimed),
      complete && claimed.length ? this.deps.sockets.notify(task, results) : null,
    ])
    return { pending, task, complete, results }
  }

  /** Finishes a final task whose recorder may have stopped early: sends any event it never sent. */
  async repair(task: TaskRecord, results: ResultRecord[]): Promise<void> {
    await Promise.all([this.deps.publisher.publishMissing(task, results), this.deps.sockets.notify(task, results)])
  }

  private async toDraft(ref: TaskRef, report: ResultReport, now: number): Promise<ResultDraft | null> {
    if ('error' in report)
      return {
        index: report.index,
        ok: false,
        code: report.error.code,
        message: report.error.message,
        at: now,
        billed: report.billed,
      }
    const { item } = report
    const objectKey = imageKey(ref.tenant, ref.taskUUID, report.index, ref.outputFormat)
    if (!(await this.ensureImage(ref, objectKey, item.imageURL))) return null
    return {
      index: report.index,
      ok: true,
      imageUUID: item.imageUUID ?? crypto.randomUUID(),
      // What Runware did not say stays undefined, which the shard stores as NULL.
      seed: item.seed,
      cost: item.cost,
      nsfw: item.NSFWContent,
      objectKey,
      at: now,
    }
  }

  /** Whether the image is in R2 and, where uploads are untrusted, is the image its key names (else it is removed). */
  private async landed(ref: TaskRef, objectKey: string): Promise<boolean> {
    const { images, verifyUploads } = this.deps
    // Stryker disable next-line ConditionalExpression: only Runware holds a worker-mode upload URL, and the upload route stored only an image of the key's format; reading them again finds the same (never checking is a curated mutant)
    if (!verifyUploads) return (await images.head(objectKey)) !== null
    const format = await images.formatOf(objectKey)
    if (format === ref.outputFormat) return true
    // Not the image it should be (HTML, SVG, another format): never served, never counted.
    // Stryker disable next-line ConditionalExpression: deleting an object that is not there changes nothing (never deleting is a curated mutant)
    if (format !== null) await images.delete(objectKey)
    return false
  }

  /** True once the image is in R2, copying it from Runware's imageURL if the upload never landed. */
  private async ensureImage(ref: TaskRef, objectKey: string, imageURL: string | undefined): Promise<boolean> {
    if (await this.landed(ref, objectKey)) return true
    const url = imageURL ? URL.parse(imageURL) : null
    if (!url || !this.deps.mayCopyFrom(url)) return false
    // Never copy an image into a task that is gone (deleted, or abandoned before Runware took it).
    const state = await this.deps.tenants.read(ref.tenant, ref.taskUUID)
    // Stryker disable next-line BooleanLiteral: the shard records nothing for a task that is gone, so only the copy matters (copying anyway is a curated mutant)
    if (!state || state.task.deleted) return false
    // No redirect is followed: only the hosts mayCopyFrom allows are ever fetched.
    // Stryker disable next-line ArrowFunction: a failed fetch as null or as undefined is the same "not ok"
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(30_000) }).catch(() => null)
    if (!response?.ok) return false
    // Stryker disable next-line StringLiteral: without a length the body is read capped instead, and stored the same
    const length = response.headers.get('content-length')
    // A body that is no image, or too large, is refused by put: not stored.
    const stored = await this.deps.images
      .put(objectKey, response.body, length ? Number(length) : null, this.deps.maxImageBytes)
      .catch(() => null)
    return stored !== null
  }
}
