/**
 * Runs an imageInference task: claims it, fans it out to one upstream child per result,
 * dispatches all children in one call, and answers sync or async (DESIGN.md §2).
 */
import { ApiError } from '../lib/errors'
import { childTaskUUID, randomSeed } from '../lib/ids'
import { sleep } from '../lib/retry'
import { imageKey } from '../lib/storage-keys'
import type { InferenceRequest } from '../schemas/image-inference'
import type { TaskRecord } from '../schemas/records'
import type { ClientItem, LazyItem, Presenter } from './presenter'
import type { ResultRecorder, ResultReport } from './result-recorder'
import type { RunwareClient, UpstreamResult } from './runware-client'
import type { TaskStore } from './task-store'
import { dispatchError, isConflict, passThrough } from './upstream-errors'
import type { UrlSigner } from './url-signer'

export interface TaskOutcome {
  items: LazyItem[]
  errors: ApiError[]
}

export interface GenerationDeps {
  tasks: TaskStore
  recorder: ResultRecorder
  presenter: Presenter
  runware: RunwareClient
  signer: UrlSigner
  /** Where Runware should PUT result `objectKey`: a presigned R2 URL or the gateway's upload route. */
  uploadUrl: (objectKey: string) => Promise<string>
  syncTimeoutSeconds: number
  /** The most an async dispatch may spend on retries before answering the client. */
  asyncDispatchBudgetMs?: number
}

const ack =
  (taskUUID: string): LazyItem =>
  async () => ({ taskType: 'imageInference', taskUUID })
const processing =
  (taskUUID: string): LazyItem =>
  async () => ({ taskType: 'imageInference', taskUUID, status: 'processing' })

export class GenerationService {
  constructor(private readonly deps: GenerationDeps) {}

  async submit(tenant: string, request: InferenceRequest, requestHash: string, startedAt = Date.now()): Promise<TaskOutcome> {
    const record = await this.newRecord(tenant, request, requestHash, startedAt)
    const created = await this.deps.tasks.create(record)
    if (created !== 'created') return this.existing(created, record, startedAt)

    const deadline = startedAt + this.deps.syncTimeoutSeconds * 1000
    const budget = request.deliveryMethod === 'sync' ? deadline - Date.now() : (this.deps.asyncDispatchBudgetMs ?? 25_000)
    const result = await this.deps.runware.send(await this.upstreamTasks(record, request), budget)
    if (result.kind === 'unavailable' || (result.kind === 'rejected' && !result.errors.every(isConflict))) {
      // Runware took none of the work: forget the task so a re-send dispatches it again.
      await this.deps.tasks.abandon(record)
      return { items: [], errors: dispatchError(result, record.taskUUID) }
    }
    const reports = this.reports(record, result)
    if (request.deliveryMethod === 'async') {
      if (reports.some((r) => 'error' in r))
        await this.deps.recorder.record(
          record,
          reports.filter((r) => 'error' in r),
        )
      return { items: [ack(record.taskUUID)], errors: [] }
    }
    const outcome = await this.deps.recorder.record(record, reports)
    const { items, errors } = this.deps.presenter.split(record, outcome.results)
    if (!outcome.final) items.push(processing(record.taskUUID))
    return { items, errors }
  }

  /** The same taskUUID again: the same body gets the same task, another body a conflict. */
  private async existing(task: TaskRecord, attempt: TaskRecord, startedAt: number): Promise<TaskOutcome> {
    if (task.deleted || task.requestHash !== attempt.requestHash) {
      const message = task.deleted
        ? 'taskUUID belongs to a deleted task; use a new taskUUID'
        : 'taskUUID was already used with a different request body'
      return {
        items: [],
        errors: [
          new ApiError(409, {
            code: 'conflictTaskUUID',
            message,
            parameter: 'taskUUID',
            taskType: 'imageInference',
            taskUUID: task.taskUUID,
          }),
        ],
      }
    }
    if (attempt.deliveryMethod === 'async') return { items: [ack(task.taskUUID)], errors: [] }
    const deadline = startedAt + this.deps.syncTimeoutSeconds * 1000
    let results = await this.deps.tasks.results(task)
    for (let wait = 500; results.length < task.children.length && Date.now() + wait < deadline; wait = Math.min(wait * 1.5, 4000)) {
      await sleep(wait)
      results = await this.deps.tasks.results(task)
    }
    const { items, errors } = this.deps.presenter.split(task, results)
    if (results.length < task.children.length) items.push(processing(task.taskUUID))
    return { items, errors }
  }

  private async newRecord(tenant: string, request: InferenceRequest, requestHash: string, now: number): Promise<TaskRecord> {
    const children = await Promise.all(
      Array.from({ length: request.numberResults }, async (_, i) => ({
        taskUUID: await childTaskUUID(tenant, request.taskUUID, i),
        // Result i uses seed S+i; without a seed we pick them, so every item carries one.
        seed: request.seed !== undefined ? request.seed + i : randomSeed(),
      })),
    )
    return {
      v: 1,
      tenant,
      taskUUID: request.taskUUID.toLowerCase(),
      requestHash,
      model: request.model,
      createdAt: now,
      deliveryMethod: request.deliveryMethod,
      outputType: request.outputType,
      outputFormat: request.outputFormat,
      width: request.width,
      height: request.height,
      includeCost: request.includeCost,
      ...(request.ttl !== undefined ? { ttl: request.ttl } : {}),
      ...(request.webhookURL !== undefined ? { webhookURL: request.webhookURL } : {}),
      ...(request.uploadEndpoint !== undefined ? { uploadEndpoint: request.uploadEndpoint } : {}),
      children,
      status: 'processing',
    }
  }

  private upstreamTasks(record: TaskRecord, request: InferenceRequest): Promise<object[]> {
    return Promise.all(
      record.children.map(async (child, index) => ({
        taskType: 'imageInference',
        taskUUID: child.taskUUID,
        model: request.model,
        positivePrompt: request.positivePrompt,
        width: request.width,
        height: request.height,
        // The gateway serves base64 itself from R2; Runware only ever returns URLs.
        outputType: 'URL',
        outputFormat: request.outputFormat,
        outputQuality: request.outputQuality,
        numberResults: 1,
        seed: child.seed,
        includeCost: true,
        deliveryMethod: request.deliveryMethod,
        uploadEndpoint: await this.deps.uploadUrl(imageKey(record.tenant, record.taskUUID, index, record.outputFormat)),
        webhookURL: await this.deps.signer.runwareWebhookUrl(record.tenant, record.taskUUID, index),
        ...(request.safety ? { safety: request.safety } : {}),
      })),
    )
  }

  /** What the dispatch answer says about each child; conflicts mean "already dispatched". */
  private reports(record: TaskRecord, result: Exclude<UpstreamResult, { kind: 'unavailable' }>): ResultReport[] {
    if (result.kind === 'timeout') return []
    const indexOf = new Map(record.children.map((c, i) => [c.taskUUID, i]))
    const reports: ResultReport[] = []
    for (const item of result.items) {
      const index = indexOf.get(item.taskUUID)
      if (index !== undefined && (item.imageUUID || item.imageURL)) reports.push({ index, item })
    }
    for (const error of result.errors) {
      const index = error.taskUUID ? indexOf.get(error.taskUUID) : undefined
      if (index === undefined || isConflict(error)) continue
      const { code, message } = passThrough(error, record.taskUUID)
      reports.push({ index, error: { code, message } })
    }
    return reports
  }
}

export type { ClientItem }
