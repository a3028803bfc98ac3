/** Acceptance: the admin CLI against a running gateway — create, use, rotate, disable. */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { TEST_SECRETS } from '../secrets.ts'
import { gateway, postV1 } from './helpers.ts'

const run = promisify(execFile)

async function keys(...args: string[]): Promise<Record<string, unknown> & { id: string; key: string; tenant: string }> {
  const { stdout } = await run('node_modules/.bin/tsx', ['scripts/keys.ts', ...args, '--url', gateway()], {
    env: { ...process.env, ADMIN_TOKEN: TEST_SECRETS.ADMIN_TOKEN },
  })
  return JSON.parse(stdout)
}

const ping = (key: string) => postV1([{ taskType: 'ping', ping: true }], key)

describe('npm run keys', () => {
  it('creates a key that works at once, rotates it, and disables it', async () => {
    const created = await keys('create', '--name', 'cli key', '--budget', '1.50', '--period', 'month', '--rate', '60')
    expect(created).toMatchObject({ name: 'cli key', budgetUSD: 1.5, rateLimitPerMinute: 60, disabled: false })
    expect((await ping(created.key)).status).toBe(200)

    const listed = (await keys('list')) as unknown as { id: string; key?: string }[]
    expect(listed.find((k) => k.id === created.id)).toBeDefined()
    expect(listed.every((k) => k.key === undefined)).toBe(true)

    const rotated = await keys('rotate', created.id)
    expect((await ping(created.key)).status).toBe(401)
    expect((await ping(rotated.key)).status).toBe(200)

    await keys('disable', created.id)
    expect((await ping(rotated.key)).status).toBe(401)

    const usage = await keys('usage', created.tenant)
    expect(usage).toMatchObject({ tenant: created.tenant, images: 0, costUSD: 0 })
  })

  it('fails clearly without the admin token', async () => {
    await expect(
      run('node_modules/.bin/tsx', ['scripts/keys.ts', 'list', '--url', gateway()], {
        env: { ...process.env, ADMIN_TOKEN: 'wrong-token' },
      }),
    ).rejects.toThrow(/answered 401/)
  })
})
