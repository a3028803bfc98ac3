/**
 * The Runware emulator, tested over real HTTP: a receiver server stands in for the
 * gateway's upload and webhook endpoints.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../emulator/server.ts'

const API_KEY = 'test-key-123'
const MODEL = 'imagineart:1@5'

interface Received {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
  at: number
}

/** Records every request; paths containing `/fail-once/` answer 500 the first time. */
function startReceiver(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = []
  const failed = new Set<string>()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = req.url ?? '/'
      received.push({ method: req.method ?? '', path, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() })
      const failNow = path.includes('/fail-once/') && !failed.has(path)
      if (failNow) failed.add(path)
      res.writeHead(failNow ? 500 : 200).end()
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        received,
        close: () => new Promise<void>((done) => server.close(() => done())),
      })
    })
  })
}

let emu: Emulator
let receiver: Awaited<ReturnType<typeof startReceiver>>

beforeAll(async () => {
  emu = await startEmulator({ port: 0, apiKey: API_KEY, quiet: true })
  receiver = await startReceiver()
})
afterAll(async () => {
  await emu.close()
  await receiver.close()
})
afterEach(() => emu.clearFaults())

interface Envelope {
  data?: Record<string, unknown>[]
  errors?: Record<string, unknown>[]
}

async function post(body: unknown, key: string | null = API_KEY): Promise<{ status: number; headers: Headers; json: Envelope }> {
  const res = await fetch(`${emu.url}/v1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  })
  return { status: res.status, headers: res.headers, json: (await res.json()) as Envelope }
}

const task = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  taskType: 'imageInference',
  taskUUID: randomUUID(),
  model: MODEL,
  positivePrompt: 'a lighthouse at dusk',
  ...extra,
})

/** Polls the receiver until `count` requests on paths starting with `prefix` have arrived. */
async function waitForRequests(prefix: string, count: number, timeoutMs = 4000): Promise<Received[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const hits = receiver.received.filter((r) => r.path.startsWith(prefix))
    if (hits.length >= count) return hits
    if (Date.now() > deadline) throw new Error(`expected ${count} requests on ${prefix}, got ${hits.length}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('imageInference, sync', () => {
  it('returns one item per result with the documented shape and a servable imageURL', async () => {
    const t = task({ width: 2560, height: 1440, seed: 42, numberResults: 2 })
    const { status, json } = await post([t])
    expect(status).toBe(200)
    expect(json.errors).toBeUndefined()
    expect(json.data).toHaveLength(2)
    // Items may arrive in any order, as with Runware.
    const [first, second] = [...(json.data ?? [])].sort((a, b) => Number(a.seed) - Number(b.seed))
    expect(first).toEqual({
      taskType: 'imageInference',
      taskUUID: t.taskUUID,
      imageUUID: expect.stringMatching(/^[0-9a-f-]{36}$/),
      imageURL: expect.stringMatching(/\/images\/[0-9a-f-]{36}\.jpg$/),
      seed: 42,
    })
    expect(second?.seed).toBe(43)
    expect(second?.imageUUID).not.toBe(first?.imageUUID)

    const image = await fetch(String(first?.imageURL))
    expect(image.headers.get('content-type')).toBe('image/jpeg')
    const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 2560, 1440])
  })

  it('adds cost only with includeCost, and NSFWContent only when a safety check ran', async () => {
    const plain = await post([task()])
    expect(plain.json.data?.[0]).not.toHaveProperty('cost')
    expect(plain.json.data?.[0]).not.toHaveProperty('NSFWContent')
    emu.setFaults({ match: 'clean', nsfwRate: 0 })
    const costed = await post([task({ positivePrompt: 'a clean room', includeCost: true, safety: { checkContent: true, mode: 'fast' } })])
    expect(costed.json.data?.[0]).toMatchObject({ cost: 0.03, NSFWContent: false })
    emu.setFaults({ match: 'flagged', nsfwRate: 1 })
    const flagged = await post([task({ positivePrompt: 'a flagged room', safety: { checkContent: true, mode: 'fast' } })])
    expect(flagged.json.data?.[0]).toMatchObject({ NSFWContent: true })
  })

  it('returns base64Data and dataURI outputs', async () => {
    const { json } = await post([
      task({ outputType: 'base64Data', outputFormat: 'PNG' }),
      task({ outputType: 'dataURI', outputFormat: 'WEBP' }),
    ])
    const [b64, uri] = json.data ?? []
    expect((await sharp(Buffer.from(String(b64?.imageBase64Data), 'base64')).metadata()).format).toBe('png')
    expect(String(uri?.imageDataURI)).toMatch(/^data:image\/webp;base64,/)
    expect(b64).not.toHaveProperty('imageURL')
  })
})

