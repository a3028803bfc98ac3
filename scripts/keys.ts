/**
 * `npm run keys -- <command>`: manage API keys and tenant budgets through the gateway's admin API.
 *
 *   create --name NAME [--tenant T] [--rate 5] [--max-concurrent N] [--budget 0.30] [--period day|month]
 *          [--models imagineart:1@5] [--expires 2027-01-01T00:00:00Z] [--alerts-url URL --alerts 0.5,0.8,1]
 *   update KEY_ID  any of create's limits, and --name; a limit given as `none` is removed
 *   list
 *   disable KEY_ID
 *   rotate KEY_ID
 *   budget TENANT --budget 25 --period day|month [--alerts-url URL --alerts 0.5,1]
 *          (a tenant's own budget, replaced whole: give its alerts again to keep them)
 *   budget TENANT --remove
 *   usage TENANT [--from 2026-11-01] [--to 2026-11-30]
 *   storage TENANT
 *
 * --url picks the gateway (default http://localhost:8787). The admin token comes from
 * ADMIN_TOKEN, or, for a local `npm run dev`, from .wrangler/dev-secrets.json. What the gateway
 * refuses is printed as it says it, naming the parameter.
 */
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { DEV_SECRETS_FILE } from './dev-secrets.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env.IMAGINE_EDGE_URL ?? 'http://localhost:8787' },
    name: { type: 'string' },
    tenant: { type: 'string' },
    rate: { type: 'string' },
    'max-concurrent': { type: 'string' },
    budget: { type: 'string' },
    period: { type: 'string' },
    models: { type: 'string' },
    expires: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'alerts-url': { type: 'string' },
    alerts: { type: 'string' },
    remove: { type: 'boolean', default: false },
  },
})

function adminToken(): string {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN
  if (existsSync(DEV_SECRETS_FILE))
    return (JSON.parse(readFileSync(DEV_SECRETS_FILE, 'utf8')) as { ADMIN_TOKEN?: string }).ADMIN_TOKEN ?? ''
  return ''
}

/**
 * The limits the flags name, as the admin API takes them: a number where it wants one (the API
 * names whatever is not), and `none` as null, which PATCH takes as "remove this limit".
 */
function limits(): Record<string, unknown> {
  // Never NaN: JSON would send it as null, which PATCH reads as "remove the limit".
  const num = (text: string) => (/^\d+(\.\d+)?$/.test(text) ? Number(text) : text)
  const field = <T>(flag: string | undefined, parse: (text: string) => T) =>
    flag === undefined ? undefined : flag === 'none' ? null : parse(flag)
  if (values.alerts === 'none' && values['alerts-url']) throw new Error('--alerts none removes the alerts: give no --alerts-url with it')
  const alerts =
    values.alerts === 'none'
      ? null
      : values.alerts === undefined && values['alerts-url'] === undefined
        ? undefined
        : { webhookURL: values['alerts-url'], thresholds: values.alerts?.split(',').map(num) }
  const fields = {
    rateLimitPerMinute: field(values.rate, num),
    maxConcurrentTasks: field(values['max-concurrent'], num),
    budgetUSD: field(values.budget, num),
    budgetPeriod: values.period,
    models: field(values.models, (text) => text.split(',')),
    expiresAt: field(values.expires, String),
    alerts,
  }
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))
}

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const token = adminToken()
  if (!token) throw new Error('no admin token: set ADMIN_TOKEN (or run `npm run dev` once for a local one)')
  const res = await fetch(`${values.url.replace(/\/+$/, '')}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const json = (await res.json().catch(() => ({}))) as { data?: unknown; errors?: unknown }
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json.errors ?? json)}`)
  return json.data
}

async function main(): Promise<unknown> {
  const [command, arg] = positionals
  switch (command) {
    case 'create':
      return call('POST', '/admin/keys', { name: values.name, ...(values.tenant ? { tenant: values.tenant } : {}), ...limits() })
    case 'update':
      if (!arg) throw new Error('usage: npm run keys -- update KEY_ID [--name N] [--rate N|none] [--budget USD|none] …')
      return call('PATCH', `/admin/keys/${encodeURIComponent(arg)}`, {
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...limits(),
      })
    case 'list':
      return call('GET', '/admin/keys')
    case 'disable':
    case 'rotate':
      if (!arg) throw new Error(`usage: npm run keys -- ${command} KEY_ID`)
      return call('POST', `/admin/keys/${encodeURIComponent(arg)}/${command}`)
    case 'budget': {
      if (!arg || (!values.remove && !values.period))
        throw new Error('usage: npm run keys -- budget TENANT --budget USD --period day|month [--alerts-url URL --alerts 0.5,1] | --remove')
      const path = `/admin/tenants/${encodeURIComponent(arg)}/budget`
      return values.remove ? call('DELETE', path) : call('PUT', path, limits())
    }
    case 'storage':
      if (!arg) throw new Error('usage: npm run keys -- storage TENANT')
      return call('GET', `/admin/tenants/${encodeURIComponent(arg)}/storage`)
    case 'usage': {
      if (!arg) throw new Error('usage: npm run keys -- usage TENANT [--from YYYY-MM-DD] [--to YYYY-MM-DD]')
      const query = new URLSearchParams({ ...(values.from ? { from: values.from } : {}), ...(values.to ? { to: values.to } : {}) })
      return call('GET', `/admin/tenants/${encodeURIComponent(arg)}/usage?${query}`)
    }
    default:
      throw new Error('usage: npm run keys -- create|update|list|disable|rotate|budget|usage|storage … (see scripts/keys.ts)')
  }
}

main().then(
  (data) => console.log(JSON.stringify(data, null, 2)),
  (error: unknown) => {
    console.error(`keys: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  },
)
