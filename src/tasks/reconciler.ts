/**
 * A lost webhook must never leave a task stuck. Each shard object hands its due tasks to the
 * reconcile queue (an open task RECONCILE_AFTER_SECONDS after creation, and again every
 * RECONCILE_AFTER_SECONDS while it stays open). For each: ask Runware (getResponse) about the
 * children with no result, record what finished, re-dispatch what Runware never received, and
 * fail what outlived TASK_DEADLINE_SECONDS. A final task is looked at once more, to send any
 * client event its recorder stopped before sending.
 */
import type { ReconcileMessage } from '../schemas/reconcile'
import type { ResultRecord, TaskRecord } from '../schemas/records'
import type { UpstreamBody, UpstreamError, UpstreamItem } from '../schemas/upstream'
import type { TenantClient } from '../tenant/tenant-client'
import type { RunwareClient } from '../upstream/runware-client'
import { failureOf } from '../upstream/upstream-errors'
import type { Dispatcher } from './dispatcher'
import type { ResultRecorder, ResultReport } from './result-recorder'

export interface ReconcilerDeps {
  tenants: TenantClient
  recorder: ResultRecorder
  dispatcher: Dispatcher
  runware: RunwareClient
  deadlineSeconds: number
}

export interface ReconcileReport {
  checked: number
  recorded: number
  redispatched: number
  timedOut: number
  finalized: number
}

/** getResponse tasks per upstream request. */
const POLL_BATCH = 100

type Open = { task: TaskRecord; missing: number[] }

export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async run(due: readonly ReconcileMessage[], now = Date.now()): Promise<ReconcileReport> {
    const report: ReconcileReport = { checked: 0, recorded: 0, redispatched: 0, timedOut: 0, finalized: 0 }
    const open: Open[] = []
    for (const { tenant, taskUUID } of due) {
      const state = await this.deps.tenants.read(tenant, taskUUID)
      if (!state || state.task.deleted) continue
      report.checked++
      const { task, results } = state
      if (results.length === task.children.length) {
        // Final: make sure its KV record and client events exist, then nothing is due for it.
        await this.deps.recorder.repair(task, results)
        await this.deps.tenants.settled(task)
        report.finalized++
        continue
      }
      open.push({ task, missing: missingIndices(task, results) })
    }
    const answers = await this.poll(open)
    for (const entry of open) await this.settle(entry, answers, now, report)
    return report
  }

  /** One getResponse per missing child, batched into as few upstream calls as possible. */
  private async poll(open: Open[]): Promise<UpstreamBody> {
    const children = open.flatMap(({ task, missing }) => missing.map((i) => task.children[i]?.taskUUID ?? ''))
    const body: UpstreamBody = { items: [], errors: [] }
    for (let i = 0; i < children.length; i += POLL_BATCH) {
      const batch = children.slice(i, i + POLL_BATCH).map((taskUUID) => ({ taskType: 'getResponse', taskUUID }))
      const result = await this.deps.runware.send(batch, { budgetMs: 15_000, attemptTimeoutMs: 10_000 })
      if (result.kind === 'ok' || result.kind === 'rejected') {
        body.items.push(...result.items)
        body.errors.push(...result.errors)
      }
    }
    return body
  }

  private async settle({ task, missing }: Open, answers: UpstreamBody, now: number, report: ReconcileReport): Promise<void> {
    const reports: ResultReport[] = []
    const notFound: number[] = []
    const pastDeadline = now >= task.createdAt + this.deps.deadlineSeconds * 1000
    for (const index of missing) {
      const childUUID = task.children[index]?.taskUUID
      const item = answers.items.find((i) => i.taskUUID === childUUID && isFinished(i))
      const error = answers.errors.find((e) => e.taskUUID === childUUID)
      if (item) reports.push({ index, item })
      else if (error && isUnknownTask(error)) notFound.push(index)
      else if (error) reports.push({ index, error: failureOf(error) })
    }
    let outcome = reports.length ? await this.deps.recorder.record(task, reports, now) : null
    report.recorded += reports.length - (outcome?.pending.length ?? 0)

    const stillMissing = outcome ? missingIndices(task, outcome.results) : missing
    if (pastDeadline && stillMissing.length) {
      const message = `No result from the image provider within ${this.deps.deadlineSeconds} s`
      outcome = await this.deps.recorder.record(
        task,
        // Runware may yet generate, and bill, what it never reported: counted at the estimate.
        stillMissing.map((index) => ({ index, error: { code: 'timeoutProvider', message }, billed: true as const })),
        now,
      )
      report.timedOut += stillMissing.length
    } else if (notFound.length) {
      // Runware never received these (a dispatch that timed out on the way): send them again,
      // with the same child UUIDs, so an earlier arrival is caught as a conflict, not billed twice.
      const redispatch = await this.deps.dispatcher.dispatch(task, 'async', { budgetMs: 10_000, attemptTimeoutMs: 8_000 }, notFound)
      if (redispatch.kind === 'accepted') report.redispatched += notFound.length
    }
    if (outcome?.complete) report.finalized++
  }
}

function missingIndices(task: TaskRecord, results: readonly ResultRecord[]): number[] {
  const done = new Set(results.map((r) => r.index))
  return task.children.map((_, i) => i).filter((i) => !done.has(i))
}

/** getResponse items carry `status`; older servers said `pending` for `processing`. */
const isFinished = (item: UpstreamItem) =>
  (item.status === undefined || item.status === 'success') && Boolean(item.imageURL || item.imageUUID)

const isUnknownTask = (error: UpstreamError) => error.code === 'taskNotFound'
