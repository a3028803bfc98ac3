import { app } from './app'
import { queue } from './jobs/queue'

export { SocketSession } from './sockets/socket-session'
export { TaskShard } from './tenant/task-shard'
export { TenantAccount } from './tenant/tenant-account'

export default {
  fetch: app.fetch,
  queue,
} satisfies ExportedHandler<Env>
