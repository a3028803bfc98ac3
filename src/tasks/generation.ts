/**
 * Runs an imageInference task: claims it, fans it out to one upstream child per result,
 * dispatches all children in one call, and answers sync or async (docs/architecture.md).
 */
import type { SocketNotifier } from '../deliveries/socket-notifier'
import { shownTaskUUID, type Presenter } from '../images/presenter'
import type { LazyItem } from '../lib/envelope'
import { ApiError } from '../lib/errors'
import { childTaskUUID, randomSeed } from '../lib/ids'
import { sleep } from '../lib/retry'
import type { Principal } from '../schemas/api-keys'
import type { InferenceRequest } from '../schemas/image-inference'
import type { ResultRecord, StoredReference, TaskRecord } from '../schemas/records'
import { limitsOf, priceMicros, refusalError } from '../tenant/budgets'
import type { TaskState } from '../tenant/contract'
import type { TenantClient } from '../tenant/tenant-client'
import type { DispatchOutcome, Dispatcher } from './dispatcher'
import { conflictOf, lostError } from './idempotency'
import type { ResultRecorder, ResultReport } from './result-recorder'

export interface TaskOutcome {
  items: LazyItem[]
  errors: ApiError[]
}

export interface GenerationDeps {
  tenants: TenantClient
  /** When a new task is first due for reconciliation, after its creation. */
  reconcileAfterSeconds: number
  recorder: ResultRecorder
  presenter: Presenter
  dispatcher: Dispatcher
  /** Pushes stored results to a task's WebSocket session (each once). */
  sockets: SocketNotifier
  /** The origin upload and webhook URLs are issued for. */
  origin: string
  /** The request's trace, which the task carries to Runware and to its webhooks. */
  traceparent?: string
  syncTimeoutSeconds: number
  /**
   * Asks Runware about the task now (getResponse, as the reconciler does). A waiting sync request
   * calls it now and then, for results whose webhook never comes (Runware may not send failures).
   */
  check: (task: TaskRecord) => Promise<unknown>
  /** Lets work outlive the response (the rest of a slow sync dispatch). */
  waitUntil: (promise: Promise<unknown>) => void
}

/** An async dispatch's whole retry budget, and the most one attempt may hang. */
const ASYNC_BUDGET_MS = 25_000
const ASYNC_ATTEMPT_MS = 10_000
/** How long a sync dispatch may go on after the client got "processing" (waitUntil's limit is 30 s). */
const SYNC_GRACE_MS = 25_000
/** The most one sync dispatch attempt may hold its connection (Runware may answer only when its images are done). */
const SYNC_ATTEMPT_MS = 20_000
/** A waiting sync request asks Runware itself after this long without its last result, then at doubling intervals. */
const FIRST_CHECK_MS = 8_000

const ack =
  (taskUUID: string): LazyItem =>
  async () => ({ taskType: 'imageInference', taskUUID })
const processing =
  (taskUUID: string): LazyItem =>
  async () => ({ taskType: 'imageInference', taskUUID, status: 'processing' })

export class GenerationService {
  constructor(private readonly deps: GenerationDeps) {}

  async submit(
    principal: Principal,
    request: InferenceRequest,
    requestHash: string,
    startedAt = Date.now(),
    references: StoredReference[] = [],
    socket?: string,
  ): Promise<TaskOutcome> {
    // Over a socket, a sync task's results are pushed to its session as they are stored.
    const pushed = socket !== undefined && request.deliveryMethod === 'sync'
    const record = await this.newRecord(principal.tenant, request, requestHash, startedAt, references, pushed ? socket : undefined)
    // One call creates the task and reserves its budget and in-flight slot, before anything goes upstream.
    // A task pushed over a socket has no request waiting on it to ask Runware (untilSettled), so
    // the reconciler looks at it as soon as such a request would.
    const dueAt = record.createdAt + (pushed ? FIRST_CHECK_MS : this.deps.reconcileAfterSeconds * 1000)
    const opened = await this.deps.tenants.open(record, priceMicros(record.model), limitsOf(principal), dueAt)
    if (opened.kind === 'existing') {
      const conflict = conflictOf(opened.task, record)
      if (conflict) return { items: [], errors: [conflict] }
      if (pushed) return this.resentOverSocket(opened.task, opened.results, socket)
      return this.existing(opened.task, opened.results, record, startedAt)
    }
    if (opened.kind === 'refused') throw refusalError(principal, record, opened.refusal)
    if (pushed) return this.runAsync(record, [])
    return request.deliveryMethod === 'async' ? this.runAsync(record) : this.runSync(record, startedAt)
  }

