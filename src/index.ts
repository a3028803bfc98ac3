import { app } from './app'
import { scheduled } from './jobs/scheduled'

export default {
  fetch: app.fetch,
  scheduled,
} satisfies ExportedHandler<Env>
