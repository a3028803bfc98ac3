/**
 * `npm run keys -- <command>`: manage API keys through the gateway's admin API.
 *
 *   create --name NAME [--tenant T] [--rate 5] [--max-concurrent N] [--budget 0.30] [--period day|month]
 *          [--models imagineart:1@5] [--expires 2027-01-01T00:00:00Z]
 *   list
 *   disable KEY_ID
 *   rotate KEY_ID
 *   usage TENANT [--from 2026-11-01] [--to 2026-11-30]
 *
 * --url picks the gateway (default http://localhost:8787). The admin token comes from
 * ADMIN_TOKEN, or, for a local `npm run dev`, from .wrangler/dev-secrets.json.
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
  },
})

function adminToken(): string {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN
  if (existsSync(DEV_SECRETS_FILE))
    return (JSON.parse(readFileSync(DEV_SECRETS_FILE, 'utf8')) as { ADMIN_TOKEN?: string }).ADMIN_TOKEN ?? ''
  return ''
}

const numberOf = (flag: string | undefined) => (flag === undefined ? undefined : Number(flag))

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
      return call('POST', '/admin/keys', {
        name: values.name,
        ...(values.tenant ? { tenant: values.tenant } : {}),
        ...(values.rate ? { rateLimitPerMinute: numberOf(values.rate) } : {}),
        ...(values['max-concurrent'] ? { maxConcurrentTasks: numberOf(values['max-concurrent']) } : {}),
        ...(values.budget ? { budgetUSD: numberOf(values.budget) } : {}),
        ...(values.period ? { budgetPeriod: values.period } : {}),
        ...(values.models ? { models: values.models.split(',') } : {}),
        ...(values.expires ? { expiresAt: values.expires } : {}),
      })
    case 'list':
      return call('GET', '/admin/keys')
    case 'disable':
    case 'rotate':
      if (!arg) throw new Error(`usage: npm run keys -- ${command} KEY_ID`)
      return call('POST', `/admin/keys/${encodeURIComponent(arg)}/${command}`)
    case 'usage': {
      if (!arg) throw new Error('usage: npm run keys -- usage TENANT [--from YYYY-MM-DD] [--to YYYY-MM-DD]')
      const query = new URLSearchParams({ ...(values.from ? { from: values.from } : {}), ...(values.to ? { to: values.to } : {}) })
      return call('GET', `/admin/tenants/${encodeURIComponent(arg)}/usage?${query}`)
    }
    default:
      throw new Error('usage: npm run keys -- create|list|disable|rotate|usage … (see scripts/keys.ts)')
  }
}

main().then(
  (data) => console.log(JSON.stringify(data, null, 2)),
  (error: unknown) => {
    console.error(`keys: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  },
)
