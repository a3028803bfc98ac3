/**
 * Runware's own clients against the gateway, with the emulator in its default, documented
 * reading: a task with a webhookURL (the gateway sends every child with one) is only
 * acknowledged, its results arrive by webhook, and a failure gets no webhook at all.
 */
import { createRunware } from '@runware/ai-sdk-provider'
import { RunwareServer } from '@runware/sdk-js'
import { generateImage } from 'ai'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { KEY_A } from '../secrets.ts'
import { socketUrl } from '../support/socket-client.ts'
import { fetchImage, gateway, inference, postV1, setFault } from './helpers.ts'

describe.concurrent('Runware clients against an upstream that only acknowledges', () => {
  it('a sync request for three results gets three images', async () => {
    const res = await postV1(inference({ numberResults: 3, positivePrompt: 'three lanterns on a pier, conformance' }))
    expect(res.status).toBe(200)
    expect(res.json.errors).toBeUndefined()
    expect(res.json.data).toHaveLength(3)
    for (const item of res.json.data ?? []) {
      expect(item.status).toBeUndefined()
      expect((await fetchImage(String(item.imageURL))).status).toBe(200)
    }
  })

  // @runware/ai-sdk-provider (runware-image-model.ts) posts one imageInference task to baseURL and
  // requires every `data` item to be an imageInference result with a numeric seed; it downloads imageURL.
  it("the Vercel AI SDK's generateImage gets a real image", async () => {
    const runware = createRunware({ apiKey: KEY_A, baseURL: `${gateway()}/v1` })
    const { image } = await generateImage({
      model: runware.image('imagineart:1@5'),
      prompt: 'a paper boat on a still canal at noon',
      size: '2048x2048',
    })
    const meta = await sharp(Buffer.from(image.uint8Array)).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 2048, 2048])
  })

  it('a task with one failed child answers one envelope holding the image and the error', async () => {
    const marker = `half-fleet-${crypto.randomUUID()}`
    await setFault({ match: marker, failSeeds: [301] })
    const body = inference({ positivePrompt: `a half fleet ${marker}`, numberResults: 2, seed: 300 })
    const res = await postV1(body)
    expect(res.status).toBe(200)
    expect(res.json.data).toEqual([expect.objectContaining({ taskUUID: body.taskUUID, seed: 300, imageURL: expect.any(String) })])
    expect(res.json.errors).toEqual([expect.objectContaining({ taskUUID: body.taskUUID, code: 'internalServerError' })])
  })

  // @runware/sdk-js routes a frame by taskUUID and rejects on its errors: with both in one
  // envelope its poller settles instead of waiting for a frame that never comes.
  it('sdk-js settles on a task with one failed child, with the error', async () => {
    const marker = `half-sky-${crypto.randomUUID()}`
    await setFault({ match: marker, failSeeds: [401, 402, 403, 404, 405, 406] })
    const runware = new RunwareServer({ apiKey: KEY_A, url: socketUrl(gateway()), globalMaxRetries: 1 })
    try {
      const outcome = await runware
        .requestImages({
          positivePrompt: `a half sky ${marker}`,
          model: 'imagineart:1@5',
          width: 2048,
          height: 2048,
          numberResults: 2,
          seed: 400,
        })
        .then(
          (images) => ({ images }),
          (error: unknown) => ({ error }),
        )
      expect(outcome).toEqual({ error: expect.objectContaining({ error: expect.objectContaining({ code: 'internalServerError' }) }) })
    } finally {
      await runware.disconnect()
    }
  })
})

/**
 * Runware's TypeScript SDK (`@runware/sdk`, which does not install here), reproduced on the wire
 * from its sources: client.ts `execute` sends inference as `{deliveryMethod: 'async', ...params,
 * taskType, taskUUID}`; `executeRest` then polls `[{taskUUID, taskType: 'getResponse'}]` per task
 * (1 s, +0.5 s, then ×1.5 up to 10 s), counts `data` items with `status: 'success'` up to
 * numberResults, and fails on any error; `toResultsArray` reads a sync answer's `data` array.
 */
describe('the TypeScript SDK on the wire', () => {
  const headers = {
    'Content-Type': 'application/json',
    Authorization: `Bearer ${KEY_A}`,
    'User-Agent': 'runware-typescript/1.4.1 (node/20.20.0; linux x64) schemas/20260623192341',
  }
  const send = async (payload: unknown[]) => {
    const res = await fetch(`${gateway()}/v1`, { method: 'POST', headers, body: JSON.stringify(payload) })
    return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown>[]; errors?: Record<string, unknown>[] } }
  }

  it('generates async by default and polls getResponse until every result is a success', async () => {
    const taskUUID = crypto.randomUUID()
    const submitted = await send([
      {
        deliveryMethod: 'async',
        model: 'imagineart:1@5',
        positivePrompt: 'a kite festival over a salt flat',
        width: 2048,
        height: 2048,
        numberResults: 2,
        taskType: 'imageInference',
        taskUUID,
      },
    ])
    expect(submitted.status).toBe(200)
    expect(submitted.body.errors).toBeUndefined()
    let delay = 1000
    for (let poll = 1, started = Date.now(); Date.now() - started < 60_000; poll++) {
      await new Promise((r) => setTimeout(r, delay))
      const { body } = await send([{ taskUUID, taskType: 'getResponse' }])
      expect(body.errors ?? []).toEqual([])
      const items = body.data ?? []
      expect(items.filter((i) => i.status === 'error')).toEqual([])
      const done = items.filter((i) => i.status === 'success')
      if (done.length >= 2) {
        for (const item of done) expect((await fetchImage(String(item.imageURL))).status).toBe(200)
        return
      }
      delay = poll === 1 ? 500 : Math.min(delay * 1.5, 10_000)
    }
    throw new Error('the SDK would still be polling')
  })

  it('reads a lone mediaStorage upload from the data array', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
    const { status, body } = await send([
      { operation: 'upload', media: `data:image/png;base64,${png}`, taskType: 'mediaStorage', taskUUID: crypto.randomUUID() },
    ])
    expect(status).toBe(200)
    expect(Array.isArray(body.data)).toBe(true)
    const [result] = body.data ?? []
    expect(result).toMatchObject({ taskType: 'mediaStorage', operation: 'upload', mediaUUID: expect.any(String) })
    const served = await fetch(String(result?.mediaURL))
    expect(Buffer.from(await served.arrayBuffer()).toString('base64')).toBe(png)
  })
})
