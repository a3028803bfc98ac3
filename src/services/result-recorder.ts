/**
 * Records results from either channel (the sync reply, or Runware's webhooks). A result is
 * done only when its image is in R2; the first writer wins and every later copy is a no-op.
 */
import { imageKey } from '../lib/storage-keys'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import type { UpstreamItem } from '../schemas/upstream'
import type { ImageStore } from './image-store'
import type { EventPublisher } from './event-publisher'
import type { Ledger } from './ledger'
import type { TaskStore } from './task-store'

/** What one channel reports for result `index`: an item, or an error. */
export type ResultReport = { index: number; item: UpstreamItem } | { index: number; error: { code: string; message: string } }

export interface RecordOutcome {
  /** Indices whose image has not landed yet and could not be copied; ask again later. */
  pending: number[]
  /** The task's final record, when this call (or an earlier one) completed it. */
  final: TaskRecord | null
  /** Every result known after this call. */
  results: ResultRecord[]
}

export interface RecorderDeps {
  tasks: TaskStore
  images: ImageStore
  maxImageBytes: number
  /** Whether the gateway may fetch an image from this upstream URL (SSRF guard). */
  mayCopyFrom: (url: URL) => boolean
  /** Sends the client's webhooks and upload copies for newly recorded results. */
  publisher: EventPublisher
  /** Settles costs and frees reservations in the tenant's ledger. */
  ledger: Ledger
}

export class ResultRecorder {
  constructor(private readonly deps: RecorderDeps) {}

  async record(task: TaskRecord, reports: readonly ResultReport[], now = Date.now()): Promise<RecordOutcome> {
    const pending: number[] = []
    const claimed: ResultRecord[] = []
    await Promise.all(
      reports.map(async (report) => {
        const record = await this.toRecord(task, report, now)
        if (!record) pending.push(report.index)
        else if (await this.deps.tasks.claimResult(task, record)) claimed.push(record)
      }),
    )
    // Only this call's claims: each result's events and its cost have exactly one producer.
    await Promise.all([this.deps.publisher.publish(task, claimed), this.deps.ledger.close(task, claimed, now)])
    const results = await this.deps.tasks.claimedResults(task)
    if (results.length < task.children.length) {
      // Not complete yet: each newly claimed result gets its own write-once KV key.
      await Promise.all(claimed.map((r) => this.deps.tasks.putResult(task, r)))
      return { pending, final: null, results }
    }
    // Attempted even when this call claimed nothing, so a writer that stopped after the last
    // claim cannot leave the task unfinalized; the R2 claim keeps it to one KV write.
    const final = await this.deps.tasks.finalize(task, results, now)
    if (final) await Promise.all([this.deps.publisher.publishMissing(task, results), this.deps.ledger.finish(task)])
    return { pending, final: final ?? { ...task, results }, results }
  }

  /** Finishes a complete task whose finalizer stopped halfway: KV record, marker, and any unsent events. */
  async repair(task: TaskRecord, results: ResultRecord[], now = Date.now()): Promise<void> {
    await this.deps.tasks.finalize(task, results, now, true)
    await Promise.all([this.deps.publisher.publishMissing(task, results), this.deps.ledger.finish(task)])
  }

  private async toRecord(task: TaskRecord, report: ResultReport, now: number): Promise<ResultRecord | null> {
    if ('error' in report) return { index: report.index, ok: false, code: report.error.code, message: report.error.message, at: now }
    const { item } = report
    const objectKey = imageKey(task.tenant, task.taskUUID, report.index, task.outputFormat)
    if (!(await this.ensureImage(objectKey, item.imageURL))) return null
    const child = task.children[report.index]
    return {
      index: report.index,
      ok: true,
      imageUUID: item.imageUUID ?? crypto.randomUUID(),
      seed: item.seed ?? child?.seed ?? 0,
      ...(item.cost !== undefined ? { cost: item.cost } : {}),
      ...(item.NSFWContent !== undefined ? { nsfw: item.NSFWContent } : {}),
      objectKey,
      at: now,
    }
  }

  /** True once the image is in R2, copying it from Runware's imageURL if the upload never landed. */
  private async ensureImage(objectKey: string, imageURL: string | undefined): Promise<boolean> {
    if (await this.deps.images.head(objectKey)) return true
    const url = imageURL ? URL.parse(imageURL) : null
    if (!url || !this.deps.mayCopyFrom(url)) return false
    const response = await fetch(url, { signal: AbortSignal.timeout(30_000) }).catch(() => null)
    if (!response?.ok) return false
    const length = response.headers.get('content-length')
    try {
      await this.deps.images.put(objectKey, response.body, length ? Number(length) : null, this.deps.maxImageBytes)
      return true
    } catch {
      return false
    }
  }
}
