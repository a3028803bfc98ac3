/** Every upstream failure of runware-api.md maps to a clear client error, and retries are bounded. */
import { describe, expect, it } from 'vitest'
import { KEY_A, TEST_SECRETS } from '../../secrets'
import { RunwareClient } from '../../../src/upstream/runware-client'
import { call, emulatorUrl, inference, postV1, setFault, upstreamRequests } from '../helpers'

/** A task whose prompt carries a fresh marker, so a fault rule hits only this test. */
async function withFault(rule: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  const marker = `fault-${crypto.randomUUID()}`
  await setFault({ match: marker, ...rule })
  const body = inference({ positivePrompt: `a lantern ${marker}`, ...overrides })
  const res = await postV1([body])
  return { res, body, attempts: () => upstreamRequests(marker) }
}

describe('upstream failures', () => {
  it('passes a Runware 400 through with its code, parameter and documentation, for the client’s taskUUID', async () => {
    const { res, body, attempts } = await withFault({ httpStatus: { code: 400, errorCode: 'invalidParameter' } })
    expect(res.status).toBe(400)
    expect(res.json.errors?.[0]).toMatchObject({
      code: 'invalidParameter',
      parameter: 'positivePrompt',
      taskType: 'imageInference',
      taskUUID: body.taskUUID,
      documentation: 'https://runware.ai/docs/image-inference/api-reference',
    })
    expect(await attempts()).toHaveLength(1)
  })

  it('answers 402 insufficientCredits when the operator’s Runware balance is empty', async () => {
    const { res } = await withFault({ httpStatus: { code: 402 } })
    expect(res.status).toBe(402)
    expect(res.json.errors?.[0]?.code).toBe('insufficientCredits')
  })

  it.each([401, 403])('reports a Runware %i as a gateway configuration problem, never leaking the key', async (code) => {
    const { res, attempts } = await withFault({ httpStatus: { code } })
    expect(res.status).toBe(502)
    expect(res.json.errors?.[0]?.code).toBe('upstreamAuthenticationFailed')
    expect(JSON.stringify(res.json)).not.toContain(TEST_SECRETS.RUNWARE_API_KEY)
    expect(await attempts()).toHaveLength(1)
  })

  it('retries a 429 honouring Retry-After, re-sending the same taskUUIDs, then answers 503 with Retry-After', async () => {
    const { res, attempts } = await withFault({ httpStatus: { code: 429, retryAfterSeconds: 1 } })
    expect(res.status).toBe(503)
    expect(res.json.errors?.[0]?.code).toBe('serviceUnavailable')
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    const sent = await attempts()
    expect(sent).toHaveLength(4)
    const times = sent.map((r) => new Date(r.at).getTime())
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(950)
    const uuids = sent.map((r) => r.body.map((t) => t.taskUUID).join())
    expect(new Set(uuids).size).toBe(1)
  })

  // 504: Runware's "maximum queue wait exceeded", retryable like 503.
  it.each([503, 504])('retries %i with growing delays and succeeds once the upstream recovers', async (code) => {
    const { res, attempts } = await withFault({ httpStatus: { code, times: 2 } })
    expect(res.status).toBe(200)
    expect(res.json.data?.[0]?.imageURL).toBeTruthy()
    const sent = await attempts()
    expect(sent.length).toBe(3)
    const times = sent.map((r) => new Date(r.at).getTime())
    expect(times[2]! - times[1]!).toBeGreaterThan(times[1]! - times[0]!)
  })

  it('a re-send after a 503 dispatches again with the same child taskUUIDs', async () => {
    const marker = `resend-${crypto.randomUUID()}`
    await setFault({ match: marker, httpStatus: { code: 500, times: 4 } })
    const body = inference({ positivePrompt: `a bell ${marker}`, numberResults: 2 })
    const first = await postV1([body])
    expect(first.status).toBe(503)
    const second = await postV1([body])
    expect(second.status).toBe(200)
    expect(second.json.data).toHaveLength(2)
    const sent = await upstreamRequests(marker)
    expect(sent).toHaveLength(5)
    expect(new Set(sent.map((r) => r.body.map((t) => t.taskUUID).join())).size).toBe(1)
  })
})

describe('failed generations', () => {
  it('reports each failed result as an error beside the successes, and fails a task whose results all failed', async () => {
    const { res, body } = await withFault({ failGenerationRate: 1 }, { numberResults: 2 })
    expect(res.status).toBe(502)
    expect(res.json.data).toBeUndefined()
    expect(res.json.errors).toHaveLength(2)
    for (const e of res.json.errors!)
      expect(e).toMatchObject({ code: 'internalServerError', taskType: 'imageInference', taskUUID: body.taskUUID })
    const task = await call(`/v1/tasks/${body.taskUUID}`, { headers: { authorization: `Bearer ${KEY_A}` } })
    const data = ((await task.json()) as { data: { status: string; results: { status: string }[] } }).data
    expect(data.status).toBe('failed')
    expect(data.results.map((r) => r.status)).toEqual(['failed', 'failed'])
  })
})

describe('per-attempt timeout', () => {
  it('gives up on a hanging attempt, re-sends the same taskUUIDs, and the late arrival is only a conflict', async () => {
    const marker = `hang-${crypto.randomUUID()}`
    await setFault({ match: marker, responseDelayMs: 1500, responseDelayTimes: 1 })
    const child = {
      taskType: 'imageInference',
      taskUUID: crypto.randomUUID(),
      model: 'imagineart:1@5',
      positivePrompt: `a stalled lift ${marker}`,
      deliveryMethod: 'async',
    }
    const client = new RunwareClient({ url: `${emulatorUrl()}/v1`, apiKey: TEST_SECRETS.RUNWARE_API_KEY })
    const result = await client.send([child], { budgetMs: 10_000, attemptTimeoutMs: 400 })
    expect(result.kind).toBe('ok')
    await new Promise((r) => setTimeout(r, 1500)) // the held first attempt lands now
    const sent = await upstreamRequests(marker)
    expect(sent.map((r) => r.body[0]?.taskUUID)).toEqual([child.taskUUID, child.taskUUID])
    const stats = (await (await fetch(`${emulatorUrl()}/__emulator/stats`)).json()) as { generations: Record<string, number> }
    expect(stats.generations[child.taskUUID]).toBe(1)
  })

  // A sync generation may hold its connection until its images are done: slow is normal there.
  it('takes a slow sync attempt as dispatched: no retry, and the circuit stays closed for everyone', async () => {
    const marker = `slow-${crypto.randomUUID()}`
    await setFault({ match: marker, responseDelayMs: 1500 })
    const child = (n: number) => ({
      taskType: 'imageInference',
      taskUUID: crypto.randomUUID(),
      model: 'imagineart:1@5',
      positivePrompt: `a slow sunrise ${marker} ${n}`,
    })
    // Its own URL, so its own circuit (one per upstream URL and isolate).
    const client = new RunwareClient({ url: `${emulatorUrl()}/v1?circuit=${marker}`, apiKey: TEST_SECRETS.RUNWARE_API_KEY })
    for (let i = 0; i < 10; i++) {
      const result = await client.send([child(i)], { budgetMs: 10_000, attemptTimeoutMs: 200, slowIsNormal: true })
      expect(result.kind).toBe('timeout')
    }
    // Ten slow attempts, each sent once, and the eleventh still goes upstream (an open circuit would refuse it at once).
    expect((await upstreamRequests(marker)).length).toBe(10)
    const after = await client.send([{ taskType: 'ping', ping: true }], { budgetMs: 5_000 })
    expect(after.kind).toBe('ok')
  })
})
