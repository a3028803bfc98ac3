/** PUT /uploads/{key}?exp&sig — worker-mode uploads from Runware into R2, each object once. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import { parseImageKey } from '../lib/storage-keys'
import { findModel } from '../models/registry'
import { services } from './middleware'

export const uploadRoutes = new Hono<AppEnv>().put('/*', async (c) => {
  const { signer, tasks, images } = services(c)
  const { key } = await signer.signedKey('uploads', new URL(c.req.url))

  const parts = parseImageKey(key)
  const task = parts ? (await tasks.load(parts.tenant, parts.taskUUID))?.task : null
  if (!task || task.deleted) throw new ApiError(404, { code: 'taskNotFound', message: 'No task for this upload' })
  const length = c.req.header('content-length')
  // Stryker disable next-line OptionalChaining: a task is only ever opened for a registered model; an unknown one would take nothing
  const maxBytes = findModel(task.model)?.maxImageBytes ?? 0
  // The key names the task's output format, and the recorder serves it under that name: no other format is taken.
  const outcome = await images.put(key, c.req.raw.body, length === undefined ? null : Number(length), maxBytes, task.outputFormat)
  // Written once: an image already there (an earlier upload, or the gateway's own copy) stays, and a late upload is not an error.
  return outcome === 'stored' ? c.json({ stored: true }, 201) : c.json({ stored: false, reason: 'exists' }, 200)
})