describe('uploadEndpoint', () => {
  it.each([
    ['JPG', 'jpeg', 2048, 2048],
    ['PNG', 'png', 2472, 824],
    ['WEBP', 'webp', 1664, 2496],
  ] as const)('PUTs a real %s image of the requested size, with no Content-Type', async (outputFormat, format, width, height) => {
    emu.setFaults({ match: 'bare put', uploadContentType: 'none' })
    const path = `/upload/${randomUUID()}`
    const { status, json } = await post([
      task({ positivePrompt: 'a bare put', outputFormat, width, height, uploadEndpoint: `${receiver.url}${path}?X-Amz-Signature=abc` }),
    ])
    expect(status).toBe(200)
    expect(json.data?.[0]?.imageURL).toBeDefined()
    const [put] = await waitForRequests(path, 1)
    expect(put?.method).toBe('PUT')
    expect(put?.headers['content-type']).toBeUndefined()
    expect(put?.headers['content-length']).toBe(String(put?.body.length))
    const meta = await sharp(put?.body).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual([format, width, height])
  })

  it.each([
    ['image', 'image/png'],
    ['binary', 'application/octet-stream'],
  ] as const)('sends a Content-Type under the %s reading', async (uploadContentType, expected) => {
    emu.setFaults({ match: 'typed put', uploadContentType })
    const path = `/upload/${randomUUID()}`
    await post([task({ positivePrompt: 'a typed put', outputFormat: 'PNG', uploadEndpoint: `${receiver.url}${path}` })])
    const [put] = await waitForRequests(path, 1)
    expect(put?.headers['content-type']).toBe(expected)
  })

  it('tolerates a failed upload and still returns the result', async () => {
    const before = emu.stats().uploads.failed
    emu.setFaults({ match: 'upload-breaks', failUploadRate: 1 })
    const { status, json } = await post([task({ positivePrompt: 'upload-breaks here', uploadEndpoint: `${receiver.url}/never` })])
    expect(status).toBe(200)
    expect(json.data?.[0]?.imageURL).toBeDefined()
    expect(emu.stats().uploads.failed).toBe(before + 1)
  })
})

describe('webhookURL', () => {
  it('by default only acknowledges a sync task with a webhookURL, and POSTs the flat item as JSON', async () => {
    const path = `/hook/${randomUUID()}`
    const t = task({ webhookURL: `${receiver.url}${path}`, includeCost: true })
    const { json } = await post([t])
    expect(json).toEqual({ data: [{ taskType: 'imageInference', taskUUID: t.taskUUID }] })
    const [hook] = await waitForRequests(path, 1)
    expect(hook?.method).toBe('POST')
    expect(hook?.headers['content-type']).toBe('application/json')
    const polled = await post([{ taskType: 'getResponse', taskUUID: t.taskUUID }])
    expect(JSON.parse(String(hook?.body))).toEqual({ ...polled.json.data?.[0], status: undefined })
    expect(JSON.parse(String(hook?.body))).toMatchObject({ imageUUID: expect.any(String), cost: 0.03 })
  })

  it("answers a sync task's results as well under the 'wait' reading", async () => {
    emu.setFaults({ match: 'patient', syncWithWebhook: 'wait' })
    const path = `/hook/${randomUUID()}`
    const { json } = await post([task({ positivePrompt: 'a patient heron', webhookURL: `${receiver.url}${path}` })])
    const [hook] = await waitForRequests(path, 1)
    expect(JSON.parse(String(hook?.body))).toEqual(json.data?.[0])
    expect(json.data?.[0]).toMatchObject({ imageUUID: expect.any(String), imageURL: expect.any(String) })
  })

  it('sends duplicates with webhookCopies: 2', async () => {
    emu.setFaults({ match: 'twin', webhookCopies: 2 })
    const path = `/hook/${randomUUID()}`
    await post([task({ positivePrompt: 'twin towers', webhookURL: `${receiver.url}${path}` })])
    const hooks = await waitForRequests(path, 2)
    expect(hooks.map((h) => JSON.parse(String(h.body)).imageUUID as string)).toEqual([expect.any(String), expect.any(String)])
    expect(hooks[0]?.body.equals(hooks[1]?.body ?? Buffer.alloc(0))).toBe(true)
  })

  it('duplicates with duplicateWebhookRate and holds webhooks back with lateWebhookRate', async () => {
    emu.setFaults({ match: 'echo', duplicateWebhookRate: 1, lateWebhookRate: 1, lateWebhookMs: 300 })
    const path = `/hook/${randomUUID()}`
    const sent = Date.now()
    await post([task({ positivePrompt: 'an echo valley', webhookURL: `${receiver.url}${path}`, deliveryMethod: 'async' })])
    const hooks = await waitForRequests(path, 2)
    expect(hooks).toHaveLength(2)
    for (const hook of hooks) expect((hook.at ?? 0) - sent).toBeGreaterThanOrEqual(290)
  })

  it('retries after a non-2xx answer, after a backoff', async () => {
    const path = `/hook/fail-once/${randomUUID()}`
    await post([task({ webhookURL: `${receiver.url}${path}` })])
    const [failed, retried] = await waitForRequests(path, 2)
    expect(retried?.body.equals(failed?.body ?? Buffer.alloc(0))).toBe(true)
    // 250 ms first backoff with ±20 % jitter.
    expect((retried?.at ?? 0) - (failed?.at ?? 0)).toBeGreaterThanOrEqual(190)
    await new Promise((r) => setTimeout(r, 400))
    expect(receiver.received.filter((r) => r.path === path)).toHaveLength(2)
  })
})

