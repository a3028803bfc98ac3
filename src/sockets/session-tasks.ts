/**
 * Runs the tasks of one WebSocket message as POST /v1 does. A sync imageInference task's
 * results are pushed to the session later, so it holds one of the session's in-flight slots
 * until its last result is pushed; a task answered at once gives its slot back.
 */
import type { RunwareError } from '../lib/errors'
import { pushedTaskUUID } from '../protocol/frames'
import type { Principal } from '../schemas/api-keys'
import type { Services } from '../services'
import { MAX_TASKS_PER_REQUEST, runTasks, tagOf } from '../protocol/run-tasks'

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
    return { items: [], errors: [{ code: 'tooManyTasks', message: `At most ${MAX_TASKS_PER_REQUEST} tasks per message` }] }
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
    console.error(JSON.stringify({ level: 'error', msg: 'socket task failed', error: String(error) }))
    answers.errors = tasks.map((t) => ({ code: 'internalServerError', message: 'Internal error; retry later', ...tagOf(t) }))
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
