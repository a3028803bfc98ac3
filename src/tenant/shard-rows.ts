/**
 * How a shard object keeps its tasks, in as few bytes as a decision needs. A task's bulky,
 * write-once part (its prompt, its URLs, its children) is its `details` row: kept while it is open
 * (dispatch and reconciliation need it) and, for a task with client deliveries, until its
 * deliveries are verified; then dropped, once that part is in its KV record. What stays of a
 * finished task is about 150 bytes per image: UUIDs as 16-byte blobs, names by id, and results
 * as columns (an image's R2 key follows from its task, index and format). docs/storage.md.
 */
import { childTaskUUID } from '../lib/ids'
import { runs } from '../lib/sql'
import { fromHex, toHex } from '../lib/encoding'
import { imageKey } from '../lib/storage-keys'
import { finalStatus, type ChildTask, type ResultDraft, type ResultRecord, type TaskRecord } from '../schemas/records'

export const SHARD_SCHEMA = `
  CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
  CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY, uuid BLOB NOT NULL UNIQUE, hash BLOB NOT NULL, created_at INTEGER NOT NULL,
    state INTEGER NOT NULL, due_at INTEGER, model INTEGER NOT NULL, origin INTEGER NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, format TEXT NOT NULL, flags INTEGER NOT NULL,
    n INTEGER NOT NULL, ttl INTEGER, sent_as TEXT, refs TEXT, socket, api_key INTEGER);
  CREATE TABLE IF NOT EXISTS details (id INTEGER PRIMARY KEY, detail TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS tasks_due ON tasks (due_at) WHERE due_at IS NOT NULL;
  DROP INDEX IF EXISTS tasks_created;
  CREATE INDEX IF NOT EXISTS tasks_recent ON tasks (created_at, uuid);
  CREATE TABLE IF NOT EXISTS results (
    task INTEGER NOT NULL, idx INTEGER NOT NULL, image, image_as TEXT, seed INTEGER NOT NULL, cost REAL, nsfw INTEGER,
    at INTEGER NOT NULL, error TEXT, PRIMARY KEY (task, idx)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS results_image ON results (image) WHERE image IS NOT NULL;
  CREATE TABLE IF NOT EXISTS uploads (uuid TEXT PRIMARY KEY, object_key TEXT NOT NULL, created_at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS uploads_created ON uploads (created_at);
  CREATE TABLE IF NOT EXISTS usage_by_key (day TEXT NOT NULL, api_key TEXT NOT NULL, model TEXT NOT NULL, images INTEGER NOT NULL,
    cost INTEGER NOT NULL, untold INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (day, api_key, model));
  CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`

/** A shard's flag in `settings` (say, `budgeted`: its tenant has a budget of its own); null when never set. */
export function setting(sql: SqlStorage, name: string): boolean | null {
  const row = sql.exec<{ value: number }>('SELECT value FROM settings WHERE name = ?', name).toArray()[0]
  return row ? row.value === 1 : null
}
export const setSetting = (sql: SqlStorage, name: string, on: boolean) =>
  sql.exec('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', name, on ? 1 : 0)

/**
 * Brings a shard made by an older version up to this schema: tasks learn the key that opened
 * them (usage by key), usage counted before keys were is kept under key '', and usage learns
 * which part the account never heard of (from then on: older spend is not known to be untold).
 */
export function migrate(sql: SqlStorage): void {
  if (!runs(sql, 'SELECT api_key FROM tasks LIMIT 0')) sql.exec('ALTER TABLE tasks ADD COLUMN api_key INTEGER')
  if (!runs(sql, 'SELECT untold FROM usage_by_key LIMIT 0'))
    sql.exec('ALTER TABLE usage_by_key ADD COLUMN untold INTEGER NOT NULL DEFAULT 0')
  if (runs(sql, 'SELECT 1 FROM usage LIMIT 0')) {
    sql.exec(`INSERT OR IGNORE INTO usage_by_key (day, api_key, model, images, cost) SELECT day, '', model, images, cost FROM usage`)
    sql.exec('DROP TABLE usage')
  }
}

export const OPEN = 0
export const FINAL = 1
export const DELETED = 2

