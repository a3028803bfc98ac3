/**
 * Runs the tasks of one WebSocket message as POST /v1 does. A sync imageInference task's
 * results are pushed to the session later, so it holds one of the session's in-flight slots
 * until its last result is pushed; a task answered at once gives its slot back.
 */
import { ApiError, internalError, type RunwareError } from '../lib/errors'
import { log } from '../lib/log'
import { dataFrame, errorsFrame, framesPerTask, isAuthentication, isPing, pushedTaskUUID, PONG_FRAME } from '../protocol/frames'
import { MAX_TASKS_PER_REQUEST, runTasks, tagOf } from '../protocol/run-tasks'
import type { Principal } from '../schemas/api-keys'
import type { Services } from '../services'
import type { Attachment, SessionHost } from './session-host'

/** imageInference tasks of one session whose results are still being pushed. */
export const MAX_TASKS_IN_FLIGHT = 32

export interface Slots {
  inFlight(): number
  /** False when the task holds a slot already. */
  claim(taskUUID: string, total: number): boolean
  release(taskUUID: string): void
}

export interface Answers {
  items: Record<string, unknown>[]
  errors: RunwareError[]
}

export async function runSocketTasks(
  services: Services,
  principal: Principal,
  session: string,
  tasks: unknown[],
  slots: Slots,
): Promise<Answers> {
  // Checked before any slot is taken: runTasks would refuse the whole message anyway.
  if (tasks.length > MAX_TASKS_PER_REQUEST) {
    // Each task hears it, by its taskUUID: Runware's SDKs route errors by it.
    const message = `At most ${MAX_TASKS_PER_REQUEST} tasks per message`
    return { items: [], errors: tasks.map((t) => ({ code: 'tooManyTasks', message, ...tagOf(t) })) }
  }
  const room = MAX_TASKS_IN_FLIGHT - slots.inFlight()
  const pushed = tasks.filter((t) => pushedTaskUUID(t) !== null)
  const refused = new Set(pushed.slice(Math.max(0, room)))
  const claimed: string[] = []
  for (const task of pushed) {
    if (refused.has(task)) continue
    const uuid = pushedTaskUUID(task) as string
    const total = Number((task as { numberResults?: unknown }).numberResults ?? 1)
    if (slots.claim(uuid, Number.isInteger(total) ? total : 1)) claimed.push(uuid)
  }
  const answers: Answers = { items: [], errors: [] }
  try {
    const outcome = await runTasks(
      services,
      principal,
      tasks.filter((t) => !refused.has(t)),
      Date.now(),
      { socket: session },
    )
    answers.errors = outcome.errors.map((e) => e.detail)
    answers.items = await Promise.all(outcome.items.map((item) => item()))
  } catch (error) {
    log('error', 'socket task failed', { error: String(error) })
    answers.errors = tasks.map((t) => ({ ...internalError().detail, ...tagOf(t) }))
  } finally {
    // Refused, invalid, or a re-send of a known task: nothing will be pushed for it here.
    const answered = new Set([...answers.items, ...answers.errors].map((x) => String(x.taskUUID ?? '').toLowerCase()))
    for (const uuid of claimed) if (answered.has(uuid)) slots.release(uuid)
  }
  for (const task of refused) {
    answers.errors.push({
      code: 'tooManyTasksInFlight',
      message: `A connection may have at most ${MAX_TASKS_IN_FLIGHT} imageInference tasks in flight; wait for results before sending more`,
      ...tagOf(task),
    })
  }
  return answers
}

/** Runs one message's tasks: pings and repeated authentications at once, the rest as POST /v1 does. */
export async function runMessage(host: SessionHost, ws: WebSocket, a: Attachment, services: Services, tasks: unknown[]): Promise<void> {
  for (const task of tasks) {
    if (isPing(task)) host.send(ws, PONG_FRAME)
    else if (isAuthentication(task)) host.send(ws, dataFrame([{ taskType: 'authentication', connectionSessionUUID: a.session }]))
  }
  const work = tasks.filter((t) => !isPing(t) && !isAuthentication(t))
  if (!work.length) return
  const principal = await services.keys.resolve(a.apiKey ?? '')
  if (!principal) {
    host.send(
      ws,
      errorsFrame([{ code: 'invalidApiKey', message: 'This API key is no longer valid', taskType: 'authentication' }], a.origin),
    )
    return host.close(ws, 1008, 'API key no longer valid')
  }
  try {
    await services.rateLimits.enforce(principal)
  } catch (error) {
    if (!(error instanceof ApiError)) throw error
    const limited = work.map((t) => {
      const { taskType, taskUUID } = tagOf(t)
      return error.forTask(taskType, taskUUID).detail
    })
    for (const frame of framesPerTask([], limited, a.origin)) host.send(ws, frame)
    return
  }
  const { items, errors } = await runSocketTasks(services, principal, a.session ?? '', work, host.store)
  for (const frame of framesPerTask(items, errors, a.origin)) host.send(ws, frame)
}
