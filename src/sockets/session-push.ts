/**
 * Pushes a session's stored results to its socket, each once: the store remembers every result
 * it was told about and whether it was pushed, so a repeated notice changes nothing.
 */
import { ApiError, type RunwareError } from '../lib/errors'
import { framesPerTask } from '../protocol/frames'
import { shownTaskUUID } from '../images/presenter'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import type { Services } from '../services'
import { attachmentOf, openSocketOf, type SessionHost } from './session-host'

/** Pushed results are remembered this long after their task finished, so a late repeat notice is ignored. */
const DONE_RETENTION_MS = 3_600_000

/** Results of one of the session's tasks were stored: push them (or keep them for a resume). */
export async function deliver(host: SessionHost, tenant: string, taskUUID: string, indexes: number[], total: number): Promise<void> {
  const forward = host.store.get('forward')
  if (forward) return host.peer(forward).deliver(tenant, taskUUID, indexes, total)
  // Unknown or expired session: the results stay reachable through getResponse.
  if (host.store.get('tenant') !== tenant) return
  host.store.add(taskUUID, indexes, total)
  await flush(host)
}

/** Pushes every stored result not pushed yet, when the session's socket is open. */
export async function flush(host: SessionHost): Promise<void> {
  const { store } = host
  const ws = openSocketOf(host)
  const tenant = store.get('tenant')
  if (!ws || !tenant) return
  // Taken before rendering (which waits on I/O), so a concurrent flush cannot push them too.
  const due = store.takeDue()
  if (!due.length) return
  const { origin } = attachmentOf(ws)
  const services = host.services(origin)
  for (const [task, rows] of Map.groupBy(due, (r) => r.task)) {
    const state = await services.tasks.load(tenant, task)
    const shown: Shown[] = []
    for (const { idx } of rows) {
      const result = state?.task.deleted ? undefined : state?.results.find((r) => r.index === idx)
      if (state && result) shown.push(await render(services, state.task, result))
    }
    // One envelope per task, its items and errors together (Runware's SDK pollers read one frame).
    const items = shown.flatMap((s) => ('item' in s ? [s.item] : []))
    const errors = shown.flatMap((s) => ('error' in s ? [s.error] : []))
    // A socket that went away meanwhile leaves the results due, for a resume.
    const open = ws.readyState === WebSocket.OPEN
    if (open && shown.length) for (const frame of framesPerTask(items, errors, origin)) ws.send(frame)
    for (const { idx } of rows) store.settle(task, idx, open)
    store.finish(task, Date.now(), Date.now() - DONE_RETENTION_MS)
  }
}

type Shown = { item: Record<string, unknown> } | { error: RunwareError }

/** A result as Runware shows it: its item, or its error with the task's UUID. */
async function render(services: Services, task: TaskRecord, result: ResultRecord): Promise<Shown> {
  try {
    return await services.presenter.render(task, result)
  } catch (error) {
    const detail = error instanceof ApiError ? error.detail : { code: 'internalServerError', message: 'The result could not be read' }
    return { error: { ...detail, taskType: 'imageInference', taskUUID: shownTaskUUID(task) } }
  }
}
