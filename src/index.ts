import { app } from './app'
import { queue } from './jobs/queue'

export { SocketSession } from './sockets/socket-session'
export { TenantLedger } from './tenant/tenant-ledger'

export default {
  fetch: app.fetch,
  queue,
} satisfies ExportedHandler<Env>
