/**
 * A shard's image index: the uploads (imageUpload, mediaStorage, inline references) whose UUID
 * hashes to it, and, through `results_image`, the images of its own tasks. A reference by
 * imageUUID resolves to an R2 key here; another tenant's images are in another tenant's shards.
 */
import type { ImageFormat } from '../lib/image-type'
import { imageKey } from '../lib/storage-keys'
import { DELETED, packUUID, unpackUUID } from './shard-rows'

export function addUpload(sql: SqlStorage, imageUUID: string, objectKey: string, now: number): void {
  sql.exec('INSERT OR IGNORE INTO uploads (uuid, object_key, created_at) VALUES (?, ?, ?)', imageUUID.toLowerCase(), objectKey, now)
}

/** The forgotten upload's R2 key, or null when there is no such upload here. */
export function forgetUpload(sql: SqlStorage, imageUUID: string): string | null {
  const row = sql
    .exec<{ object_key: string }>('DELETE FROM uploads WHERE uuid = ? RETURNING object_key', imageUUID.toLowerCase())
    .toArray()[0]
  return row?.object_key ?? null
}

export function findImages(sql: SqlStorage, tenant: string, imageUUIDs: readonly string[]): Record<string, string> {
  const found: Record<string, string> = {}
  for (const uuid of new Set(imageUUIDs)) {
    const upload = sql.exec<{ object_key: string }>('SELECT object_key FROM uploads WHERE uuid = ?', uuid).toArray()[0]
    if (upload) found[uuid] = upload.object_key
    const result = sql
      .exec<{ uuid: ArrayBuffer; idx: number; format: string }>(
        'SELECT t.uuid, r.idx, t.format FROM results r JOIN tasks t ON t.id = r.task WHERE r.image = ? AND t.state != ?',
        packUUID(uuid.toLowerCase()),
        DELETED,
      )
      .toArray()[0]
    if (result) found[uuid] = imageKey(tenant, unpackUUID(result.uuid), result.idx, result.format as ImageFormat)
  }
  return found
}
