/** GET and DELETE /v1/tasks/{taskUUID} — the resource view of a task. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { deliveryPrefix, imagePrefix } from '../lib/storage-keys'
import { requireTenant } from './middleware'

export const taskRoutes = new Hono<AppEnv>()
  .use('*', requireTenant)
  .get('/:taskUUID', async (c) => {
    const task = await c.var.services.view.describe(c.var.tenant, c.req.param('taskUUID'))
    return c.json({ data: task })
  })
  .get('/:taskUUID/deliveries', async (c) => {
    const { view, deliveryLog } = c.var.services
    const { task } = await view.load(c.var.tenant, c.req.param('taskUUID'))
    return c.json({ data: await deliveryLog.list(task.tenant, task.taskUUID) })
  })
  .delete('/:taskUUID', async (c) => {
    const { view, images, cache } = c.var.services
    const taskUUID = c.req.param('taskUUID')
    await view.delete(c.var.tenant, taskUUID, async (task) => {
      const [deleted] = await Promise.all([
        images.deletePrefix(imagePrefix(task.tenant, task.taskUUID)),
        images.deletePrefix(deliveryPrefix(task.tenant, task.taskUUID)),
      ])
      await cache.purge(deleted)
    })
    return c.json({ data: { taskUUID: taskUUID.toLowerCase(), deleted: true } })
  })
