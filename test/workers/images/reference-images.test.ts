/** Image to image: uploads, inputs.referenceImages, and the short-lived URLs Runware fetches them from. */
import { env } from 'cloudflare:workers'
import { createExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { app } from '../../../src/app'
import { childTaskUUID } from '../../../src/lib/ids'
import { imagineArt15 } from '../../../src/models/imagineart-1-5'
import { REFERENCE_URL_TTL_SECONDS } from '../../../src/images/upload-targets'
import { imageInferenceSchema } from '../../../src/schemas/image-inference'
import { issuesToErrors } from '../../../src/schemas/issues'
import { UrlSigner } from '../../../src/images/url-signer'
import { KEY_A, KEY_B, TEST_SECRETS } from '../../secrets'
import { BASE, call, inference, postV1, tenantOf, upstreamRequests } from '../helpers'

/** A real 1×1 PNG, then bytes that make each fixture distinct. */
const PNG = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='), (c) =>
  c.charCodeAt(0),
)
const distinct = (bytes: Uint8Array) => new Uint8Array([...bytes, ...crypto.getRandomValues(new Uint8Array(8))])
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes))

async function upload(image: string, key = KEY_A): Promise<string> {
  const { status, json } = await postV1([{ taskType: 'imageUpload', taskUUID: crypto.randomUUID(), image }], key)
  expect(status).toBe(200)
  return String(json.data?.[0]?.imageUUID)
}

/** Generates async with `referenceImages` and returns the URLs Runware was handed for them. */
async function referenceUrlsSent(referenceImages: string[]): Promise<URL[]> {
  const marker = `ref-${crypto.randomUUID()}`
  const task = inference({ positivePrompt: `a lighthouse ${marker}`, deliveryMethod: 'async', inputs: { referenceImages } })
  const { status, json } = await postV1([task])
  expect(json.errors).toBeUndefined()
  expect(status).toBe(200)
  const [request] = await upstreamRequests(marker)
  const child = await childTaskUUID(await tenantOf(KEY_A), String(task.taskUUID), 0)
  const sent = request?.body.find((t) => t.taskUUID === child) as { inputs?: { referenceImages?: string[] } } | undefined
  return (sent?.inputs?.referenceImages ?? []).map((u) => new URL(u))
}

const bytesAt = async (url: URL) => new Uint8Array(await (await call(`${url.pathname}${url.search}`)).arrayBuffer())

async function errorsOf(referenceImages: unknown, key = KEY_A) {
  const { status, json } = await postV1([inference({ inputs: { referenceImages } })], key)
  return { status, errors: (json.errors ?? []).map((e) => ({ code: e.code, parameter: e.parameter })) }
}