/** Bits of `tasks.flags`. */
export const FLAG = {
  async: 1,
  includeCost: 2,
  /** outputType is 0 URL, 1 base64Data, 2 dataURI, in bits 2–3. */
  outputShift: 2,
  /** The task has client deliveries (webhookURL or uploadEndpoint), so a KV record of it. */
  deliveries: 16,
  /** Its budget and in-flight slot are reserved in the tenant's account object. */
  limited: 32,
  /** The account has not yet heard of every recorded result (a call failed); settled() retries. */
  owed: 64,
  /** Its KV record is written: it never is again (a record never changes). */
  cached: 128,
  /** It finished with no image. Results are recorded only while a task is open, so this never changes. */
  failed: 256,
} as const
const OUTPUT_TYPES = ['URL', 'base64Data', 'dataURI'] as const

/**
 * A task's row joined to its detail. The detail has a table of its own: dropped from a task's
 * row, it would leave each page of `tasks` as sparse as the bulky rows once made it (three
 * tasks to a 4 KB page), while a `details` page whose rows all went is free, and reused.
 */
export const TASK_ROW = 'SELECT t.*, d.detail FROM tasks t LEFT JOIN details d ON d.id = t.id WHERE t.uuid = ?'

/** Forgets a task's detail: what it keeps from now on is its lasting part. */
export const dropDetail = (sql: SqlStorage, id: number) => sql.exec('DELETE FROM details WHERE id = ?', id)

/** The part of a task only dispatch, reconciliation and deliveries read. */
export interface Detail {
  positivePrompt: string
  outputQuality: number
  children: ChildTask[]
  perResult: number
  safety?: TaskRecord['safety']
  webhookURL?: string
  uploadEndpoint?: string
  traceparent?: string
}

export type TaskRow = {
  id: number
  uuid: ArrayBuffer
  hash: ArrayBuffer
  created_at: number
  state: number
  model: number
  origin: number
  width: number
  height: number
  format: string
  flags: number
  n: number
  ttl: number | null
  sent_as: string | null
  /** Image-to-image inputs: kept for good, since deleting the task deletes the inline ones (rare, so null almost always). */
  refs: string | null
  /** The WebSocket session its results go to: kept for good, since a re-send over the same session must not push twice. */
  socket: ArrayBuffer | string | null
  /** The managed key that opened it, by name id; null for a bootstrap key. */
  api_key: number | null
  detail: string | null
}

export type ResultRow = {
  idx: number
  /** The imageUUID lower-cased (a reference looks it up so), as 16 bytes when it is a UUID. */
  image: ArrayBuffer | string | null
  /** Runware's own spelling, when it is not lower-case: answers echo it. */
  image_as: string | null
  seed: number
  cost: number | null
  nsfw: number | null
  at: number
  error: string | null
}

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** A UUID as 16 bytes when it is canonical (lower-case), else as given: both round-trip exactly. */
export function packUUID(uuid: string): ArrayBuffer | string {
  return CANONICAL_UUID.test(uuid) ? fromHex(uuid.replaceAll('-', '')).buffer : uuid
}

