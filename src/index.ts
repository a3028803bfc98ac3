import { app } from './app'
import { queue } from './jobs/queue'

export { SocketSession } from './objects/socket-session'
export { TenantLedger } from './objects/tenant-ledger'

export default {
  fetch: app.fetch,
  queue,
} satisfies ExportedHandler<Env>