  /** Dispatches with Runware's webhooks as the channel; answers `answer` (the ack by default). */
  private async runAsync(task: TaskRecord, answer: LazyItem[] = [ack(shownTaskUUID(task))]): Promise<TaskOutcome> {
    const outcome = await this.deps.dispatcher.dispatch(task, 'async', { budgetMs: ASYNC_BUDGET_MS, attemptTimeoutMs: ASYNC_ATTEMPT_MS })
    if (outcome.kind === 'refused') return this.refused(task, outcome.errors)
    const failures = outcome.reports.filter((r) => 'error' in r)
    if (failures.length) await this.deps.recorder.record(task, failures)
    return { items: answer, errors: [] }
  }

  /**
   * Answers once every result is recorded, whichever channel records it: Runware's sync reply,
   * its webhooks (with a webhookURL Runware may only acknowledge), or a check. Only when the
   * sync budget runs out does the client hear "processing" for what is still missing.
   */
  private async runSync(task: TaskRecord, startedAt: number): Promise<TaskOutcome> {
    const deadline = startedAt + this.deps.syncTimeoutSeconds * 1000
    // One attempt may hang at most SYNC_ATTEMPT_MS: past it the task is taken as dispatched, and
    // its results come by webhook or check like any other.
    const dispatch = this.deps.dispatcher.dispatch(task, 'sync', {
      budgetMs: deadline - Date.now() + SYNC_GRACE_MS,
      attemptTimeoutMs: SYNC_ATTEMPT_MS,
      slowIsNormal: true,
    })
    const outcome = await Promise.race([dispatch, sleep(deadline - Date.now()).then(() => 'late' as const)])
    if (outcome === 'late') {
      // The dispatch goes on; webhooks or the reconciler finish the task.
      this.deps.waitUntil(dispatch.then((late) => this.settleLate(task, late)))
      return this.answer(task, (await this.deps.tenants.read(task.tenant, task.taskUUID))?.results ?? [])
    }
    if (outcome.kind === 'refused') return this.refused(task, outcome.errors)
    // Runware only acknowledged (no result in its reply): nothing to record, straight to the wait.
    const recorded = outcome.reports.length ? await this.deps.recorder.record(task, outcome.reports) : null
    if (recorded?.complete) return this.answer(task, recorded.results)
    return this.answer(task, (await this.untilSettled(task, deadline))?.results ?? recorded?.results ?? [])
  }

  /**
   * Parks in the task's shard until the task settles or `deadline` passes, asking Runware
   * itself after FIRST_CHECK_MS and then at doubling intervals: a handful of calls, not a poll.
   */
  private async untilSettled(task: TaskRecord, deadline: number): Promise<TaskState | null> {
    for (let checkAfter = FIRST_CHECK_MS; ; checkAfter *= 2) {
      const left = deadline - Date.now()
      const wait = Math.max(0, Math.min(left, checkAfter))
      // The object restarting drops its waiters; then wait here and read.
      const state = await this.deps.tenants
        .awaitSettled(task.tenant, task.taskUUID, wait)
        .catch(() => sleep(wait).then(() => this.deps.tenants.read(task.tenant, task.taskUUID)))
      if (!state || state.task.deleted || state.results.length >= task.children.length || left <= checkAfter) return state
      await this.deps.check(task).catch(() => undefined)
    }
  }

