/** GET /v1/tasks (the tenant's tasks, newest first), and GET and DELETE /v1/tasks/{taskUUID}. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { deliveryPrefix, imagePrefix, variantPrefix } from '../lib/storage-keys'
import { validate } from '../schemas/issues'
import { taskListQuerySchema } from '../schemas/task-list'
import { requireTenant, services } from './middleware'

export const taskRoutes = new Hono<AppEnv>()
  .use('*', requireTenant)
  .get('/', async (c) => {
    const query = validate(taskListQuerySchema, c.req.query())
    const page = await services(c).view.list(c.get('tenant'), { limit: query.limit, status: query.status, before: query.cursor })
    return c.json(page)
  })
  .get('/:taskUUID', async (c) => {
    const task = await services(c).view.describe(c.get('tenant'), c.req.param('taskUUID'))
    return c.json({ data: task })
  })
  .get('/:taskUUID/deliveries', async (c) => {
    const { view, deliveryLog } = services(c)
    const { task } = await view.load(c.get('tenant'), c.req.param('taskUUID'))
    return c.json({ data: await deliveryLog.list(task.tenant, task.taskUUID) })
  })
  .delete('/:taskUUID', async (c) => {
    const { view, images, library, cache } = services(c)
    const taskUUID = c.req.param('taskUUID')
    await view.delete(c.get('tenant'), taskUUID, async (task) => {
      const [results, variants, , references] = await Promise.all([
        images.deletePrefix(imagePrefix(task.tenant, task.taskUUID)),
        images.deletePrefix(variantPrefix(imagePrefix(task.tenant, task.taskUUID))),
        images.deletePrefix(deliveryPrefix(task.tenant, task.taskUUID)),
        library.removeInlineReferences(task),
      ])
      await cache.purge([...results, ...variants, ...references])
    })
    return c.json({ data: { taskUUID, deleted: true } })
  })
