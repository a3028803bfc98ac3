/** Local development secrets: made once, kept in .wrangler/ (git-ignored), reused on every start. */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { StackSecrets } from './stack.ts'

export const DEV_SECRETS_FILE = '.wrangler/dev-secrets.json'

export function devSecrets(): StackSecrets & { DEV_API_KEY: string } {
  if (existsSync(DEV_SECRETS_FILE)) return JSON.parse(readFileSync(DEV_SECRETS_FILE, 'utf8'))
  const devKey = `ie_dev_${randomBytes(16).toString('hex')}`
  const secrets = {
    DEV_API_KEY: devKey,
    API_KEYS: devKey,
    SIGNING_SECRET: randomBytes(32).toString('base64url'),
    RUNWARE_API_KEY: `emulator_${randomBytes(12).toString('hex')}`,
  }
  mkdirSync(dirname(DEV_SECRETS_FILE), { recursive: true })
  writeFileSync(DEV_SECRETS_FILE, JSON.stringify(secrets, null, 2), { mode: 0o600 })
  return secrets
}

/** Where `npm run dev` listens, unless PORT / EMULATOR_PORT say otherwise. */
export const DEV_PORT = Number(process.env.PORT ?? 8787)
export const DEV_EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 8788)
