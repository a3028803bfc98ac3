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
    /** The request's W3C traceparent: the client's, or a fresh one (routes/observability). */
    traceparent: string
  }
}
