/**
 * The fault-injection soak: many tasks through the real gateway (workerd) and the emulator
 * with faults on, then the reconciler, then an audit of every task. Used by `npm run soak` and by
 * the smaller run inside `npm test`.
 */

import { RETRYABLE_CODES, SoakSocket } from './soak-socket.ts'

export interface SoakOptions {
  gatewayUrl: string
  emulatorUrl: string
  /** Clients' keys; tasks take them in turn (each key is rate limited on its own). */
  apiKeys: string[]
  tasks: number
  /** Requests in flight at once. */
  concurrency: number
  /** The gateway's RECONCILE_AFTER_SECONDS: tasks are reconciled this long after creation, and as often again. */
  reconcileAfterSeconds: number
  /** A test receiver (test/support/receiver.ts): every task then has a webhookURL that fails 30 % of attempts. */
  receiverUrl?: string
  /** The share of tasks sent by WebSocket clients that drop their connection at random (default 0.2). */
  socketShare?: number
  log?: (line: string) => void
}

export interface SoakReport {
  tasks: number
  succeeded: number
  failed: number
  lost: number
  duplicateGenerations: number
  resultsWithoutImage: number
  failedWithoutReason: number
  /** Results whose client webhook never arrived (0 when no receiver was given). */
  eventsUndelivered: number
  socketTasks: number
  socketDisconnects: number
  /** Results of socket tasks pushed more than once. */
  pushedDuplicates: number
  /** Results of socket tasks never pushed: lost with a dropped connection's last frames (getResponse has them). */
  pushedMissing: number
  p50Ms: number
  p99Ms: number
  line: string
}

/** The fault table of the reliability issue. */
export const SOAK_FAULTS = {
  httpStatus: [
    { code: 503, rate: 0.1 },
    { code: 429, rate: 0.05 / 0.9, retryAfterSeconds: 1 },
  ],
  duplicateWebhookRate: 0.2,
  dropWebhookRate: 0.05,
  lateWebhookRate: 0.1,
  lateWebhookMs: 1500,
  failUploadRate: 0.03,
}

const SIZES = [
  [2048, 2048],
  [2560, 1440],
  [1440, 2560],
  [2304, 1728],
  [1728, 2304],
  [2472, 824],
  [824, 2472],
  [2496, 1664],
  [1664, 2496],
] as const

