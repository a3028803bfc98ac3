/** Helpers for tests that call the Worker inside workerd. */
import { env, exports } from 'cloudflare:workers'
import { ApiKeys } from '../../src/access/api-keys'
import { requireConfig } from '../../src/config/config'
import type { TaskRecord } from '../../src/schemas/records'
import type { ReconcileMessage } from '../../src/schemas/reconcile'
import { ShardMap } from '../../src/tenant/shard-map'
import { inject } from 'vitest'
import { KEY_A, TEST_SECRETS } from '../secrets'

export interface Envelope {
  data?: Record<string, unknown>[]
  errors?: Record<string, unknown>[]
}

/** PUBLIC_BASE_URL in the workers project: refused at once, so Runware's uploads and webhooks fail fast. */
export const BASE = 'http://127.0.0.1:1'

export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(`${BASE}${path}`, init)
}

/** POSTs tasks to /v1 with tenant A's key (or `key`). */
export async function postV1(body: unknown, key: string | null = KEY_A): Promise<{ status: number; headers: Headers; json: Envelope }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (key) headers.authorization = `Bearer ${key}`
  const res = await call('/v1', { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: res.status, headers: res.headers, json: (await res.json()) as Envelope }
}

export const emulatorUrl = () => `http://127.0.0.1:${inject('emulatorPort')}`

export async function setFault(rule: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${emulatorUrl()}/__emulator/faults`, { method: 'POST', body: JSON.stringify(rule) })
  if (!res.ok) throw new Error(`fault rule refused: ${res.status}`)
}

/** The upstream requests the emulator received whose JSON contains `match`. */
export async function upstreamRequests(match: string): Promise<{ at: string; auth: string; body: Record<string, unknown>[] }[]> {
  return (await fetch(`${emulatorUrl()}/__emulator/requests?match=${encodeURIComponent(match)}`)).json()
}

export const inference = (overrides: Record<string, unknown> = {}) => ({
  taskType: 'imageInference',
  taskUUID: crypto.randomUUID(),
  model: 'imagineart:1@5',
  positivePrompt: 'a quiet harbour at dawn',
  ...overrides,
})

/** What Runware knows of a child: its finished item, as getResponse reports it. */
export async function upstreamItem(childUUID: string): Promise<Record<string, unknown>> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    const res = await fetch(`${emulatorUrl()}/v1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_SECRETS.RUNWARE_API_KEY}` },
      body: JSON.stringify([{ taskType: 'getResponse', taskUUID: childUUID }]),
    })
    const item = ((await res.json()) as { data?: Record<string, unknown>[] }).data?.[0]
    if (item?.status === 'success') {
      const { status: _status, ...flat } = item
      return flat
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the emulator never finished the child')
}

export const hook = (url: string, body: unknown) =>
  call(url.slice(BASE.length), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

const shardMap = () => new ShardMap(requireConfig(env).TENANT_SHARDS)

/** The shard object a task (created now) lives in, for tests that drive it directly. */
export function shardOf(tenant: string, taskUUID: string) {
  return env.SHARDS.get(env.SHARDS.idFromName(`${tenant}/${shardMap().shard(tenant, taskUUID, Date.now())}`))
}

/** Every shard object of a tenant. */
export const shardsOf = (tenant: string) =>
  shardMap()
    .allShards(tenant)
    .map((i) => env.SHARDS.get(env.SHARDS.idFromName(`${tenant}/${i}`)))

/** What every shard of the tenant hands out as due at `now`, as their alarms do. */
export async function sweepAll(tenant: string, now: number): Promise<ReconcileMessage[]> {
  return (await Promise.all(shardsOf(tenant).map((shard) => shard.sweep(now)))).flat()
}

/** A tenant's account object (budgets, in-flight slots). */
export const accountOf = (tenant: string) => env.ACCOUNTS.get(env.ACCOUNTS.idFromName(tenant))

/** When the gateway first makes a task due for reconciliation: RECONCILE_AFTER_SECONDS after its creation. */
export const firstDue = (task: TaskRecord) => task.createdAt + Number(env.RECONCILE_AFTER_SECONDS) * 1000

/** The tenant id a key resolves to. */
export async function tenantOf(key: string): Promise<string> {
  return (await new ApiKeys(env.TASKS, requireConfig(env)).resolve(key))?.tenant ?? ''
}

/** A task record as the gateway stores it, for tests that drive the store directly. */
export function taskRecord(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    v: 1,
    tenant: 'ttest',
    taskUUID: crypto.randomUUID(),
    requestHash: 'ab'.repeat(32),
    model: 'imagineart:1@5',
    createdAt: Date.now(),
    deliveryMethod: 'async',
    outputType: 'URL',
    outputFormat: 'JPG',
    width: 2048,
    height: 2048,
    positivePrompt: 'a test',
    outputQuality: 95,
    origin: BASE,
    includeCost: false,
    children: [{ taskUUID: crypto.randomUUID(), seed: 1 }],
    status: 'processing',
    ...overrides,
  }
}
