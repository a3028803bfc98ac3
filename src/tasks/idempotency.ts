/**
 * A taskUUID is one generation: the same body again gets the same task, and anything else under
 * that taskUUID (another body, or the taskUUID of a deleted task) is a conflict naming it.
 */
import { shownTaskUUID } from '../images/presenter'
import { ApiError } from '../lib/errors'
import type { TaskRecord } from '../schemas/records'

/** The 409 for sending `attempt` under a taskUUID that `task` already holds, or null when it is the same request again. */
export function conflictOf(task: TaskRecord, attempt: Pick<TaskRecord, 'requestHash'>): ApiError | null {
  if (!task.deleted && task.requestHash === attempt.requestHash) return null
  return new ApiError(409, {
    code: 'conflictTaskUUID',
    message: task.deleted
      ? 'taskUUID belongs to a deleted task; use a new taskUUID'
      : 'taskUUID was already used with a different request body',
    parameter: 'taskUUID',
    taskType: 'imageInference',
    taskUUID: shownTaskUUID(task),
  })
}

/** The 503 for the same request again, when the first one's dispatch failed and let go of the task meanwhile. */
export function lostError(task: TaskRecord): ApiError {
  return new ApiError(
    503,
    {
      code: 'serviceUnavailable',
      message: 'The image provider did not take this task; send it again',
      taskType: 'imageInference',
      taskUUID: shownTaskUUID(task),
    },
    { 'retry-after': '1' },
  )
}
