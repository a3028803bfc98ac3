/** POST /v1: runs each task of a Runware request by its taskType, independently. */
import { sha256Hex } from '../lib/crypto'
import { canonicalJson } from '../lib/canonical-json'
import { ApiError, echoed } from '../lib/errors'
import type { LazyItem } from '../lib/envelope'
import { findModel, MODEL_IDS } from '../models/registry'
import { imageInferenceSchema } from '../schemas/image-inference'
import { issuesToErrors } from '../schemas/issues'
import { getResponseSchema, TASK_TYPES } from '../schemas/tasks'
import type { Principal } from '../schemas/api-keys'
import type { Services } from '../services'
import type { TaskOutcome } from '../tasks/generation'
import { imageUpload, mediaStorage } from './upload-tasks'

/** More than this many tasks in one request could exceed a Worker's subrequest limit. */
export const MAX_TASKS_PER_REQUEST = 10

const failed = (...errors: ApiError[]): TaskOutcome => ({ items: [], errors })

/** The taskType and taskUUID a task names, for tagging its errors. */
export const tagOf = (task: unknown) => {
  const t = (task ?? {}) as { taskType?: unknown; taskUUID?: unknown }
  return {
    taskType: typeof t.taskType === 'string' ? t.taskType : undefined,
    taskUUID: typeof t.taskUUID === 'string' ? t.taskUUID : undefined,
  }
}

/** An item answering a task, its taskUUID spelled as the task spelled it. */
const echoItem =
  (item: LazyItem, sent: string): LazyItem =>
  async () => {
    const shown = await item()
    return typeof shown.taskUUID === 'string' ? { ...shown, taskUUID: echoed(shown.taskUUID, sent) } : shown
  }

/** How the tasks arrived: over a WebSocket session, sync results are pushed to it. */
export interface TaskSource {
  socket?: string
}

async function imageInference(
  services: Services,
  principal: Principal,
  task: Record<string, unknown>,
  startedAt: number,
  source: TaskSource,
): Promise<TaskOutcome> {
  const model = typeof task.model === 'string' ? findModel(task.model) : undefined
  if (!model) {
    const [code, message] =
      task.model === undefined
        ? ['missingParameter', 'model is required']
        : ['modelNotFound', `model ${JSON.stringify(task.model)} is not served by this gateway`]
    return failed(new ApiError(400, { code, message, parameter: 'model', allowedValues: MODEL_IDS }))
  }
  const parsed = imageInferenceSchema(model, { development: services.config.ENVIRONMENT === 'development' }).safeParse(task)
  if (!parsed.success) return failed(...issuesToErrors(parsed.error.issues, task))
  // 128 bits of SHA-256 tell two bodies apart as surely as 256, in half the bytes a shard keeps per task.
  const requestHash = (await sha256Hex(canonicalJson(task))).slice(0, 32)
  if (principal.limits.models && !principal.limits.models.includes(model.id)) {
    return failed(
      new ApiError(403, {
        code: 'modelNotAllowed',
        message: `This API key may not use ${model.id}`,
        parameter: 'model',
        allowedValues: principal.limits.models,
      }),
    )
  }
  const { taskUUID, references } = parsed.data
  const resolved = await services.library.references(principal.tenant, taskUUID.toLowerCase(), references, model.referenceImages.maxBytes)
  if ('errors' in resolved) return failed(...resolved.errors)
  return services.generation.submit(principal, parsed.data, requestHash, startedAt, resolved.references, source.socket)
}

async function runTask(
  services: Services,
  principal: Principal,
  task: unknown,
  startedAt: number,
  source: TaskSource,
): Promise<TaskOutcome> {
  if (!task || typeof task !== 'object' || Array.isArray(task)) {
    return failed(new ApiError(400, { code: 'invalidRequestBody', message: 'Each task must be a JSON object' }))
  }
  const record = task as Record<string, unknown>
  switch (record.taskType) {
    case 'imageInference':
      return imageInference(services, principal, record, startedAt, source)
    case 'imageUpload':
      return imageUpload(services, principal, record)
    case 'mediaStorage':
      return mediaStorage(services, principal, record)
    case 'getResponse': {
      const parsed = getResponseSchema.safeParse(record)
      if (!parsed.success) return failed(...issuesToErrors(parsed.error.issues, record))
      return services.view.getResponse(principal.tenant, parsed.data.taskUUID)
    }
    case 'ping':
      return { items: [async () => ({ taskType: 'ping', pong: true })], errors: [] }
    default:
      return failed(
        new ApiError(400, {
          code: record.taskType === undefined ? 'missingParameter' : 'unsupportedTaskType',
          message: `taskType must be one of ${TASK_TYPES.join(', ')}`,
          parameter: 'taskType',
          allowedValues: TASK_TYPES,
        }),
      )
  }
}

/** Runs every task; one task's failure never sinks another's result. */
export async function runTasks(
  services: Services,
  principal: Principal,
  tasks: readonly unknown[],
  startedAt = Date.now(),
  source: TaskSource = {},
): Promise<TaskOutcome> {
  if (tasks.length === 0) return failed(new ApiError(400, { code: 'invalidRequestBody', message: 'The request holds no tasks' }))
  if (tasks.length > MAX_TASKS_PER_REQUEST) {
    return failed(new ApiError(400, { code: 'tooManyTasks', message: `At most ${MAX_TASKS_PER_REQUEST} tasks per request` }))
  }
  const outcomes = await Promise.all(
    tasks.map(async (task) => {
      const outcome = await runTask(services, principal, task, startedAt, source).catch((error: unknown) => {
        if (error instanceof ApiError) return failed(error)
        throw error
      })
      const { taskType, taskUUID } = tagOf(task)
      const items = taskUUID === undefined ? outcome.items : outcome.items.map((item) => echoItem(item, taskUUID))
      return { items, errors: outcome.errors.map((e) => e.forTask(taskType, taskUUID)) }
    }),
  )
  return { items: outcomes.flatMap((o) => o.items), errors: outcomes.flatMap((o) => o.errors) }
}
