/**
 * Sends a task's children to Runware and says what became of each. Shared by new tasks and
 * by the reconciler's re-dispatch, so both build the very same upstream bodies and UUIDs.
 */
import type { ApiError } from '../lib/errors'
import { imageKey } from '../lib/storage-keys'
import type { TaskRecord } from '../schemas/records'
import type { ResultReport } from './result-recorder'
import type { RunwareClient, SendOptions, UpstreamResult } from '../upstream/runware-client'
import { dispatchError, failureOf, isConflict } from '../upstream/upstream-errors'
import type { UrlSigner } from '../images/url-signer'

export type DispatchOutcome =
  /** Runware has the work (now, or from an earlier dispatch); reports say what it already answered. */
  | { kind: 'accepted'; reports: ResultReport[] }
  /** Runware took none of it. */
  | { kind: 'refused'; errors: ApiError[] }

export interface DispatcherDeps {
  runware: RunwareClient
  signer: UrlSigner
  /** Where Runware should PUT an image: a presigned R2 URL, or the gateway's upload route at `origin`. */
  uploadUrl: (objectKey: string, origin: string) => Promise<string>
  /** A short-lived GET URL Runware fetches a reference image from: a presigned R2 GET, or the gateway's file route. */
  referenceUrl: (objectKey: string, origin: string) => Promise<string>
}

export class Dispatcher {
  constructor(private readonly deps: DispatcherDeps) {}

  /** Dispatches the children at `indices` (all by default) with the given delivery method. */
  async dispatch(
    task: TaskRecord,
    deliveryMethod: 'sync' | 'async',
    options: SendOptions,
    indices = task.children.map((_, i) => i),
  ): Promise<DispatchOutcome> {
    // Signed afresh on every dispatch, so a re-dispatch never hands Runware an expired URL.
    const references = await Promise.all(
      (task.references ?? []).map((r) => ('url' in r ? r.url : this.deps.referenceUrl(r.key, task.origin))),
    )
    const body = await Promise.all(indices.map((i) => this.child(task, i, deliveryMethod, references)))
    return this.interpret(
      task,
      await this.deps.runware.send(body, task.traceparent ? { ...options, traceparent: task.traceparent } : options),
    )
  }

  /** What an upstream answer means for the task; conflicts mean "already dispatched". */
  interpret(task: TaskRecord, result: UpstreamResult): DispatchOutcome {
    if (result.kind === 'timeout') return { kind: 'accepted', reports: [] }
    if (result.kind === 'unavailable' || (result.kind === 'rejected' && !result.errors.every(isConflict))) {
      return { kind: 'refused', errors: dispatchError(result, task.taskUUID) }
    }
    const indexOf = new Map(task.children.map((c, i) => [c.taskUUID, i]))
    const reports: ResultReport[] = []
    for (const item of result.items) {
      const index = indexOf.get(item.taskUUID)
      if (index !== undefined && (item.imageUUID || item.imageURL)) reports.push({ index, item })
    }
    for (const error of result.errors) {
      const index = error.taskUUID ? indexOf.get(error.taskUUID) : undefined
      if (index === undefined || isConflict(error)) continue
      reports.push({ index, error: failureOf(error) })
    }
    return { kind: 'accepted', reports }
  }

  private async child(task: TaskRecord, index: number, deliveryMethod: 'sync' | 'async', references: string[]): Promise<object> {
    const child = task.children[index]
    return {
      taskType: 'imageInference',
      taskUUID: child?.taskUUID,
      model: task.model,
      positivePrompt: task.positivePrompt,
      width: task.width,
      height: task.height,
      // The gateway serves base64 itself from R2; Runware only ever returns URLs.
      outputType: 'URL',
      outputFormat: task.outputFormat,
      outputQuality: task.outputQuality,
      numberResults: 1,
      seed: child?.seed,
      includeCost: true,
      deliveryMethod,
      uploadEndpoint: await this.deps.uploadUrl(imageKey(task.tenant, task.taskUUID, index, task.outputFormat), task.origin),
      webhookURL: await this.deps.signer.runwareWebhookUrl(task.tenant, task.taskUUID, index, task.outputFormat, task.origin),
      ...(task.safety ? { safety: task.safety } : {}),
      ...(references.length ? { inputs: { referenceImages: references } } : {}),
    }
  }
}
