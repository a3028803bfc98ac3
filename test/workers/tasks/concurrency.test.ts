/** Identical requests racing, and the circuit that stops hammering a dead upstream. */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { Circuit } from '../../../src/lib/circuit'
import { requireConfig } from '../../../src/config/config'
import { buildServices } from '../../../src/services'
import { firstDue, inference, sweepAll, postV1, setFault, upstreamRequests, taskRecord } from '../helpers'

describe('concurrent identical requests', () => {
  it.each(['sync', 'async'] as const)('cause exactly one upstream dispatch per result (%s)', async (deliveryMethod) => {
    const marker = `race-${crypto.randomUUID()}`
    await setFault({ match: marker, latencyMs: 300 })
    const body = inference({ positivePrompt: `a relay race ${marker}`, numberResults: 3, deliveryMethod })
    const answers = await Promise.all(Array.from({ length: 6 }, () => postV1([body])))
    for (const a of answers) expect(a.status).toBe(200)
    const sent = await upstreamRequests(marker)
    expect(sent).toHaveLength(1)
    expect(sent[0]?.body).toHaveLength(3)
    if (deliveryMethod === 'sync') {
      const imageSets = answers.map((a) =>
        (a.json.data ?? [])
          .map((i) => i.imageUUID)
          .sort()
          .join(),
      )
      expect(new Set(imageSets).size).toBe(1)
      expect(answers[0]?.json.data).toHaveLength(3)
    }
  })
})

describe('the same request again while the first is dispatching', () => {
  it('answers 503 with Retry-After, naming the task, when the first dispatch fails and lets go of it', async () => {
    const marker = `lost-${crypto.randomUUID()}`
    // Runware holds the first dispatch, then refuses it: the task is let go of while the second waits on it.
    await setFault({ match: marker, responseDelayMs: 1500, httpStatus: { code: 400, errorCode: 'invalidParameter' } })
    const body = inference({ positivePrompt: `a lost kite ${marker}`, deliveryMethod: 'sync' })
    const first = postV1([body])
    await new Promise((resolve) => setTimeout(resolve, 500))
    const second = await postV1([body])
    expect((await first).status).toBe(400)
    expect(second.status).toBe(503)
    expect(second.headers.get('retry-after')).toBe('1')
    expect(second.json.errors).toMatchObject([
      {
        code: 'serviceUnavailable',
        message: 'The image provider did not take this task; send it again',
        taskType: 'imageInference',
        taskUUID: body.taskUUID,
      },
    ])
  })
})

describe('task creation races', () => {
  it('creates a task once, and schedules its reconciliation once, when two requests start in the same millisecond', async () => {
    const s = buildServices(env, requireConfig(env), { origin: 'http://127.0.0.1:1', waitUntil: () => undefined })
    const taskUUID = crypto.randomUUID()
    // Created now, so its alarm lies ahead: a creation in the past would be due at once, and the
    // object's own alarm could sweep it before this test does.
    const record = taskRecord({ tenant: 'trace', taskUUID, createdAt: Date.now(), positivePrompt: 'a tie' })
    const outcomes = await Promise.all([s.tenants.open(record, 0, {}, firstDue(record)), s.tenants.open(record, 0, {}, firstDue(record))])
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['created', 'existing'])
    const due = await sweepAll('trace', record.createdAt + Number(env.RECONCILE_AFTER_SECONDS) * 1000)
    expect(due).toEqual([{ v: 1, tenant: 'trace', taskUUID }])
  })
})

// Last in this file: the circuit is per isolate and per upstream URL, so once open it would
// fail the tests after it (each test file runs in its own isolate).
describe('circuit breaker', () => {
  it('opens after consecutive failures, fails fast, then lets one probe through', () => {
    let now = 0
    const circuit = new Circuit({ threshold: 3, openMs: 1000, now: () => now })
    circuit.failure()
    circuit.failure()
    expect(circuit.blockedForMs()).toBe(0)
    circuit.failure()
    expect(circuit.blockedForMs()).toBe(1000)
    now = 400
    expect(circuit.blockedForMs()).toBe(600)
    now = 1000
    expect(circuit.blockedForMs()).toBe(0) // the probe
    expect(circuit.blockedForMs()).toBeGreaterThan(0) // others wait while it runs
    circuit.failure(5000) // the probe failed, and the upstream asked for 5 s
    expect(circuit.blockedForMs()).toBe(5000)
    now = 6000
    expect(circuit.blockedForMs()).toBe(0)
    circuit.success()
    expect(circuit.blockedForMs()).toBe(0)
  })

  it('stops calling an upstream that keeps failing and answers 503 with Retry-After at once', async () => {
    const marker = `down-${crypto.randomUUID()}`
    await setFault({ match: marker, httpStatus: { code: 503, retryAfterSeconds: 0 } })
    for (let i = 0; i < 2; i++) expect((await postV1([inference({ positivePrompt: `a dark tower ${marker}` })])).status).toBe(503)
    const attemptsBefore = (await upstreamRequests(marker)).length
    expect(attemptsBefore).toBe(8)
    const fast = await postV1([inference({ positivePrompt: `a dark tower ${marker}` })])
    expect(fast.status).toBe(503)
    expect(Number(fast.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await upstreamRequests(marker)).toHaveLength(attemptsBefore)
  })
})