  /** What a sync client hears: the results so far, and "processing" while any is missing. */
  private answer(task: TaskRecord, results: ResultRecord[]): TaskOutcome {
    const { items, errors } = this.deps.presenter.split(task, results)
    if (results.length < task.children.length) items.push(processing(shownTaskUUID(task)))
    return { items, errors }
  }

  /**
   * The same task again over a socket. To its own session (a client unsure its message arrived
   * before its connection dropped): the session pushes what it has not pushed yet, so nothing
   * twice. Over another session: what is stored now; the rest goes to the session that sent it.
   */
  private async resentOverSocket(task: TaskRecord, results: ResultRecord[], socket: string): Promise<TaskOutcome> {
    if (task.socket !== socket) return this.deps.presenter.split(task, results)
    await this.deps.sockets.notify(task, results)
    return { items: [], errors: [] }
  }

  /** Runware took none of the work: forget the task (and its reservation) so a re-send starts afresh. */
  private async refused(task: TaskRecord, errors: ApiError[]): Promise<TaskOutcome> {
    await this.deps.tenants.abandon(task)
    return { items: [], errors }
  }

  /** A sync dispatch that answered after the client was told "processing": the task must still end. */
  private async settleLate(task: TaskRecord, outcome: DispatchOutcome): Promise<void> {
    const reports: ResultReport[] =
      outcome.kind === 'accepted'
        ? outcome.reports
        : task.children.map((_, index) => ({
            index,
            error: {
              code: outcome.errors[0]?.detail.code ?? 'serviceUnavailable',
              message: outcome.errors[0]?.message ?? 'Dispatch failed',
            },
          }))
    if (reports.length) await this.deps.recorder.record(task, reports)
  }

  /** The same request again under its taskUUID: the same task, answered as a first request would be. */
  private async existing(task: TaskRecord, known: ResultRecord[], attempt: TaskRecord, startedAt: number): Promise<TaskOutcome> {
    if (attempt.deliveryMethod === 'async') return { items: [ack(shownTaskUUID(task))], errors: [] }
    if (known.length >= task.children.length) return this.answer(task, known)
    const state = await this.untilSettled(task, startedAt + this.deps.syncTimeoutSeconds * 1000)
    // The first request's dispatch may have failed and let go of the task meanwhile.
    if (!state || state.task.createdAt !== task.createdAt) return { items: [], errors: [lostError(task)] }
    return this.answer(task, state.results)
  }

  private async newRecord(
    tenant: string,
    request: InferenceRequest,
    requestHash: string,
    now: number,
    references: StoredReference[],
    socket: string | undefined,
  ): Promise<TaskRecord> {
    const children = await Promise.all(
      Array.from({ length: request.numberResults }, async (_, i) => ({
        taskUUID: await childTaskUUID(tenant, request.taskUUID, i),
        // Result i uses seed S+i; without a seed we pick them, so every item carries one.
        seed: request.seed !== undefined ? request.seed + i : randomSeed(),
      })),
    )
    return {
      v: 1,
      tenant,
      taskUUID: request.taskUUID.toLowerCase(),
      ...(request.taskUUID !== request.taskUUID.toLowerCase() ? { sentAs: request.taskUUID } : {}),
      requestHash,
      model: request.model,
      createdAt: now,
      deliveryMethod: request.deliveryMethod,
      outputType: request.outputType,
      outputFormat: request.outputFormat,
      width: request.width,
      height: request.height,
      positivePrompt: request.positivePrompt,
      outputQuality: request.outputQuality,
      ...(request.safety ? { safety: request.safety } : {}),
      origin: this.deps.origin,
      includeCost: request.includeCost,
      ...(request.ttl !== undefined ? { ttl: request.ttl } : {}),
      ...(request.webhookURL !== undefined ? { webhookURL: request.webhookURL } : {}),
      ...(request.uploadEndpoint !== undefined ? { uploadEndpoint: request.uploadEndpoint } : {}),
      ...(references.length ? { references } : {}),
      ...(socket ? { socket } : {}),
      ...(this.deps.traceparent ? { traceparent: this.deps.traceparent } : {}),
      children,
      status: 'processing',
    }
  }
}
