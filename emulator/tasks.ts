/** Runs imageInference tasks and remembers them for getResponse and conflictTaskUUID. */
import { createHash, randomInt, randomUUID } from 'node:crypto'
import type { Delivery } from './delivery.ts'
import { roll, type FaultRule } from './faults.ts'
import { EXTENSIONS, MIME_TYPES, renderImage, type ImageStore } from './images.ts'
import { uploadContentType, type Readings } from './readings.ts'
import type { ApiError, ImageTask, Log, ResultItem } from './types.ts'
import { Background, sleep } from './util.ts'

const COST_PER_IMAGE_USD = 0.03
// Records are small (images live in ImageStore); the bound only guards a long-running dev server.
const KEPT_TASKS = 10_000

/**
 * Fetches each reference image as Runware would, returning the SHA-256 of its bytes, or
 * `!reason` when it cannot be had (an expired or unreachable URL fails the task).
 */
async function fetchReferences(urls: readonly string[], signal: AbortSignal): Promise<string[]> {
  return Promise.all(
    urls.map(async (url) => {
      try {
        const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
        if (!res.ok) return `!HTTP ${res.status}`
        return createHash('sha256')
          .update(Buffer.from(await res.arrayBuffer()))
          .digest('hex')
      } catch (error) {
        return `!${error instanceof Error ? error.message : String(error)}`
      }
    }),
  )
}

interface TaskRecord {
  acceptedAt: number
  expiresAfterMs: number
  expected: number
  items: ResultItem[]
  errors: ApiError[]
}

/** What getResponse reports for one task. */
export interface TaskStatus {
  data: ((ResultItem & { status: 'success' }) | { taskType: 'imageInference'; taskUUID: string; status: 'processing' })[]
  errors: ApiError[]
}

export interface TaskEngineDeps {
  images: ImageStore
  delivery: Delivery
  /** The emulator's own base URL, for imageURL. */
  baseUrl: () => string
  signal: AbortSignal
  log: Log
}

/** Owns every accepted task: generation, result records and per-UUID run counts. */
export class TaskEngine {
  private readonly records = new Map<string, TaskRecord>()
  readonly generations = new Map<string, number>()
  private readonly background: Background

  constructor(private readonly deps: TaskEngineDeps) {
    this.background = new Background((error) => deps.log(`task error: ${String(error)}`))
  }

  /** True if this taskUUID was already accepted (a reuse is a conflict). */
  has(taskUUID: string): boolean {
    return this.records.has(taskUUID)
  }

  /** Accepts a task and runs it; the promise settles when every result is generated and uploaded. */
  start(task: ImageTask, rule: FaultRule | undefined, readings: Readings): Promise<void> {
    const record: TaskRecord = {
      acceptedAt: Date.now(),
      expiresAfterMs: readings.taskExpirySeconds * 1000,
      expected: task.numberResults,
      items: [],
      errors: [],
    }
    this.records.set(task.taskUUID, record)
    for (const oldest of this.records.keys()) {
      if (this.records.size <= KEPT_TASKS) break
      this.records.delete(oldest)
    }
    this.generations.set(task.taskUUID, (this.generations.get(task.taskUUID) ?? 0) + 1)
    const results = Array.from({ length: task.numberResults }, (_, i) => this.runOne(task, rule, readings, i, record))
    const all = Promise.all(results).then(() => undefined)
    // Tracked so close() can wait for async tasks that nobody awaits.
    this.background.run(all)
    return all
  }

  /** The task's results so far, as `data` items and `errors`, or undefined if unknown. */
  results(taskUUID: string): { items: ResultItem[]; errors: ApiError[] } | undefined {
    const record = this.records.get(taskUUID)
    return record && { items: [...record.items], errors: [...record.errors] }
  }

