/** `POST /v1`: authentication, fault decisions and per-task dispatch, as Runware's REST API. */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FaultSet, FaultTarget } from './faults.ts'
import { readingsWith, type Readings } from './readings.ts'
import { redactAuth, type AuthMethod, type RequestLog } from './request-log.ts'
import type { TaskEngine } from './tasks.ts'
import type { ApiError } from './types.ts'
import { validateImageInference } from './validate.ts'

export interface ApiDeps {
  apiKey: string
  tasks: TaskEngine
  faults: FaultSet
  requests: RequestLog
  readings: Readings
}

/** The Runware envelope: `data` and/or `errors`, whichever is non-empty. */
export interface Envelope {
  data?: object[]
  errors?: ApiError[]
}

export interface ApiResponse {
  status: number
  headers: Record<string, string>
  body: Envelope
}

type Slot = Promise<{ data: object[]; errors: ApiError[] }>

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const STATUS_BY_CODE: Record<string, number> = { invalidApiKey: 401, internalServerError: 500 }

const fail = (status: number, error: ApiError, headers: Record<string, string> = {}): ApiResponse => ({
  status,
  headers,
  body: { errors: [error] },
})

/** Compares keys in constant time; hashing first makes the lengths equal. */
function sameKey(given: string, expected: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(given), digest(expected))
}

/** Handles one `POST /v1` body; `authorization` is the raw header, if any. */
export async function handleV1(deps: ApiDeps, authorization: string | undefined, raw: string, traceparent?: string): Promise<ApiResponse> {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return fail(400, { code: 'invalidRequestBody', message: 'The request body is not valid JSON.' })
  }
  const all = Array.isArray(parsed) ? parsed : [parsed]
  const first: unknown = all[0]
  const bodyAuth = isRecord(first) && first.taskType === 'authentication' ? first : undefined
  const bearer = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim()
  const method: AuthMethod = bearer !== undefined ? 'bearer' : bodyAuth ? 'body' : 'none'
  deps.requests.add(method, redactAuth(all), traceparent)

  const givenKey = bearer ?? (typeof bodyAuth?.apiKey === 'string' ? bodyAuth.apiKey : undefined)
  if (givenKey === undefined || !sameKey(givenKey, deps.apiKey)) {
    return fail(401, {
      code: 'invalidApiKey',
      message: 'Invalid API key. Send Authorization: Bearer <key> or an authentication task first.',
    })
  }
  const tasks = bodyAuth ? all.slice(1) : all
  if (tasks.length === 0) {
    return fail(400, { code: 'invalidRequestBody', message: 'The request holds no task.' })
  }

  const targets: FaultTarget[] = tasks.filter(isRecord).map((t) => ({
    taskType: String(t.taskType),
    ...(typeof t.taskUUID === 'string' ? { taskUUID: t.taskUUID } : {}),
    ...(typeof t.positivePrompt === 'string' ? { positivePrompt: t.positivePrompt } : {}),
  }))
  const delayMs = deps.faults.responseDelay(targets)
  if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs))
  const hit = deps.faults.httpFault(targets)
  if (hit) return fail(hit.status, hit.error, hit.headers)

  // Slots keep the answer in task order even though sync tasks finish at different times.
  const slots = tasks.map((task) => dispatch(deps, task))
  const data: object[] = []
  const errors: ApiError[] = []
  for (const slot of await Promise.all(slots)) {
    data.push(...slot.data)
    errors.push(...slot.errors)
  }
  const status = data.length > 0 ? 200 : Math.max(400, ...errors.map((e) => STATUS_BY_CODE[e.code] ?? 400))
  return { status, headers: {}, body: { ...(data.length ? { data } : {}), ...(errors.length ? { errors } : {}) } }
}

async function dispatch(deps: ApiDeps, task: unknown): Slot {
  const only = (error: ApiError): Awaited<Slot> => ({ data: [], errors: [error] })
  if (!isRecord(task) || typeof task.taskType !== 'string') {
    return only({ code: 'missingParameter', message: "Every task needs a 'taskType'.", parameter: 'taskType' })
  }
  const { taskType } = task
  switch (taskType) {
    case 'ping':
      return { data: [{ taskType: 'ping', pong: true }], errors: [] }
    case 'authentication':
      // Only meaningful as the first element, which was consumed above; ignore others.
      return { data: [], errors: [] }
    case 'getResponse': {
      const taskUUID = typeof task.taskUUID === 'string' ? task.taskUUID : ''
      const status = deps.tasks.status(taskUUID)
      if (status === 'expired')
        return only({ code: 'taskExpired', message: `Task '${taskUUID}' has expired.`, parameter: 'taskUUID', taskType, taskUUID })
      return (
        status ?? only({ code: 'taskNotFound', message: `No task with taskUUID '${taskUUID}'.`, parameter: 'taskUUID', taskType, taskUUID })
      )
    }
    case 'imageInference':
      return imageInference(deps, task)
    default:
      return only({
        code: 'unsupportedTaskType',
        message: `Task type '${taskType}' is not supported by this emulator.`,
        parameter: 'taskType',
        taskType,
      })
  }
}

async function imageInference(deps: ApiDeps, raw: Record<string, unknown>): Slot {
  const result = validateImageInference(raw)
  if (!result.ok) return { data: [], errors: [result.error] }
  const { task } = result
  if (deps.tasks.has(task.taskUUID)) {
    return {
      data: [],
      errors: [
        {
          code: 'conflictTaskUUID',
          message: `taskUUID '${task.taskUUID}' was already used.`,
          parameter: 'taskUUID',
          taskType: 'imageInference',
          taskUUID: task.taskUUID,
        },
      ],
    }
  }
  const rule = deps.faults.forTask({ taskType: 'imageInference', taskUUID: task.taskUUID, positivePrompt: task.positivePrompt })
  const readings = readingsWith(deps.readings, rule)
  const done = deps.tasks.start(task, rule, readings)
  const acknowledge = task.deliveryMethod === 'async' || (task.webhookURL !== undefined && readings.syncWithWebhook === 'acknowledge')
  if (acknowledge) return { data: [{ taskType: 'imageInference', taskUUID: task.taskUUID }], errors: [] }
  await done
  const results = deps.tasks.results(task.taskUUID)
  return { data: results?.items ?? [], errors: results?.errors ?? [] }
}
