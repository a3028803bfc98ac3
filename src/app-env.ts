/** The Hono environment shared by every route. */
import type { Principal } from './schemas/api-keys'
import type { Services } from './services'

export interface AppEnv {
  Bindings: Env
  Variables: {
    /** Built on first use by `services(c)` (routes/middleware). */
    services?: Services
    tenant: string
    principal: Principal
  }
}