  /** The getResponse view of a task, 'expired' past its reading's expiry, or undefined if unknown. */
  status(taskUUID: string): TaskStatus | 'expired' | undefined {
    const record = this.records.get(taskUUID)
    if (!record) return undefined
    if (Date.now() - record.acceptedAt > record.expiresAfterMs) return 'expired'
    const data: TaskStatus['data'] = record.items.map((item) => ({ ...item, status: 'success' as const }))
    if (record.items.length + record.errors.length < record.expected) {
      data.push({ taskType: 'imageInference', taskUUID, status: 'processing' })
    }
    return { data, errors: record.errors.map((error) => ({ ...error, status: 'error' as const })) }
  }

  drain(): Promise<void> {
    return this.background.drain()
  }

  private async runOne(task: ImageTask, rule: FaultRule | undefined, readings: Readings, index: number, record: TaskRecord): Promise<void> {
    const { delivery, images, signal } = this.deps
    await sleep(rule?.latencyMs ?? 0, signal)
    const seed = task.seed !== undefined ? task.seed + index : randomInt(2 ** 31)
    let bytes: Buffer
    const references = task.referenceImages.length ? await fetchReferences(task.referenceImages, signal) : []
    const unreachable = references.findIndex((r) => r.startsWith('!'))
    if (unreachable !== -1) {
      const failure: ApiError = {
        code: 'invalidReferenceImage',
        message: `The reference image could not be fetched: ${references[unreachable]?.slice(1)}.`,
        parameter: `inputs.referenceImages[${unreachable}]`,
        taskType: 'imageInference',
        taskUUID: task.taskUUID,
      }
      this.fail(task, rule, readings, record, failure)
      return
    }
    const spec = {
      ...(references.length ? { references } : {}),
      prompt: task.positivePrompt,
      seed,
      width: task.width,
      height: task.height,
      format: task.outputFormat,
      quality: task.outputQuality,
    }
    try {
      if (signal.aborted) throw new Error('emulator shutting down')
      if (roll(rule?.failGenerationRate) || rule?.failSeeds?.includes(seed)) throw new Error('injected generation failure')
      bytes = await renderImage(spec)
    } catch (error) {
      const failure: ApiError = {
        code: 'internalServerError',
        message: `Image generation failed: ${error instanceof Error ? error.message : String(error)}.`,
        taskType: 'imageInference',
        taskUUID: task.taskUUID,
      }
      this.fail(task, rule, readings, record, failure)
      return
    }
    const imageUUID = randomUUID()
    images.put(imageUUID, spec)
    if (task.uploadEndpoint) {
      await delivery.upload(task.uploadEndpoint, bytes, uploadContentType(readings.uploadContentType, MIME_TYPES[task.outputFormat]), rule)
    }
    const item = this.item(task, rule, readings, imageUUID, seed, bytes)
    record.items.push(item)
    if (task.webhookURL) delivery.webhook(task.webhookURL, item, rule)
  }

  /** A failed result: kept for getResponse, and sent to the webhook only under that reading. */
  private fail(task: ImageTask, rule: FaultRule | undefined, readings: Readings, record: TaskRecord, failure: ApiError): void {
    record.errors.push(failure)
    if (task.webhookURL && readings.webhookErrors) this.deps.delivery.webhook(task.webhookURL, { errors: [failure] }, rule)
  }

  private item(
    task: ImageTask,
    rule: FaultRule | undefined,
    readings: Readings,
    imageUUID: string,
    seed: number,
    bytes: Buffer,
  ): ResultItem {
    const base64 = (): string => bytes.toString('base64')
    const output =
      task.outputType === 'base64Data'
        ? { imageBase64Data: base64() }
        : task.outputType === 'dataURI'
          ? { imageDataURI: `data:${MIME_TYPES[task.outputFormat]};base64,${base64()}` }
          : rule?.omitImageURL
            ? {}
            : { imageURL: `${this.deps.baseUrl()}/images/${imageUUID}.${EXTENSIONS[task.outputFormat]}` }
    return {
      taskType: 'imageInference',
      taskUUID: task.taskUUID,
      imageUUID,
      ...output,
      seed,
      ...(task.includeCost ? { cost: COST_PER_IMAGE_USD } : {}),
      ...(task.checkContent ? { NSFWContent: roll(readings.nsfwRate) } : {}),
    }
  }
}