describe('imageUpload', () => {
  // Runware's TypeScript SDK reads the array form (client.ts), and its Python SDK reads
  // response["imageURL"] (base.py): a lone upload answers [{…, imageUUID, imageURL}], not an object.
  it('stores the image and answers [{imageUUID, imageURL}], the URL serving its bytes; the same taskUUID gives the same image', async () => {
    const taskUUID = crypto.randomUUID()
    const png = distinct(PNG)
    const body = [{ taskType: 'imageUpload', taskUUID, image: `data:image/png;base64,${base64(png)}` }]
    const first = await postV1(body)
    const again = await postV1(body)
    expect(first.status).toBe(200)
    expect(first.json.data).toEqual([
      {
        taskType: 'imageUpload',
        taskUUID,
        imageUUID: expect.stringMatching(/^[0-9a-f-]{36}$/),
        imageURL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:1\/files\/uploads\/t[0-9a-f]+\/[0-9a-f-]{36}\?exp=\d+&sig=/),
      },
    ])
    expect(again.json.data).toEqual(first.json.data)
    expect(await bytesAt(new URL(String(first.json.data?.[0]?.imageURL)))).toEqual(png)
  })

  it('refuses an image that is not PNG, JPG or WEBP, naming `image`', async () => {
    const gif = btoa('GIF89a' + 'x'.repeat(30))
    const { status, json } = await postV1([{ taskType: 'imageUpload', taskUUID: crypto.randomUUID(), image: gif }])
    expect(status).toBe(400)
    expect(json.errors?.[0]).toMatchObject({ code: 'invalidImage', parameter: 'image', taskType: 'imageUpload' })
  })

  it('POST /v1/images takes a raw body or a multipart form, and either is a usable reference', async () => {
    const raw = distinct(PNG)
    const res = await call('/v1/images', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'image/png' },
      body: raw,
    })
    expect(res.status).toBe(201)
    const stored = ((await res.json()) as { data: { imageUUID: string; imageURL: string } }).data
    const rawUUID = stored.imageUUID
    expect(await bytesAt(new URL(stored.imageURL))).toEqual(raw)
    const form = new FormData()
    const multipart = distinct(PNG)
    form.set('image', new File([multipart], 'ref.png', { type: 'image/png' }))
    const res2 = await call('/v1/images', { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: form })
    expect(res2.status).toBe(201)
    const formUUID = ((await res2.json()) as { data: { imageUUID: string } }).data.imageUUID
    const urls = await referenceUrlsSent([rawUUID, formUUID])
    expect(await bytesAt(urls[0] as URL)).toEqual(raw)
    expect(await bytesAt(urls[1] as URL)).toEqual(multipart)
  })
})

// Runware's current upload task; its TypeScript SDK marks imageUpload deprecated in its favour
// and types the answers (types/task-map.ts): upload → {operation, mediaUUID, mediaURL}, delete → {operation, mediaUUID}.
describe('mediaStorage', () => {
  const mediaStorage = (operation: string, media: string, key = KEY_A) =>
    postV1([{ taskType: 'mediaStorage', taskUUID: crypto.randomUUID(), operation, media }], key)

  it('uploads: mediaUUID works as a reference, Runware gets a URL serving the exact bytes, and mediaURL serves them too', async () => {
    const png = distinct(PNG)
    const { status, json } = await mediaStorage('upload', `data:image/png;base64,${base64(png)}`)
    expect(status).toBe(200)
    expect(json.data).toEqual([
      {
        taskType: 'mediaStorage',
        taskUUID: expect.any(String),
        operation: 'upload',
        mediaUUID: expect.stringMatching(/^[0-9a-f-]{36}$/),
        mediaURL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:1\/files\/uploads\/t[0-9a-f]+\/[0-9a-f-]{36}\?exp=\d+&sig=/),
      },
    ])
    const { mediaUUID, mediaURL } = json.data?.[0] as { mediaUUID: string; mediaURL: string }
    expect(await bytesAt(new URL(mediaURL))).toEqual(png)
    const [sent] = await referenceUrlsSent([mediaUUID])
    expect(await bytesAt(sent as URL)).toEqual(png)
  })

  it('deletes: the mediaUUID stops resolving for its tenant, its bytes go, and another tenant cannot delete it', async () => {
    const png = distinct(PNG)
    const uploaded = (await mediaStorage('upload', base64(png))).json.data?.[0] as { mediaUUID: string; mediaURL: string }
    const foreign = await mediaStorage('delete', uploaded.mediaUUID, KEY_B)
    expect(foreign.status).toBe(404)
    expect(foreign.json.errors?.[0]).toMatchObject({ code: 'mediaNotFound', parameter: 'media', taskType: 'mediaStorage' })
    expect(await bytesAt(new URL(uploaded.mediaURL))).toEqual(png)

    const deleted = await mediaStorage('delete', uploaded.mediaUUID.toUpperCase())
    expect(deleted.status).toBe(200)
    expect(deleted.json.data).toEqual([
      { taskType: 'mediaStorage', taskUUID: expect.any(String), operation: 'delete', mediaUUID: uploaded.mediaUUID.toUpperCase() },
    ])
    expect(await errorsOf([uploaded.mediaUUID])).toEqual({
      status: 400,
      errors: [{ code: 'imageNotFound', parameter: 'inputs.referenceImages[0]' }],
    })
    expect((await call(new URL(uploaded.mediaURL).pathname + new URL(uploaded.mediaURL).search)).status).toBe(404)
    expect((await mediaStorage('delete', uploaded.mediaUUID)).status).toBe(404)
  })

  it('names media, operation and taskType when they are wrong', async () => {
    const bad = await postV1([{ taskType: 'mediaStorage', taskUUID: crypto.randomUUID(), operation: 'copy', media: 'x' }])
    expect(bad.status).toBe(400)
    expect(bad.json.errors?.[0]).toMatchObject({ parameter: 'operation', taskType: 'mediaStorage' })
    const gif = await mediaStorage('upload', btoa('GIF89a' + 'x'.repeat(30)))
    expect(gif.json.errors?.[0]).toMatchObject({ code: 'invalidImage', parameter: 'media', taskType: 'mediaStorage' })
  })
})

