/** Reading tasks back: `getResponse` items and the `GET /v1/tasks/{id}` resource. */
import { ApiError } from '../lib/errors'
import { finalStatus, type ResultRecord, type TaskRecord } from '../schemas/records'
import type { TaskOutcome } from './generation'
import type { DeliveryLog } from '../deliveries/delivery-log'
import { shownTaskUUID, type Presenter } from '../images/presenter'
import type { TaskStore } from './task-store'
import { cursorAfter } from '../schemas/task-list'
import type { HistoryQuery } from '../tenant/contract'

export type TaskStatus = 'processing' | 'succeeded' | 'failed'

const notFound = (taskUUID: string, taskType?: string) =>
  new ApiError(404, {
    code: 'taskNotFound',
    message: `No task ${taskUUID} for this API key`,
    parameter: 'taskUUID',
    taskUUID,
    ...(taskType ? { taskType } : {}),
  })

/** Status follows from the results themselves, so a lagging KV record never decides it. */
export function statusOf(task: TaskRecord, results: readonly ResultRecord[]): TaskStatus {
  return results.length < task.children.length ? 'processing' : finalStatus(results)
}

export class TaskView {
  constructor(
    private readonly tasks: TaskStore,
    private readonly presenter: Presenter,
    private readonly deliveries: DeliveryLog,
  ) {}

  /** Where each result's copy to the client's uploadEndpoint stands, by result index. */
  private async uploads(task: TaskRecord): Promise<Map<number, Record<string, unknown>>> {
    const records = (await this.deliveries.list(task.tenant, task.taskUUID)).filter((r) => r.kind === 'upload')
    return new Map(records.map((r) => [r.index, { status: r.status, attempts: r.attempts.length }]))
  }

  /** The caller's task; another tenant's task does not exist for them. */
  async load(tenant: string, taskUUID: string, taskType?: string): Promise<{ task: TaskRecord; results: ResultRecord[] }> {
    const state = await this.tasks.load(tenant, taskUUID.toLowerCase())
    if (!state || state.task.deleted) throw notFound(taskUUID, taskType)
    return state
  }

  /** Runware's getResponse: finished items with `status: "success"`, errors with `status: "error"`. */
  async getResponse(tenant: string, taskUUID: string): Promise<TaskOutcome> {
    const { task, results } = await this.load(tenant, taskUUID, 'getResponse')
    const { items, errors } = this.presenter.split(task, results)
    const withStatus = items.map((item) => async () => ({ ...(await item()), status: 'success' }))
    if (results.length < task.children.length) {
      withStatus.push(async () => ({ taskType: 'imageInference', taskUUID: shownTaskUUID(task), status: 'processing' }))
    }
    return { items: withStatus, errors: errors.map((e) => new ApiError(e.status, { ...e.detail, status: 'error' })) }
  }

  /** The resource view of the caller's task. */
  async describe(tenant: string, taskUUID: string): Promise<Record<string, unknown>> {
    const { task, results } = await this.load(tenant, taskUUID)
    return this.render(task, results)
  }

  /** A page of the caller's tasks, newest first, each as `describe` shows it; `nextCursor` resumes after it. */
  async list(tenant: string, query: HistoryQuery): Promise<{ data: Record<string, unknown>[]; nextCursor: string | null }> {
    const { tasks, more } = await this.tasks.history(tenant, query)
    const last = tasks.at(-1)?.task
    return {
      data: await Promise.all(tasks.map(({ task, results }) => this.render(task, results))),
      nextCursor: more && last ? cursorAfter(last) : null,
    }
  }

  /** The resource view: status, timestamps, every result with a fresh signed URL, and errors. */
  private async render(task: TaskRecord, results: readonly ResultRecord[]): Promise<Record<string, unknown>> {
    const status = statusOf(task, results)
    const uploads = task.uploadEndpoint ? await this.uploads(task) : undefined
    const rendered = await Promise.all(
      results.map(async (r) =>
        r.ok
          ? {
              index: r.index,
              status: 'succeeded',
              imageUUID: r.imageUUID,
              imageURL: await this.presenter.imageUrl(task, r.objectKey),
              seed: r.seed,
              ...(r.nsfw !== undefined ? { NSFWContent: r.nsfw } : {}),
              ...(task.includeCost && r.cost !== undefined ? { cost: r.cost } : {}),
              ...(uploads ? { upload: uploads.get(r.index) ?? { status: 'queued', attempts: 0 } } : {}),
              completedAt: new Date(r.at).toISOString(),
            }
          : { index: r.index, status: 'failed', error: { code: r.code, message: r.message }, completedAt: new Date(r.at).toISOString() },
      ),
    )
    return {
      taskType: 'imageInference',
      taskUUID: shownTaskUUID(task),
      model: task.model,
      status,
      deliveryMethod: task.deliveryMethod,
      numberResults: task.children.length,
      width: task.width,
      height: task.height,
      outputFormat: task.outputFormat,
      createdAt: new Date(task.createdAt).toISOString(),
      ...(status !== 'processing' ? { completedAt: new Date(Math.max(...results.map((r) => r.at))).toISOString() } : {}),
      results: rendered,
    }
  }

  /**
   * Deletes a finished task. An unfinished one is refused: Runware still generates and bills its
   * images, and deleting would drop its reservation, letting a key spend past its budget
   * (docs/tenants.md). A task never goes from finished back to running, so the check cannot race.
   */
  async delete(tenant: string, taskUUID: string, deleteImages: (task: TaskRecord) => Promise<void>): Promise<void> {
    const { task, results } = await this.load(tenant, taskUUID)
    if (results.length < task.children.length) {
      throw new ApiError(
        409,
        {
          code: 'taskInProgress',
          message: 'The task is still running, and its images are still billed: delete it once it has finished',
          parameter: 'taskUUID',
          taskUUID,
        },
        { 'retry-after': '10' },
      )
    }
    // The task goes first: if its shard cannot let it go, its images stay with it.
    await this.tasks.delete(task)
    await deleteImages(task)
  }
}
