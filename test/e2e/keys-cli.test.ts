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

  it("changes a key's limits and a tenant's budget, removes them with none or --remove, and reports storage", async () => {
    const alerts = ['--alerts-url', 'https://hooks.example/alerts', '--alerts', '0.5,1']
    const created = await keys('create', '--name', 'cli limits', '--budget', '2', '--rate', '60', ...alerts)
    expect(created).toMatchObject({ budgetUSD: 2, alerts: { webhookURL: 'https://hooks.example/alerts', thresholds: [0.5, 1] } })

    const updated = await keys('update', created.id, '--name', 'renamed', '--rate', '30', '--budget', 'none', '--alerts', 'none')
    expect(updated).toMatchObject({ id: created.id, name: 'renamed', rateLimitPerMinute: 30 })
    expect(updated).not.toHaveProperty('budgetUSD')
    expect(updated).not.toHaveProperty('alerts')
    // A word where a number goes is the gateway's to refuse, naming it: never sent as null, which would remove the limit.
    await expect(keys('update', created.id, '--rate', 'fast')).rejects.toThrow(/answered 400.*rateLimitPerMinute/)
    const listed = (await keys('list')) as unknown as { id: string; rateLimitPerMinute?: number }[]
    expect(listed.find((k) => k.id === created.id)?.rateLimitPerMinute).toBe(30)

    // The tenant's own budget: one image's price, so the first image fits and the second is refused.
    expect(await keys('budget', created.tenant, '--budget', '0.03', '--period', 'day')).toEqual({
      tenant: created.tenant,
      budgetUSD: 0.03,
      budgetPeriod: 'day',
    })
    const task = (prompt: string) => [
      {
        taskType: 'imageInference',
        taskUUID: crypto.randomUUID(),
        model: 'imagineart:1@5',
        positivePrompt: prompt,
        width: 2048,
        height: 2048,
      },
    ]
    expect((await postV1(task('the first under budget'), created.key)).status).toBe(200)
    const refused = await postV1(task('the second over budget'), created.key)
    expect(refused.json.errors?.[0]).toMatchObject({ code: 'insufficientCredits' })
    expect(await keys('budget', created.tenant, '--remove')).toEqual({ tenant: created.tenant, deleted: true })
    expect((await postV1(task('the third, with no budget'), created.key)).status).toBe(200)

    const storage = await keys('storage', created.tenant)
    expect(storage).toMatchObject({ tenant: created.tenant, images: 2 })
  })

  it('fails clearly without the admin token', async () => {
    await expect(
      run('node_modules/.bin/tsx', ['scripts/keys.ts', 'list', '--url', gateway()], {
        env: { ...process.env, ADMIN_TOKEN: 'wrong-token' },
      }),
    ).rejects.toThrow(/answered 401/)
  })
})
