import { app } from './app'
import { queue } from './jobs/queue'
import { scheduled } from './jobs/scheduled'

export { TenantLedger } from './objects/tenant-ledger'

export default {
  fetch: app.fetch,
  queue,
  scheduled,
} satisfies ExportedHandler<Env>