export function unpackUUID(value: ArrayBuffer | string): string {
  if (typeof value === 'string') return value
  const h = toHex(value)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export const packHash = (hex: string) => fromHex(hex).buffer

/** Inserts a new task: its row, and its detail beside it. */
export function insertTask(
  sql: SqlStorage,
  task: TaskRecord,
  dueAt: number,
  perResult: number,
  limited: boolean,
  keyId: string | undefined,
  nameId: (text: string) => number,
) {
  const flags =
    (task.deliveryMethod === 'async' ? FLAG.async : 0) |
    (task.includeCost ? FLAG.includeCost : 0) |
    (OUTPUT_TYPES.indexOf(task.outputType) << FLAG.outputShift) |
    (task.webhookURL || task.uploadEndpoint ? FLAG.deliveries : 0) |
    (limited ? FLAG.limited : 0)
  const detail: Detail = {
    positivePrompt: task.positivePrompt ?? '',
    outputQuality: task.outputQuality ?? 0,
    children: task.children,
    perResult,
    ...(task.safety ? { safety: task.safety } : {}),
    ...(task.webhookURL ? { webhookURL: task.webhookURL } : {}),
    ...(task.uploadEndpoint ? { uploadEndpoint: task.uploadEndpoint } : {}),
    ...(task.traceparent ? { traceparent: task.traceparent } : {}),
  }
  const { id } = sql
    .exec<{ id: number }>(
      `INSERT INTO tasks (uuid, hash, created_at, state, due_at, model, origin, width, height, format, flags, n, ttl, sent_as, refs, socket, api_key)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      packUUID(task.taskUUID),
      packHash(task.requestHash),
      task.createdAt,
      OPEN,
      dueAt,
      nameId(task.model),
      nameId(task.origin),
      task.width,
      task.height,
      task.outputFormat,
      flags,
      task.children.length,
      task.ttl ?? null,
      task.sentAs ?? null,
      task.references ? JSON.stringify(task.references) : null,
      task.socket ? packUUID(task.socket) : null,
      keyId ? nameId(keyId) : null,
    )
    .one()
  // A row id can come back after the newest task is forgotten: its detail replaces any left behind.
  sql.exec('INSERT OR REPLACE INTO details (id, detail) VALUES (?, ?)', id, JSON.stringify(detail))
}

export function parseDetail(row: Pick<TaskRow, 'detail'>): Detail | null {
  return row.detail ? (JSON.parse(row.detail) as Detail) : null
}

/** A result as stored: its R2 key follows from the task, so only what varies is kept. */
export function resultColumns(draft: ResultDraft, seed: number) {
  if (!draft.ok) {
    return {
      image: null,
      image_as: null,
      seed,
      cost: null,
      nsfw: null,
      at: draft.at,
      error: JSON.stringify([draft.code, draft.message, draft.billed ?? false]),
    }
  }
  const nsfw = draft.nsfw === undefined ? null : Number(draft.nsfw)
  const lower = draft.imageUUID.toLowerCase()
  const image_as = lower === draft.imageUUID ? null : draft.imageUUID
  return { image: packUUID(lower), image_as, seed: draft.seed ?? seed, cost: draft.cost ?? null, nsfw, at: draft.at, error: null }
}

export function resultRecord(tenant: string, taskUUID: string, format: TaskRecord['outputFormat'], row: ResultRow): ResultRecord {
  if (row.error !== null || row.image === null) {
    const [code, message, billed] = JSON.parse(row.error ?? '["unknown","",false]') as [string, string, boolean]
    return { index: row.idx, ok: false, code, message, at: row.at, ...(billed ? { billed: true as const } : {}) }
  }
  return {
    index: row.idx,
    ok: true,
    imageUUID: row.image_as ?? unpackUUID(row.image),
    seed: row.seed,
    ...(row.cost !== null ? { cost: row.cost } : {}),
    ...(row.nsfw !== null ? { nsfw: row.nsfw === 1 } : {}),
    objectKey: imageKey(tenant, taskUUID, row.idx, format),
    at: row.at,
  }
}

/** The task record a row stands for: whole while its detail is kept, its lasting part after. */
export async function taskRecord(
  tenant: string,
  row: TaskRow,
  results: readonly ResultRecord[],
  seeds: readonly number[],
  name: (id: number) => string,
): Promise<TaskRecord> {
  const taskUUID = unpackUUID(row.uuid)
  const detail = parseDetail(row)
  const children =
    detail?.children ??
    (await Promise.all(
      Array.from({ length: row.n }, async (_, i) => ({ taskUUID: await childTaskUUID(tenant, taskUUID, i), seed: seeds[i] ?? 0 })),
    ))
  const { perResult: _, children: __, ...kept } = detail ?? { perResult: 0, children }
  return {
    v: 1,
    tenant,
    taskUUID,
    ...(row.sent_as ? { sentAs: row.sent_as } : {}),
    requestHash: toHex(row.hash),
    model: name(row.model),
    createdAt: row.created_at,
    deliveryMethod: row.flags & FLAG.async ? 'async' : 'sync',
    outputType: OUTPUT_TYPES[(row.flags >> FLAG.outputShift) & 3] ?? 'URL',
    outputFormat: row.format as TaskRecord['outputFormat'],
    width: row.width,
    height: row.height,
    origin: name(row.origin),
    includeCost: Boolean(row.flags & FLAG.includeCost),
    ...(row.ttl !== null ? { ttl: row.ttl } : {}),
    ...(row.refs ? { references: JSON.parse(row.refs) as TaskRecord['references'] } : {}),
    ...(row.socket !== null ? { socket: unpackUUID(row.socket) } : {}),
    ...kept,
    children,
    status: row.state === OPEN ? 'processing' : finalStatus(results),
    ...(row.state === DELETED ? { deleted: true } : {}),
    // Finished when its last result was recorded.
    ...(row.state !== OPEN && results.length ? { finishedAt: Math.max(...results.map((r) => r.at)) } : {}),
  }
}
