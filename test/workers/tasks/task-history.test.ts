/** GET /v1/tasks: the tenant's tasks, newest first, over every shard, with a cursor stable while tasks arrive. */
import { describe, expect, it } from 'vitest'
import { KEY_A, KEY_B, TEST_SECRETS } from '../../secrets'
import { call, inference, postV1, setFault, shardOf, taskRecord } from '../helpers'

type Page = { data?: Record<string, unknown>[]; nextCursor?: string | null; errors?: Record<string, unknown>[] }

async function list(query: string, key = KEY_A): Promise<{ status: number; body: Page }> {
  const res = await call(`/v1/tasks${query}`, { headers: { authorization: `Bearer ${key}` } })
  return { status: res.status, body: (await res.json()) as Page }
}

/** Creates a finished task, a few milliseconds after the last, so "newest" is unambiguous. */
async function created(overrides: Record<string, unknown> = {}, expected = 200): Promise<string> {
  await new Promise((r) => setTimeout(r, 5))
  const task = inference(overrides)
  const { status } = await postV1([task])
  expect(status).toBe(expected)
  return task.taskUUID
}

const uuids = (page: Page) => (page.data ?? []).map((t) => t.taskUUID)

describe('GET /v1/tasks', () => {
  it('pages newest first with a cursor that a task created in between does not disturb, across shards', async () => {
    const made: string[] = []
    for (let i = 0; i < 7; i += 1) made.push(await created())
    const newestFirst = [...made].reverse()

    const first = await list('?limit=2')
    expect(first.status).toBe(200)
    expect(uuids(first.body)).toEqual(newestFirst.slice(0, 2))
    // Each item is the task's resource view, with a freshly signed URL.
    const item = first.body.data?.[0] as { status: string; results: { imageURL: string }[] }
    expect(item.status).toBe('succeeded')
    expect(item.results[0]?.imageURL).toMatch(/\/files\/images\/.+\?exp=\d+&sig=/)

    const between = await created()
    const seen = [...uuids(first.body)]
    let cursor = first.body.nextCursor
    while (cursor) {
      const page = await list(`?limit=2&cursor=${encodeURIComponent(cursor)}`)
      expect(page.status).toBe(200)
      seen.push(...uuids(page.body))
      cursor = page.body.nextCursor
    }
    expect(seen).toEqual(newestFirst)
    expect(seen).not.toContain(between)
    // A fresh first page starts with it.
    expect(uuids((await list('?limit=1')).body)).toEqual([between])
  })

  it('defaults to 20, and gives no cursor after the last page', async () => {
    // A tenant of its own with 25 tasks, opened straight in their shards (no generation needed).
    const res = await call('/admin/keys', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'history default' }),
    })
    const { key, tenant } = ((await res.json()) as { data: { key: string; tenant: string } }).data
    for (let i = 0; i < 25; i += 1) {
      const task = taskRecord({ tenant, createdAt: Date.now() - i })
      await shardOf(tenant, task.taskUUID).open(task, 0, {}, Date.now() + 3_600_000)
    }
    const { body } = await list('', key)
    expect(body.data).toHaveLength(20)
    expect(body.nextCursor).toEqual(expect.any(String))
    const all = await list('?limit=100', key)
    expect(all.body.data).toHaveLength(25)
    expect(all.body.nextCursor).toBeNull()
  })

  it('filters by status', async () => {
    const marker = `history-${crypto.randomUUID()}`
    await setFault({ match: marker, failGenerationRate: 1 })
    // A sync task whose every result failed answers 502, as Runware does.
    const failed = await created({ positivePrompt: `a broken lamp ${marker}` }, 502)
    const succeeded = await created()
    const failedPage = await list('?status=failed&limit=100')
    expect(uuids(failedPage.body)).toContain(failed)
    expect(uuids(failedPage.body)).not.toContain(succeeded)
    expect(failedPage.body.data?.every((t) => t.status === 'failed')).toBe(true)
    const succeededPage = await list('?status=succeeded&limit=100')
    expect(uuids(succeededPage.body)).toContain(succeeded)
    expect(uuids(succeededPage.body)).not.toContain(failed)
    // Async, and Runware's webhooks cannot reach this gateway: it stays processing for now.
    const running = inference({ deliveryMethod: 'async' })
    expect((await postV1([running])).status).toBe(200)
    const processing = await list('?status=processing&limit=100')
    expect(uuids(processing.body)).toEqual([running.taskUUID])
    expect(uuids((await list('?status=succeeded&limit=100')).body)).not.toContain(running.taskUUID)
  })

  it('leaves deleted tasks out, and shows another tenant none of them', async () => {
    const deleted = await created()
    const res = await call(`/v1/tasks/${deleted}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY_A}` } })
    expect(res.status).toBe(200)
    expect(uuids((await list('?limit=100')).body)).not.toContain(deleted)
    const mine = uuids((await list('?limit=100')).body)
    expect(mine.length).toBeGreaterThan(0)
    const theirs = await list('?limit=100', KEY_B)
    expect(theirs.status).toBe(200)
    expect(uuids(theirs.body).filter((u) => mine.includes(u))).toEqual([])
  })

  it('refuses bad parameters by name, and callers without a key', async () => {
    for (const [query, parameter] of [
      ['?limit=0', 'limit'],
      ['?limit=101', 'limit'],
      ['?limit=abc', 'limit'],
      ['?limit=2.5', 'limit'],
      ['?cursor=garbage', 'cursor'],
      ['?cursor=1_not-a-uuid', 'cursor'],
      ['?status=done', 'status'],
      ['?offset=3', 'offset'],
    ]) {
      const { status, body } = await list(query as string)
      expect(status, query).toBe(400)
      expect(body.errors?.[0]?.parameter, query).toBe(parameter)
    }
    const anonymous = await call('/v1/tasks')
    expect(anonymous.status).toBe(401)
  })
})
