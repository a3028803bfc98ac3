/** Image to image over real HTTP: the emulator fetches each reference URL from the gateway, as Runware would. */
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { KEY_A, KEY_B } from '../secrets.ts'
import { emulator, inference, postV1 } from './helpers.ts'

/** A small PNG of one random colour: every call gives different bytes. */
async function randomPng(): Promise<Buffer> {
  const [r = 0, g = 0, b = 0] = crypto.getRandomValues(new Uint8Array(3))
  return sharp({ create: { width: 64, height: 48, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer()
}

const bytesOf = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer())

/** Generates sync and returns the one result item. */
async function generate(overrides: Record<string, unknown>, key = KEY_A): Promise<Record<string, unknown>> {
  const { status, json } = await postV1([inference(overrides)], key)
  expect(json.errors).toBeUndefined()
  expect(status).toBe(200)
  return json.data?.[0] ?? {}
}

describe('image to image', () => {
  it('generates from an uploaded PNG: Runware fetches exactly its bytes, and the result differs from text to image', async () => {
    const png = await randomPng()
    const upload = await postV1([{ taskType: 'imageUpload', taskUUID: crypto.randomUUID(), image: png.toString('base64') }])
    expect(upload.status).toBe(200)
    const imageUUID = String(upload.json.data?.[0]?.imageUUID)

    const marker = `i2i-${crypto.randomUUID()}`
    const prompt = `a paper boat on a pond, ${marker}`
    const withReference = await generate({ positivePrompt: prompt, seed: 11, inputs: { referenceImages: [imageUUID] } })
    const textOnly = await generate({ positivePrompt: prompt, seed: 11 })

    const requests = (await (await fetch(`${emulator()}/__emulator/requests?match=${marker}`)).json()) as {
      body: { inputs?: { referenceImages?: string[] } }[]
    }[]
    const urls = requests.flatMap((r) => r.body.flatMap((t) => t.inputs?.referenceImages ?? []))
    expect(urls).toHaveLength(1)
    expect(await bytesOf(urls[0] as string)).toEqual(png)

    const [a, b] = await Promise.all([bytesOf(String(withReference.imageURL)), bytesOf(String(textOnly.imageURL))])
    expect((await sharp(a).metadata()).width).toBe(2048)
    expect(a.equals(b)).toBe(false)
  })

  it("references the tenant's own generated image; another tenant gets a clear error", async () => {
    const first = await generate({ positivePrompt: 'a copper kettle, still life' })
    const second = await generate({ positivePrompt: 'the same kettle, at night', inputs: { referenceImages: [first.imageUUID] } })
    expect(String(second.imageURL)).toMatch(/\/files\//)
    const { status, json } = await postV1([inference({ inputs: { referenceImages: [first.imageUUID] } })], KEY_B)
    expect(status).toBe(400)
    expect(json.errors?.[0]).toMatchObject({ code: 'imageNotFound', parameter: 'inputs.referenceImages[0]' })
  })
})