interface TaskView {
  taskUUID: string
  status: string
  createdAt: string
  completedAt?: string
  results: { index: number; status: string; imageUUID?: string; imageURL?: string; error?: { code?: string; message?: string } }[]
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs `work` over `items` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T)
    }),
  )
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => undefined)
  const marker = `soak-${crypto.randomUUID().slice(0, 8)}`
  const hookPath = `/flaky-30/${marker}/`
  await fetch(`${o.emulatorUrl}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ match: marker, ...SOAK_FAULTS }) })
  const headersFor = (i: number) => ({ authorization: `Bearer ${o.apiKeys[i % o.apiKeys.length]}`, 'content-type': 'application/json' })

  const socketCount = Math.round(o.tasks * (o.socketShare ?? 0.2))
  const viaSocket = new Set(
    Array.from({ length: o.tasks }, (_, i) => i)
      .sort(() => Math.random() - 0.5)
      .slice(0, socketCount),
  )
  const bodies = Array.from({ length: o.tasks }, (_, i) => {
    const [width, height] = pick(SIZES)
    return {
      taskType: 'imageInference',
      taskUUID: crypto.randomUUID(),
      model: 'imagineart:1@5',
      positivePrompt: `a soak test image ${marker} #${i}`,
      width,
      height,
      numberResults: 1 + Math.floor(Math.random() * 4),
      // Over a socket, results are pushed: the sync delivery method.
      deliveryMethod: viaSocket.has(i) || Math.random() < 0.5 ? 'sync' : 'async',
      ...(o.receiverUrl ? { webhookURL: `${o.receiverUrl}${hookPath}` } : {}),
    }
  })

  const keyIndex = new Map(bodies.map((b, i) => [b.taskUUID, i]))
  // Two clients per key; each drops its connection after about a quarter of the tasks it sends.
  const byKey = o.apiKeys.map((key) => [0, 1].map(() => new SoakSocket(`${o.gatewayUrl.replace(/^http/, 'ws')}/v1`, key, 0.25)))
  const sockets = byKey.flat()
  // Task i uses key i mod n, over a socket as over REST: the audit reads it back with that key.
  const socketFor = (i: number) => byKey[i % o.apiKeys.length]?.[Math.floor(i / o.apiKeys.length) % 2]
  /** A client that honours 503/429 + Retry-After, as a well-behaved one does. */
  const call = async (path: string, taskUUID: string, init: RequestInit = {}): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${o.gatewayUrl}${path}`, { ...init, headers: headersFor(keyIndex.get(taskUUID) ?? 0) })
      if ((res.status !== 503 && res.status !== 429) || attempt === 8) return res
      await res.arrayBuffer()
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000)
    }
  }
  const send = async (body: { taskUUID: string }) => {
    const res = await call('/v1', body.taskUUID, { method: 'POST', body: JSON.stringify([body]) })
    await res.arrayBuffer()
  }
  const started = Date.now()
  // 10 % of clients resend the same request at the same moment.
  await pool(bodies, o.concurrency, async (body) => {
    const i = keyIndex.get(body.taskUUID) ?? 0
    if (viaSocket.has(i)) return socketFor(i)?.submit(body)
    const copies = Math.random() < 0.1 ? 2 : 1
    await Promise.all(Array.from({ length: copies }, () => send(body)))
  })
  const submitted = Date.now()
  log(`submitted ${o.tasks} tasks in ${submitted - started} ms; waiting for webhooks, then the reconciler`)

  const view = async (taskUUID: string): Promise<TaskView | null> => {
    const res = await call(`/v1/tasks/${taskUUID}`, taskUUID)
    return res.ok ? ((await res.json()) as { data: TaskView }).data : null
  }
  const states = new Map<string, TaskView | null>()
  const isOpen = (taskUUID: string) => !['succeeded', 'failed'].includes(states.get(taskUUID)?.status ?? '')
  const refresh = () =>
    pool(
      bodies.filter((b) => isOpen(b.taskUUID)),
      o.concurrency,
      async (b) => void states.set(b.taskUUID, await view(b.taskUUID)),
    )
  const processing = () => bodies.filter((b) => isOpen(b.taskUUID)).length

  // Let late webhooks land. Each tenant's object then hands its overdue tasks to the reconciler
  // RECONCILE_AFTER_SECONDS after creation, and again every RECONCILE_AFTER_SECONDS while open.
  await sleep(3000)
  await refresh()
  for (let round = 1; round <= 10 && processing() > 0; round++) {
    const wait = submitted + round * o.reconcileAfterSeconds * 1000 + 2500 - Date.now()
    if (wait > 0) await sleep(wait)
    await refresh()
    log(`after reconcile round ${round}: ${processing()} tasks still open`)
  }

  for (const socket of sockets) socket.close()
  for (const b of bodies.filter((b, i) => viaSocket.has(i) && isOpen(b.taskUUID)).slice(0, 3)) {
    log(`socket task ${b.taskUUID} still open; pushed to it: ${JSON.stringify(sockets.flatMap((s) => s.received.get(b.taskUUID) ?? []))}`)
  }
  const socketTasks = bodies.filter((_, i) => viaSocket.has(i)).map((b) => b.taskUUID)
  return audit(
    bodies.map((b) => b.taskUUID),
    states,
    o,
    log,
    hookPath,
    pushAudit(socketTasks, states, sockets),
  )
}

type PushAudit = Pick<SoakReport, 'socketTasks' | 'socketDisconnects' | 'pushedDuplicates' | 'pushedMissing'>

/** Compares what the socket clients were pushed with each task's final results. */
function pushAudit(taskUUIDs: string[], states: Map<string, TaskView | null>, sockets: SoakSocket[]): PushAudit {
  let pushedDuplicates = 0
  let pushedMissing = 0
  for (const taskUUID of taskUUIDs) {
    const pushed = sockets.flatMap((s) => s.received.get(taskUUID) ?? []).filter((e) => !e.code || !RETRYABLE_CODES.has(e.code))
    const results = states.get(taskUUID)?.results ?? []
    const succeeded = results.filter((r) => r.status === 'succeeded')
    const failed = results.length - succeeded.length
    const images = pushed.flatMap((e) => (e.imageUUID ? [e.imageUUID] : []))
    const unique = new Set(images)
    const errors = pushed.filter((e) => e.code).length
    pushedDuplicates += images.length - unique.size + Math.max(0, errors - failed)
    pushedMissing += succeeded.filter((r) => !unique.has(r.imageUUID ?? '')).length + Math.max(0, failed - errors)
  }
  const socketDisconnects = sockets.reduce((n, s) => n + s.disconnects, 0)
  return { socketTasks: taskUUIDs.length, socketDisconnects, pushedDuplicates, pushedMissing }
}

async function audit(
  taskUUIDs: string[],
  states: Map<string, TaskView | null>,
  o: SoakOptions,
  log: (line: string) => void,
  hookPath: string,
  pushed: PushAudit,
): Promise<SoakReport> {
  const finals = taskUUIDs.map((id) => states.get(id) ?? null)
  for (const id of taskUUIDs.filter((id) => !['succeeded', 'failed'].includes(states.get(id)?.status ?? '')).slice(0, 5)) {
    log(`lost: ${id} ${JSON.stringify(states.get(id) ?? 'not found')}`)
  }
  const succeeded = finals.filter((t) => t?.status === 'succeeded').length
  const failed = finals.filter((t) => t?.status === 'failed').length
  const failedWithoutReason = finals
    .flatMap((t) => t?.results ?? [])
    .filter((r) => r.status === 'failed' && !(r.error?.code && r.error.message)).length

  let resultsWithoutImage = 0
  const urls = finals.flatMap((t) => (t?.results ?? []).filter((r) => r.status === 'succeeded').map((r) => r.imageURL ?? ''))
  await pool(urls, o.concurrency, async (url) => {
    const res = await fetch(url, { method: 'HEAD' }).catch(() => null)
    if (!res?.ok || !/^image\//.test(res.headers.get('content-type') ?? '')) resultsWithoutImage++
  })

  const eventsUndelivered = o.receiverUrl ? await undeliveredEvents(`${o.receiverUrl}/__received?path=${hookPath}`, finals, log) : 0
  const stats = (await (await fetch(`${o.emulatorUrl}/__emulator/stats`)).json()) as { generations: Record<string, number> }
  const duplicateGenerations = Object.values(stats.generations).reduce((sum, n) => sum + Math.max(0, n - 1), 0)

  const durations = finals
    .filter((t): t is TaskView => Boolean(t?.completedAt))
    .map((t) => Date.parse(t.completedAt ?? '') - Date.parse(t.createdAt))
    .sort((a, b) => a - b)
  const at = (q: number) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0
  const report = {
    tasks: taskUUIDs.length,
    succeeded,
    failed,
    lost: taskUUIDs.length - succeeded - failed,
    duplicateGenerations,
    resultsWithoutImage,
    failedWithoutReason,
    eventsUndelivered,
    ...pushed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  }
  const line =
    `tasks ${report.tasks} · succeeded ${succeeded} · failed ${failed} · lost ${report.lost} · ` +
    `duplicate generations ${duplicateGenerations} · results without image ${resultsWithoutImage} · ` +
    (o.receiverUrl ? `events undelivered ${eventsUndelivered} · ` : '') +
    `socket tasks ${pushed.socketTasks} (${pushed.socketDisconnects} dropped connections) · ` +
    `pushed twice ${pushed.pushedDuplicates} · never pushed ${pushed.pushedMissing} · ` +
    `p50/p99 completion ${report.p50Ms}/${report.p99Ms} ms`
  log(line)
  return { ...report, line }
}

/** Waits (bounded) for every result's webhook to reach the flaky receiver; returns how many never did. */
async function undeliveredEvents(receivedUrl: string, finals: (TaskView | null)[], log: (line: string) => void): Promise<number> {
  const expected = finals.flatMap((t) => (t ? t.results.map((r) => `evt_${t.taskUUID}_${r.index}`) : []))
  let delivered = new Set<string>()
  for (let waited = 0; waited < 120_000; waited += 2000) {
    const received = (await (await fetch(receivedUrl)).json()) as {
      headers: Record<string, string>
      answered: number
    }[]
    delivered = new Set(received.filter((r) => r.answered === 200).map((r) => r.headers['webhook-id'] ?? ''))
    if (expected.every((id) => delivered.has(id))) break
    await sleep(2000)
  }
  const missing = expected.filter((id) => !delivered.has(id))
  log(
    `client webhooks: ${expected.length - missing.length} of ${expected.length} events delivered through a receiver failing 30 % of attempts`,
  )
  if (missing.length) log(`undelivered, first 5: ${missing.slice(0, 5).join(' ')}`)
  return missing.length
}