describe('async delivery and getResponse', () => {
  it('answers at once, then delivers by webhook and getResponse', async () => {
    emu.setFaults({ match: 'slow boat', latencyMs: 400 })
    const path = `/hook/${randomUUID()}`
    const t = task({ positivePrompt: 'a slow boat', deliveryMethod: 'async', numberResults: 2, webhookURL: `${receiver.url}${path}` })
    const ack = await post([t])
    expect(ack.json).toEqual({ data: [{ taskType: 'imageInference', taskUUID: t.taskUUID }] })

    const polling = await post([{ taskType: 'getResponse', taskUUID: t.taskUUID }])
    expect(polling.json.data).toEqual([{ taskType: 'imageInference', taskUUID: t.taskUUID, status: 'processing' }])

    await waitForRequests(path, 2)
    const done = await post([{ taskType: 'getResponse', taskUUID: t.taskUUID }])
    expect(done.json.data).toHaveLength(2)
    expect(done.json.data?.every((item) => item.status === 'success' && typeof item.imageURL === 'string')).toBe(true)
  })

  it('answers taskNotFound for an unknown taskUUID', async () => {
    const { status, json } = await post([{ taskType: 'getResponse', taskUUID: randomUUID() }])
    expect(status).toBe(400)
    expect(json.errors?.[0]?.code).toBe('taskNotFound')
  })

  it('answers taskExpired for a task older than its reading allows', async () => {
    emu.setFaults({ match: 'ancient', taskExpirySeconds: 0 })
    const t = task({ positivePrompt: 'an ancient map' })
    await post([t])
    await new Promise((r) => setTimeout(r, 5))
    const { json } = await post([{ taskType: 'getResponse', taskUUID: t.taskUUID }])
    expect(json.errors?.[0]).toMatchObject({ code: 'taskExpired', taskUUID: t.taskUUID, parameter: 'taskUUID' })
  })

  it('fails only the results whose seeds failSeeds names', async () => {
    emu.setFaults({ match: 'split fleet', failSeeds: [11] })
    const t = task({ positivePrompt: 'a split fleet', numberResults: 2, seed: 10 })
    const { status, json } = await post([t])
    expect(status).toBe(200)
    expect(json.data).toEqual([expect.objectContaining({ seed: 10 })])
    expect(json.errors).toEqual([expect.objectContaining({ code: 'internalServerError', taskUUID: t.taskUUID })])
  })

  it('by default sends a failed generation to getResponse but not to the webhook', async () => {
    emu.setFaults({ match: 'sunk', failGenerationRate: 1 })
    const path = `/hook/${randomUUID()}`
    const t = task({ positivePrompt: 'a sunk ship', deliveryMethod: 'async', webhookURL: `${receiver.url}${path}` })
    await post([t])
    for (let i = 0; i < 100; i++) {
      const polled = await post([{ taskType: 'getResponse', taskUUID: t.taskUUID }])
      if (polled.json.errors?.length) break
      await new Promise((r) => setTimeout(r, 20))
    }
    await new Promise((r) => setTimeout(r, 300))
    expect(receiver.received.filter((r) => r.path === path)).toEqual([])
    const polled = await post([{ taskType: 'getResponse', taskUUID: t.taskUUID }])
    expect(polled.json.errors?.[0]).toMatchObject({ status: 'error', code: 'internalServerError', taskUUID: t.taskUUID })
  })

  it('reports a failed generation in errors, and to the webhook, under those readings', async () => {
    emu.setFaults({ match: 'doomed', failGenerationRate: 1, syncWithWebhook: 'wait', webhookErrors: true })
    const path = `/hook/${randomUUID()}`
    const t = task({ positivePrompt: 'doomed ship', webhookURL: `${receiver.url}${path}` })
    const { status, json } = await post([t])
    expect(status).toBe(500)
    expect(json.errors?.[0]).toMatchObject({ code: 'internalServerError', taskUUID: t.taskUUID })
    const [hook] = await waitForRequests(path, 1)
    expect(JSON.parse(String(hook?.body))).toMatchObject({ errors: [{ taskUUID: t.taskUUID, taskType: 'imageInference' }] })
    const polled = await post([{ taskType: 'getResponse', taskUUID: t.taskUUID }])
    expect(polled.json.errors?.[0]).toMatchObject({ status: 'error', taskUUID: t.taskUUID })
  })
})

