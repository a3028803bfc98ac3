/** The imageInference options: outputType, seeds, ttl, safety, includeCost, and the sync budget. */
import { env } from 'cloudflare:workers'
import { createExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { app } from '../../../src/app'
import { imagineArt15 } from '../../../src/models/imagineart-1-5'
import { KEY_A } from '../../secrets'
import { BASE, call, hook, inference, postV1, setFault, upstreamItem, upstreamRequests } from '../helpers'

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47]
const bytesOf = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))

describe('imageInference options', () => {
  it('returns base64Data and dataURI with the stored image bytes', async () => {
    const b64 = await postV1([inference({ outputType: 'base64Data', outputFormat: 'PNG', numberResults: 2 })])
    expect(b64.status).toBe(200)
    expect(b64.json.data).toHaveLength(2)
    for (const item of b64.json.data!) {
      expect(Object.keys(item)).toEqual(['taskType', 'taskUUID', 'imageUUID', 'imageBase64Data', 'seed'])
      expect([...bytesOf(String(item.imageBase64Data)).slice(0, 4)]).toEqual(PNG_MAGIC)
    }
    const uri = await postV1([inference({ outputType: 'dataURI', outputFormat: 'WEBP' })])
    const dataURI = String(uri.json.data?.[0]?.imageDataURI)
    expect(dataURI.startsWith('data:image/webp;base64,')).toBe(true)
    expect(new TextDecoder().decode(bytesOf(dataURI.split(',')[1]!).slice(8, 12))).toBe('WEBP')
  })

  it('gives result i the seed S+i, and random integer seeds without one', async () => {
    const seeded = await postV1([inference({ seed: 1000, numberResults: 3 })])
    expect(seeded.json.data?.map((i) => i.seed).sort()).toEqual([1000, 1001, 1002])
    const random = await postV1([inference({ numberResults: 3 })])
    const seeds = random.json.data?.map((i) => i.seed) ?? []
    expect(seeds.every((s) => Number.isInteger(s) && (s as number) >= 0 && (s as number) < 2 ** 31)).toBe(true)
    expect(new Set(seeds).size).toBe(3)
  })

  it('signs image URLs for at least the task’s ttl, else for SIGNED_URL_TTL_SECONDS', async () => {
    const now = Date.now() / 1000
    const exp = (url: unknown) => Number(new URL(String(url)).searchParams.get('exp'))
    const long = await postV1([inference({ ttl: 7200 })])
    expect(exp(long.json.data?.[0]?.imageURL)).toBeGreaterThanOrEqual(now + 7200)
    expect(exp(long.json.data?.[0]?.imageURL)).toBeLessThanOrEqual(now + 7200 + 301)
    const plain = await postV1([inference()])
    const ttl = Number(env.SIGNED_URL_TTL_SECONDS)
    expect(exp(plain.json.data?.[0]?.imageURL)).toBeGreaterThanOrEqual(now + ttl)
    expect(exp(plain.json.data?.[0]?.imageURL)).toBeLessThanOrEqual(now + ttl + 301)
  })

  it('forwards safety (and its checkNSFW alias) and reports NSFWContent; cost only with includeCost', async () => {
    const marker = `safety-${crypto.randomUUID()}`
    const res = await postV1([inference({ positivePrompt: `a garden ${marker}`, checkNSFW: true, includeCost: true })])
    expect(res.json.data?.[0]).toMatchObject({ NSFWContent: false, cost: 0.03 })
    // Runware flags some images: the flag reaches the client as Runware set it.
    const flagged = `flagged-${crypto.randomUUID()}`
    await setFault({ match: flagged, nsfwRate: 1 })
    const hit = await postV1([inference({ positivePrompt: `a garden ${flagged}`, safety: { checkContent: true } })])
    expect(hit.json.data?.[0]).toMatchObject({ NSFWContent: true, imageURL: expect.any(String) })
    expect(Object.keys(res.json.data![0]!)).toEqual(['taskType', 'taskUUID', 'imageUUID', 'imageURL', 'seed', 'NSFWContent', 'cost'])
    const [sent] = await upstreamRequests(marker)
    expect(sent?.body[0]).toMatchObject({
      safety: { checkContent: true, mode: 'fast' },
      includeCost: true,
      numberResults: 1,
      outputType: 'URL',
    })
    expect(sent?.body[0]).not.toHaveProperty('checkNSFW')
    expect(sent?.auth).toBe('bearer')
    const noCost = await postV1([inference()])
    expect(noCost.json.data?.[0]).not.toHaveProperty('cost')
  })

  it('answers status "processing" when the sync budget runs out, and the task still completes', async () => {
    const marker = `slow-${crypto.randomUUID()}`
    await setFault({ match: marker, latencyMs: 2500 })
    const body = inference({ positivePrompt: `a glacier ${marker}` })
    const quick = { ...env, SYNC_TIMEOUT_SECONDS: '1' }
    const res = await app.fetch(
      new Request(`${BASE}/v1`, { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify([body]) }),
      quick,
      createExecutionContext(),
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ data: [{ taskType: 'imageInference', taskUUID: body.taskUUID, status: 'processing' }] })

    // Runware's webhook (replayed here: the test gateway's host is unreachable) completes it.
    const [sent] = await upstreamRequests(marker)
    const child = sent!.body[0]!
    expect((await hook(String(child.webhookURL), await upstreamItem(String(child.taskUUID)))).status).toBe(200)
    const polled = await postV1([{ taskType: 'getResponse', taskUUID: body.taskUUID }])
    expect(polled.json.data?.[0]).toMatchObject({ taskUUID: body.taskUUID, status: 'success' })
  })

  it('lists the model registry for UIs: ids, capabilities and the nine sizes', async () => {
    const res = await call('/v1/models')
    const { data } = (await res.json()) as { data: { id: string; capabilities: string[]; sizes: unknown[]; priceUSD: number }[] }
    expect(data[0]).toMatchObject({ id: 'imagineart:1@5', capabilities: ['textToImage', 'imageToImage'], priceUSD: 0.03 })
    expect(data[0]?.sizes).toEqual(imagineArt15.sizes)
    expect(data[0]?.sizes).toHaveLength(9)
  })
})
