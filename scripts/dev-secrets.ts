/** Local development secrets: made once, kept in .wrangler/ (git-ignored), reused on every start. */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { StackSecrets } from './stack.ts'

export const DEV_SECRETS_FILE = '.wrangler/dev-secrets.json'

export type DevSecrets = Required<StackSecrets> & { DEV_API_KEY: string }

export function devSecrets(): DevSecrets {
  const saved: Partial<DevSecrets> = existsSync(DEV_SECRETS_FILE) ? JSON.parse(readFileSync(DEV_SECRETS_FILE, 'utf8')) : {}
  const devKey = saved.DEV_API_KEY ?? `ie_dev_${randomBytes(16).toString('hex')}`
  // Fills in whatever an older file lacks, keeping what it has.
  const secrets: DevSecrets = {
    DEV_API_KEY: devKey,
    API_KEYS: saved.API_KEYS ?? devKey,
    SIGNING_SECRET: saved.SIGNING_SECRET ?? randomBytes(32).toString('base64url'),
    RUNWARE_API_KEY: saved.RUNWARE_API_KEY ?? `emulator_${randomBytes(12).toString('hex')}`,
    ADMIN_TOKEN: saved.ADMIN_TOKEN ?? `admin_${randomBytes(16).toString('hex')}`,
  }
  mkdirSync(dirname(DEV_SECRETS_FILE), { recursive: true })
  writeFileSync(DEV_SECRETS_FILE, JSON.stringify(secrets, null, 2), { mode: 0o600 })
  return secrets
}

/** Where `npm run dev` listens, unless PORT / EMULATOR_PORT say otherwise. */
export const DEV_PORT = Number(process.env.PORT ?? 8787)
export const DEV_EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 8788)