describe('inputs.referenceImages', () => {
  it('fetches each reference: its bytes change the image, and an unreachable one fails the task naming it', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#3a7' } })
      .png()
      .toBuffer()
    const path = `/ref/${randomUUID()}.png`
    const served = createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(png))
    await new Promise<void>((r) => served.listen(0, '127.0.0.1', () => r()))
    const refUrl = `http://127.0.0.1:${(served.address() as AddressInfo).port}${path}`
    try {
      const plain = await post([task({ seed: 5 })])
      const withRef = await post([task({ seed: 5, inputs: { referenceImages: [refUrl] } })])
      const bytes = async (env: Envelope) => Buffer.from(await (await fetch(String(env.data?.[0]?.imageURL))).arrayBuffer())
      expect((await bytes(withRef.json)).equals(await bytes(plain.json))).toBe(false)
      const failed = await post([task({ inputs: { referenceImages: [refUrl, `${receiver.url}/fail-once/${randomUUID()}`] } })])
      expect(failed.json.errors?.[0]).toMatchObject({ code: 'invalidReferenceImage', parameter: 'inputs.referenceImages[1]' })
    } finally {
      await new Promise<void>((r) => served.close(() => r()))
    }
  })
})

describe('validation', () => {
  it('rejects an unsupported size with the pair and the allowed values', async () => {
    const { status, json } = await post([task({ width: 1024, height: 1024 })])
    expect(status).toBe(400)
    expect(json.errors?.[0]).toMatchObject({ code: 'invalidParameter', parameter: ['width', 'height'] })
    expect(json.errors?.[0]?.allowedValues).toContain('2560x1440')
  })

  it.each([
    [{ steps: 30 }, 'unsupportedParameter', 'steps'],
    [{ positivePrompt: 'a' }, 'invalidParameter', 'positivePrompt'],
    [{ width: 2048 }, 'missingParameter', 'height'],
    [{ outputQuality: 100 }, 'invalidParameter', 'outputQuality'],
    [{ taskUUID: 'not-a-uuid' }, 'invalidParameter', 'taskUUID'],
    [{ model: 'runware:100@1' }, 'modelNotFound', 'model'],
    [{ safety: { checkContent: true, mode: 'full' } }, 'invalidParameter', 'safety.mode'],
  ])('rejects %j with %s on %s', async (extra, code, parameter) => {
    const { status, json } = await post([task(extra)])
    expect(status).toBe(400)
    expect(json.errors?.[0]).toMatchObject({ code, parameter })
  })

  it('rejects a reused taskUUID without stopping the other tasks', async () => {
    const t = task()
    expect((await post([t])).status).toBe(200)
    const other = task()
    const { status, json } = await post([t, other])
    expect(status).toBe(200)
    expect(json.errors).toEqual([expect.objectContaining({ code: 'conflictTaskUUID', parameter: 'taskUUID', taskUUID: t.taskUUID })])
    expect(json.data?.map((d) => d.taskUUID)).toEqual([other.taskUUID])
    expect(emu.stats().generations[String(t.taskUUID)]).toBe(1)
  })

  it('rejects invalid JSON and unknown task types', async () => {
    const bad = await fetch(`${emu.url}/v1`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` }, body: '[{' })
    expect(bad.status).toBe(400)
    const { json } = await post([{ taskType: 'videoInference' }])
    expect(json.errors?.[0]?.code).toBe('unsupportedTaskType')
  })
})

describe('authentication', () => {
  it('answers 401 invalidApiKey for a bad or missing key', async () => {
    for (const key of ['wrong', null]) {
      const { status, json } = await post([task()], key)
      expect(status).toBe(401)
      expect(json.errors?.[0]?.code).toBe('invalidApiKey')
    }
  })

  it('accepts an authentication task and never records the key', async () => {
    const marker = `auth-marker-${randomUUID()}`
    const { status, json } = await post(
      [
        { taskType: 'authentication', apiKey: API_KEY },
        { taskType: 'ping', ping: true, marker },
      ],
      null,
    )
    expect(status).toBe(200)
    expect(json.data).toEqual([{ taskType: 'ping', pong: true }])
    const recorded = await (await fetch(`${emu.url}/__emulator/requests?match=${marker}`)).json()
    expect(recorded).toEqual([
      {
        at: expect.any(String),
        auth: 'body',
        body: [
          { taskType: 'authentication', apiKey: '[redacted]' },
          { taskType: 'ping', ping: true, marker },
        ],
      },
    ])
    expect(JSON.stringify(recorded)).not.toContain(API_KEY)
  })
})

describe('fault knobs', () => {
  it('answers 503 once, then succeeds on a retry with the same taskUUID', async () => {
    const res = await fetch(`${emu.url}/__emulator/faults`, {
      method: 'POST',
      body: JSON.stringify({ match: 'flaky', httpStatus: { code: 503, times: 1, retryAfterSeconds: 2 } }),
    })
    expect(await res.json()).toEqual({ id: expect.any(String) })
    const t = task({ positivePrompt: 'a flaky bridge' })
    const first = await post([t])
    expect(first.status).toBe(503)
    expect(first.headers.get('retry-after')).toBe('2')
    expect(first.json.errors?.[0]?.code).toBe('serviceUnavailable')
    const second = await post([t])
    expect(second.status).toBe(200)
    expect(second.json.data?.[0]?.taskUUID).toBe(t.taskUUID)
    expect(emu.stats().generations[String(t.taskUUID)]).toBe(1)
  })

  it('rolls several httpStatus faults of one rule in order, each with its own count', async () => {
    emu.setFaults({
      match: 'mixed',
      httpStatus: [
        { code: 503, times: 1 },
        { code: 429, times: 1 },
      ],
    })
    const t = task({ positivePrompt: 'a mixed forest' })
    expect((await post([t])).status).toBe(503)
    expect((await post([t])).status).toBe(429)
    expect((await post([t])).status).toBe(200)
  })

  it('applies a rule only to matching prompts, and DELETE clears rules', async () => {
    emu.setFaults({ match: 'gated', httpStatus: { code: 429 } })
    expect((await post([task()])).status).toBe(200)
    expect((await post([task({ positivePrompt: 'gated garden' })])).status).toBe(429)
    await fetch(`${emu.url}/__emulator/faults`, { method: 'DELETE' })
    expect((await post([task({ positivePrompt: 'gated garden' })])).status).toBe(200)
  })

  it('leaves out imageURL with omitImageURL', async () => {
    emu.setFaults({ omitImageURL: true })
    const { json } = await post([task()])
    expect(json.data?.[0]).not.toHaveProperty('imageURL')
    expect(json.data?.[0]?.imageUUID).toBeDefined()
  })

  it('exposes stats over HTTP', async () => {
    const stats = (await (await fetch(`${emu.url}/__emulator/stats`)).json()) as { requests: number }
    expect(stats).toMatchObject({ uploads: expect.any(Object), webhooks: expect.any(Object), generations: expect.any(Object) })
    expect(stats.requests).toBeGreaterThan(0)
  })
})
