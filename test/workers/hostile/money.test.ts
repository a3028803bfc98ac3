/** A key cannot spend past its budget by deleting the tasks that hold its reservations. */
import { describe, expect, it } from 'vitest'
import { TEST_SECRETS } from '../../secrets'
import { call, inference, postV1, setFault, upstreamRequests } from '../helpers'

const admin = (path: string, body: unknown) =>
  call(`/admin${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

describe('unfinished tasks keep their money', () => {
  it('with a $0.09 budget, 6 rounds of create-then-DELETE generate at most 3 images upstream', async () => {
    const created = await admin('/keys', { name: 'hostile-budget', budgetUSD: 0.09 })
    expect(created.status).toBe(201)
    const { key } = ((await created.json()) as { data: { key: string } }).data
    const marker = `escape-${crypto.randomUUID()}`
    // Slow enough that every DELETE lands while its task is still running.
    await setFault({ match: marker, latencyMs: 5_000 })
    const statuses: number[] = []
    for (let round = 0; round < 6; round++) {
      const body = inference({ positivePrompt: `a vault ${marker} ${round}`, deliveryMethod: 'async' })
      const res = await postV1([body], key)
      statuses.push(res.status)
      if (res.status !== 200) continue
      const deleted = await call(`/v1/tasks/${body.taskUUID}`, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } })
      expect(deleted.status).toBe(409)
      const error = ((await deleted.json()) as { errors: { code: string; parameter: string }[] }).errors[0]
      expect(error).toMatchObject({ code: 'taskInProgress', parameter: 'taskUUID' })
      expect(Number(deleted.headers.get('retry-after'))).toBeGreaterThan(0)
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(3)
    expect(statuses.filter((s) => s === 402)).toHaveLength(3)
    const generated = (await upstreamRequests(marker)).flatMap((r) => r.body).filter((t) => t.taskType === 'imageInference')
    expect(generated.length).toBeLessThanOrEqual(3)
  })
})
