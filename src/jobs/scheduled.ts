/** Cron triggers. Each cron expression in wrangler.toml maps to one job here. */
import { readConfig, ConfigError } from '../services/config'
import { buildServices } from '../services/container'

/** Every minute: reconcile quiet tasks with Runware (wrangler.toml `[triggers]`). */
export const RECONCILE_CRON = '* * * * *'

export async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  const config = readConfig(env)
  if (config instanceof ConfigError) {
    console.error(JSON.stringify({ level: 'error', msg: 'cron skipped: bad configuration', problems: config.problems }))
    return
  }
  switch (controller.cron) {
    case RECONCILE_CRON: {
      // Tasks carry the origin their URLs were issued for, so the cron needs none of its own.
      const services = buildServices(env, config, { origin: config.PUBLIC_BASE_URL ?? '', waitUntil: (p) => ctx.waitUntil(p) })
      const report = await services.reconciler.run(controller.scheduledTime)
      console.log(JSON.stringify({ level: 'info', msg: 'reconciled', ...report }))
      return
    }
    default:
      throw new Error(`No job for cron "${controller.cron}"`)
  }
}
