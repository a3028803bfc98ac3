/** Worker-mode uploads: signed, typed by magic bytes, size-limited, and written once. */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { UrlSigner } from '../../../src/images/url-signer'
import { KEY_A } from '../../secrets'
import { BASE, call, inference, postV1, upstreamRequests } from '../helpers'

const JPG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...Array.from({ length: 100 }, () => 7)])

/** Submits an async task and returns the upload URL the gateway gave Runware for result 0. */
async function uploadUrlForNewTask(): Promise<string> {
  const marker = `upload-${crypto.randomUUID()}`
  const res = await postV1([inference({ positivePrompt: `a kite ${marker}`, deliveryMethod: 'async' })])
  expect(res.status).toBe(200)
  const [request] = await upstreamRequests(marker)
  return String(request?.body[0]?.uploadEndpoint)
}

describe('PUT /uploads', () => {
  it('gives Runware a gateway upload URL per child, signed and scoped to the image key', async () => {
    const url = await uploadUrlForNewTask()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:1\/uploads\/images\/t[0-9a-f]+\/[0-9a-f-]{36}\/0\.jpg\?exp=\d+&sig=/)
  })

  it('stores a JPG once, typed from its bytes; a second PUT changes nothing and still answers 2xx', async () => {
    const url = (await uploadUrlForNewTask()).slice(BASE.length)
    const first = await call(url, { method: 'PUT', body: JPG, headers: { 'content-length': String(JPG.length) } })
    expect(first.status).toBe(201)
    expect(await first.json()).toEqual({ stored: true })
    const key = decodeURIComponent(new URL(url, BASE).pathname.slice('/uploads/'.length))
    const stored = await env.IMAGES.get(key)
    expect(stored?.httpMetadata?.contentType).toBe('image/jpeg')
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(JPG)

    const other = new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 1, 2, 3])
    const second = await call(url, { method: 'PUT', body: other })
    expect(second.status).toBe(200)
    expect(await second.json()).toEqual({ stored: false, reason: 'exists' })
    expect(new Uint8Array(await (await env.IMAGES.get(key))!.arrayBuffer())).toEqual(JPG)
  })

  it('refuses bytes that are not JPG, PNG or WEBP with 415, storing nothing', async () => {
    const url = (await uploadUrlForNewTask()).slice(BASE.length)
    const res = await call(url, { method: 'PUT', body: new TextEncoder().encode('GIF89a not an accepted image') })
    expect(res.status).toBe(415)
    const key = decodeURIComponent(new URL(url, BASE).pathname.slice('/uploads/'.length))
    expect(await env.IMAGES.head(key)).toBeNull()
  })

  it("refuses an image of another format than the key's with 415 naming the format, storing nothing", async () => {
    const url = (await uploadUrlForNewTask()).slice(BASE.length)
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Array.from({ length: 100 }, () => 7)])
    const res = await call(url, { method: 'PUT', body: png, headers: { 'content-length': String(png.length) } })
    expect(res.status).toBe(415)
    expect(((await res.json()) as { errors: unknown[] }).errors).toMatchObject([
      { code: 'unsupportedImageFormat', message: 'The body is not a JPG image', allowedValues: ['JPG'] },
    ])
    const key = decodeURIComponent(new URL(url, BASE).pathname.slice('/uploads/'.length))
    expect(await env.IMAGES.head(key)).toBeNull()
  })

  it('refuses a declared size over the limit with 413', async () => {
    const url = (await uploadUrlForNewTask()).slice(BASE.length)
    const res = await call(url, { method: 'PUT', body: JPG, headers: { 'content-length': String(64 * 1024 * 1024) } })
    expect(res.status).toBe(413)
  })

  it('refuses a forged or expired signature with 403', async () => {
    const url = new URL(await uploadUrlForNewTask(), BASE)
    const forged = `${url.pathname}?exp=${url.searchParams.get('exp')}&sig=${'B'.repeat(43)}`
    expect((await call(forged, { method: 'PUT', body: JPG })).status).toBe(403)
    const key = url.pathname.slice('/uploads/'.length)
    const expired = await new UrlSigner(env.SIGNING_SECRET, BASE).uploadUrl(key, 60, Date.now() - 3_600_000)
    expect((await call(expired.slice(BASE.length), { method: 'PUT', body: JPG })).status).toBe(403)
  })

  it("refuses a PUT to a deleted task's signed upload URL with 404, and stores nothing", async () => {
    const marker = `upload-deleted-${crypto.randomUUID()}`
    const body = inference({ positivePrompt: `a late kite ${marker}` })
    expect((await postV1([body])).status).toBe(200)
    const [request] = await upstreamRequests(marker)
    const url = String(request?.body[0]?.uploadEndpoint).slice(BASE.length)
    const key = decodeURIComponent(new URL(url, BASE).pathname.slice('/uploads/'.length))
    const deleted = await call(`/v1/tasks/${body.taskUUID}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY_A}` } })
    expect(deleted.status).toBe(200)
    expect(await env.IMAGES.head(key)).toBeNull()
    const res = await call(url, { method: 'PUT', body: JPG, headers: { 'content-length': String(JPG.length) } })
    expect(res.status).toBe(404)
    expect(((await res.json()) as { errors: unknown[] }).errors).toMatchObject([
      { code: 'taskNotFound', message: 'No task for this upload' },
    ])
    expect(await env.IMAGES.head(key)).toBeNull()
    // A genuine signature for a task that never existed, or for a key that names no task: the same.
    const signer = new UrlSigner(env.SIGNING_SECRET, BASE)
    for (const never of [`images/tnever/${crypto.randomUUID()}/0.jpg`, 'variants/not-an-image-key']) {
      const put = await call((await signer.uploadUrl(never, 60)).slice(BASE.length), { method: 'PUT', body: JPG })
      expect(put.status).toBe(404)
      expect(await env.IMAGES.head(never)).toBeNull()
    }
  })

  it('stores a body sent without a length, streamed', async () => {
    const url = (await uploadUrlForNewTask()).slice(BASE.length)
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(JPG.slice(0, 10))
        controller.enqueue(JPG.slice(10))
        controller.close()
      },
    })
    const res = await call(url, { method: 'PUT', body, duplex: 'half' } as RequestInit)
    expect(res.status).toBe(201)
    const key = decodeURIComponent(new URL(url, BASE).pathname.slice('/uploads/'.length))
    expect(new Uint8Array(await (await env.IMAGES.get(key))!.arrayBuffer())).toEqual(JPG)
  })
})
