/** GET and DELETE /v1/tasks/{taskUUID} — the resource view of a task. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { imagePrefix } from '../lib/storage-keys'
import { requireTenant } from './middleware'

export const taskRoutes = new Hono<AppEnv>()
  .use('*', requireTenant)
  .get('/:taskUUID', async (c) => {
    const task = await c.var.services.view.describe(c.var.tenant, c.req.param('taskUUID'))
    return c.json({ data: task })
  })
  .delete('/:taskUUID', async (c) => {
    const { view, images, cache } = c.var.services
    const taskUUID = c.req.param('taskUUID')
    await view.delete(c.var.tenant, taskUUID, async (task) =>
      cache.purge(await images.deletePrefix(imagePrefix(task.tenant, task.taskUUID))),
    )
    return c.json({ data: { taskUUID: taskUUID.toLowerCase(), deleted: true } })
  })