describe('inputs.referenceImages', () => {
  it('hands Runware a short-lived gateway URL that serves exactly the uploaded bytes', async () => {
    const png = distinct(PNG)
    const imageUUID = await upload(base64(png))
    const before = Math.floor(Date.now() / 1000)
    const [url] = await referenceUrlsSent([imageUUID])
    expect(url?.origin).toBe(BASE)
    expect(url?.pathname).toMatch(/^\/files\/uploads\/t[0-9a-f]+\//)
    expect(await bytesAt(url as URL)).toEqual(png)
    // It expires: within the reference TTL (plus the 5-minute rounding), and the route's check says so after.
    const exp = Number(url?.searchParams.get('exp'))
    expect(exp).toBeGreaterThanOrEqual(before + REFERENCE_URL_TTL_SECONDS)
    expect(exp).toBeLessThanOrEqual(before + REFERENCE_URL_TTL_SECONDS + 300 + 5)
    const signer = new UrlSigner(TEST_SECRETS.SIGNING_SECRET, BASE)
    const key = decodeURIComponent(url?.pathname.slice('/files/'.length) ?? '')
    expect(await signer.signedKey('files', url as URL)).toEqual({ key, exp })
    await expect(signer.signedKey('files', url as URL, (exp + 1) * 1000)).rejects.toMatchObject({ detail: { code: 'signatureExpired' } })
    // A URL whose expiry was pushed out is refused by the route itself.
    const forged = new URL(url as URL)
    forged.searchParams.set('exp', String(exp + 86_400))
    expect((await call(`${forged.pathname}${forged.search}`)).status).toBe(403)
  })

  it('takes data URIs and plain base64, storing them in R2 for Runware', async () => {
    const a = distinct(PNG)
    const b = distinct(PNG)
    const urls = await referenceUrlsSent([`data:image/png;base64,${base64(a)}`, base64(b)])
    expect(urls).toHaveLength(2)
    expect(await bytesAt(urls[0] as URL)).toEqual(a)
    expect(await bytesAt(urls[1] as URL)).toEqual(b)
  })

  it('passes a client https URL through unchanged', async () => {
    const urls = await referenceUrlsSent(['https://images.example.com/ref.png'])
    expect(urls.map(String)).toEqual(['https://images.example.com/ref.png'])
  })

  it("lets a tenant reference its own generated image, and not another tenant's", async () => {
    const { status, json } = await postV1([inference({ positivePrompt: 'a red kite over dunes', seed: 7 })])
    expect(status).toBe(200)
    const generated = json.data?.[0] as { imageUUID: string; imageURL: string }
    const generatedBytes = await bytesAt(new URL(generated.imageURL))
    const [url] = await referenceUrlsSent([generated.imageUUID])
    expect(await bytesAt(url as URL)).toEqual(generatedBytes)
    expect(await errorsOf([generated.imageUUID], KEY_B)).toEqual({
      status: 400,
      errors: [{ code: 'imageNotFound', parameter: 'inputs.referenceImages[0]' }],
    })
  })

  it('names the offending element for each kind of bad reference', async () => {
    const imageUUID = await upload(base64(distinct(PNG)))
    const gif = btoa('GIF89a' + 'x'.repeat(30))
    // One byte over 5 MiB, with a real PNG signature in front.
    const huge = new Uint8Array(imagineArt15.referenceImages.maxBytes + 1)
    huge.set(PNG)
    let hugeBase64 = ''
    for (let i = 0; i < huge.length; i += 3 * 8192) hugeBase64 += base64(huge.subarray(i, i + 3 * 8192))
    expect(await errorsOf([imageUUID, gif])).toEqual({
      status: 400,
      errors: [{ code: 'invalidImage', parameter: 'inputs.referenceImages[1]' }],
    })
    expect(await errorsOf([imageUUID, imageUUID, hugeBase64])).toEqual({
      status: 400,
      errors: [{ code: 'imageTooLarge', parameter: 'inputs.referenceImages[2]' }],
    })
    expect(await errorsOf([imageUUID, imageUUID, 'data:image/png;base64'])).toEqual({
      status: 400,
      errors: [{ code: 'invalidImage', parameter: 'inputs.referenceImages[2]' }],
    })
    expect(await errorsOf(['http://images.example.com/a.png'])).toEqual({
      status: 400,
      errors: [{ code: 'invalidImage', parameter: 'inputs.referenceImages[0]' }],
    })
    expect(await errorsOf([imageUUID, crypto.randomUUID()])).toEqual({
      status: 400,
      errors: [{ code: 'imageNotFound', parameter: 'inputs.referenceImages[1]' }],
    })
    expect(await errorsOf(Array(imagineArt15.referenceImages.maxCount + 1).fill(imageUUID))).toEqual({
      status: 400,
      errors: [{ code: 'invalidParameter', parameter: 'inputs.referenceImages' }],
    })
  })

  it('is an unsupportedParameter on a model without image to image', () => {
    const textOnly = { ...imagineArt15, id: 'test:text-only', capabilities: ['textToImage' as const] }
    const task = inference({ model: textOnly.id, inputs: { referenceImages: [base64(PNG)] } })
    const parsed = imageInferenceSchema(textOnly).safeParse(task)
    expect(parsed.success).toBe(false)
    const errors = issuesToErrors(parsed.error?.issues ?? [], task).map((e) => e.detail)
    expect(errors).toEqual([expect.objectContaining({ code: 'unsupportedParameter', parameter: 'inputs.referenceImages' })])
  })

  it('in r2-presigned mode, hands Runware a presigned R2 GET with a short X-Amz-Expires', async () => {
    const imageUUID = await upload(base64(distinct(PNG)))
    const marker = `ref-r2-${crypto.randomUUID()}`
    const withS3 = { ...env, R2_ACCOUNT_ID: 'acct0123456789', R2_S3_ENDPOINT: 'https://eu.r2.example.test' }
    const task = inference({ positivePrompt: `a mill ${marker}`, deliveryMethod: 'async', inputs: { referenceImages: [imageUUID] } })
    const res = await app.fetch(
      new Request('http://gw/v1', { method: 'POST', headers: { authorization: `Bearer ${KEY_A}` }, body: JSON.stringify([task]) }),
      withS3,
      createExecutionContext(),
    )
    expect(res.status).toBe(200)
    const [request] = await upstreamRequests(marker)
    const sent = request?.body[0] as { inputs: { referenceImages: string[] } }
    const url = new URL(sent.inputs.referenceImages[0] ?? '')
    expect(url.origin).toBe('https://eu.r2.example.test')
    expect(url.pathname).toBe(`/imagine-edge-images/uploads/${await tenantOf(KEY_A)}/${imageUUID}`)
    expect(url.searchParams.get('x-id')).toBe('GetObject')
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(REFERENCE_URL_TTL_SECONDS))
  })
})
