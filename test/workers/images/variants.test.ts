/**
 * Image variants (`&w=`, `&format=`) through the real Images binding: negotiation, validation,
 * signatures, caching in R2 (one transform per variant), conditional and ranged reads, deletion,
 * and a gateway without the binding.
 */
import { env } from 'cloudflare:workers'
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { app } from '../../../src/app'
import { ImageCache } from '../../../src/images/image-cache'
import { UrlSigner } from '../../../src/images/url-signer'
import { KEY_A } from '../../secrets'
import { BASE, call, inference, postV1 } from '../helpers'

let imageURL: string
let objectKey: string
const path = (url: string) => url.slice(BASE.length)
const variant = (params: string) => `${path(imageURL)}&${params}`

/** Decodes an answer with the binding's own reader: format and size (sharp decodes them in test/e2e). */
async function info(res: Response) {
  return env.TRANSFORMS.info(res.body as ReadableStream<Uint8Array>)
}

/** The app over an env whose Images binding counts `input` calls. */
function countingApp() {
  const counts = { input: 0 }
  const binding = new Proxy(env.TRANSFORMS, {
    get(target, name) {
      if (name === 'input') {
        return (...args: Parameters<ImagesBinding['input']>) => {
          counts.input += 1
          return target.input(...args)
        }
      }
      const value = Reflect.get(target, name) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const fetch = async (url: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext()
    const res = await app.fetch(new Request(`${BASE}${url}`, init), { ...env, TRANSFORMS: binding }, ctx)
    const body = await res.arrayBuffer()
    await waitOnExecutionContext(ctx)
    return { res, body }
  }
  return { counts, fetch }
}

describe('image variants', () => {
  beforeAll(async () => {
    const body = inference({ width: 1664, height: 2496, outputFormat: 'JPG' })
    const { json } = await postV1([body])
    imageURL = String(json.data?.[0]?.imageURL)
    objectKey = new URL(imageURL).pathname.slice('/files/'.length)
  })

  it('negotiates AVIF, then WebP, then the original format from Accept, each 256 wide with its aspect ratio', async () => {
    const cases = [
      ['image/avif,image/webp,*/*', 'image/avif', 'avif'],
      ['image/webp,*/*;q=0.8', 'image/webp', 'webp'],
      ['*/*', 'image/jpeg', 'jpeg'],
      ['image/avif;q=0,image/webp', 'image/webp', 'webp'],
    ] as const
    const etags = new Set<string>()
    for (const [accept, type, format] of cases) {
      const res = await call(variant('w=256'), { headers: { accept } })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe(type)
      expect(res.headers.get('vary')).toBe('Accept')
      const etag = res.headers.get('etag') ?? ''
      expect(etag).toMatch(/^"[0-9a-f]+"$/)
      etags.add(etag)
      expect(await info(res)).toMatchObject({ format: `image/${format}`, width: 256, height: 384 })
      const again = await call(variant('w=256'), { headers: { accept, 'if-none-match': etag } })
      expect(again.status).toBe(304)
      expect(again.headers.get('vary')).toBe('Accept')
    }
    const original = await call(path(imageURL))
    etags.add(original.headers.get('etag') ?? '')
    await original.arrayBuffer()
    // avif, webp, jpeg (twice the same webp), and the original: four distinct strong ETags.
    expect(etags.size).toBe(4)
  })

  it('takes an explicit format over Accept, with no Vary, and a Cache-Control bounded by the URL', async () => {
    const res = await call(variant('w=512&format=png'), { headers: { accept: 'image/avif' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/png')
    expect(res.headers.get('vary')).toBeNull()
    const exp = Number(new URL(imageURL).searchParams.get('exp'))
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1])
    expect(Date.now() / 1000 + maxAge).toBeLessThanOrEqual(exp + 1)
    expect(await info(res)).toMatchObject({ format: 'image/png', width: 512, height: 768 })
  })

  it('serves a byte range of a variant, and HEAD without a body', async () => {
    const whole = new Uint8Array(await (await call(variant('w=256&format=webp'))).arrayBuffer())
    const ranged = await call(variant('w=256&format=webp'), { headers: { range: 'bytes=0-11' } })
    expect(ranged.status).toBe(206)
    expect(ranged.headers.get('content-range')).toBe(`bytes 0-11/${whole.length}`)
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(whole.slice(0, 12))
    const head = await call(variant('w=256&format=webp'), { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe(String(whole.length))
    expect((await head.arrayBuffer()).byteLength).toBe(0)
  })

  it('refuses a width outside IMAGE_VARIANT_WIDTHS, a bad format, or repeated parameters, naming them', async () => {
    for (const [params, parameter] of [
      ['w=300', 'w'],
      ['w=', 'w'],
      ['w=256.0', 'w'],
      ['w=256&w=512', 'w'],
      ['w=1e9', 'w'],
      ['w=256&format=gif', 'format'],
      ['format=AVIF', 'format'],
    ]) {
      const res = await call(variant(params as string))
      expect(res.status, params).toBe(400)
      const { errors } = (await res.json()) as { errors: Record<string, unknown>[] }
      expect(errors[0]).toMatchObject({ code: 'invalidParameter', parameter })
    }
    const { errors } = (await (await call(variant('w=300'))).json()) as { errors: Record<string, unknown>[] }
    expect(errors[0]?.allowedValues).toEqual([256, 512, 1024])
  })

  it('answers 403 to a tampered or expired signature, with or without w', async () => {
    const tampered = path(imageURL).replace(/sig=./, (m) => `sig=${m.endsWith('A') ? 'B' : 'A'}`)
    for (const url of [tampered, `${tampered}&w=256`, `${tampered}&w=300`]) {
      const res = await call(url)
      expect(res.status).toBe(403)
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('invalidSignature')
    }
    const expired = path(await new UrlSigner(env.SIGNING_SECRET, BASE).fileUrl(objectKey, 60, Date.now() - 3_600_000))
    for (const url of [expired, `${expired}&w=256`]) {
      const res = await call(url)
      expect(res.status).toBe(403)
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('signatureExpired')
    }
  })

  it('transforms a variant once: later requests read it from R2 or the edge cache', async () => {
    const { counts, fetch } = countingApp()
    const url = variant('w=1024&format=webp')
    const first = await fetch(url)
    expect(first.res.status).toBe(200)
    expect(counts.input).toBe(1)
    const second = await fetch(url)
    expect(second.res.headers.get('etag')).toBe(first.res.headers.get('etag'))
    expect(new Uint8Array(second.body)).toEqual(new Uint8Array(first.body))
    // Not only the edge cache: with it purged, the variant comes from R2.
    await new ImageCache(caches.default).purge([`variants/${objectKey}/1024.webp`])
    const third = await fetch(url)
    expect(third.res.status).toBe(200)
    expect(counts.input).toBe(1)
    expect(await env.IMAGES.head(`variants/${objectKey}/1024.webp`)).not.toBeNull()
  })

  it('answers 501 variantsUnavailable without the binding, and still serves the original', async () => {
    const withoutImages = { ...env, TRANSFORMS: undefined }
    const get = (url: string) => app.fetch(new Request(`${BASE}${url}`), withoutImages, createExecutionContext())
    const res = await get(variant('w=256'))
    expect(res.status).toBe(501)
    const { errors } = (await res.json()) as { errors: { code: string; message: string }[] }
    expect(errors[0]?.code).toBe('variantsUnavailable')
    expect(errors[0]?.message).toContain('"images"')
    const original = await get(path(imageURL))
    expect(original.status).toBe(200)
    expect(original.headers.get('content-type')).toBe('image/jpeg')
    await original.arrayBuffer()
  })

  it('deletes a task’s variants with the task', async () => {
    const body = inference({ outputFormat: 'PNG' })
    const { json } = await postV1([body])
    const url = String(json.data?.[0]?.imageURL)
    const key = new URL(url).pathname.slice('/files/'.length)
    await (await call(`${path(url)}&w=256`, { headers: { accept: 'image/avif' } })).arrayBuffer()
    expect((await env.IMAGES.list({ prefix: `variants/${key}/` })).objects).toHaveLength(1)
    const deleted = await call(`/v1/tasks/${body.taskUUID}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY_A}` } })
    expect(deleted.status).toBe(200)
    expect((await env.IMAGES.list({ prefix: `variants/${key}/` })).objects).toHaveLength(0)
    // And the signed URL, still unexpired, finds nothing to resize.
    expect((await call(`${path(url)}&w=256`, { headers: { accept: 'image/avif' } })).status).toBe(404)
  })

  it('resizes an uploaded image (typed by its stored metadata), and a mediaStorage delete takes its variants', async () => {
    const png = await (await call(`${path(imageURL)}&format=png`)).arrayBuffer()
    const uploaded = await call('/v1/images', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'image/png' },
      body: png,
    })
    expect(uploaded.status).toBe(201)
    const { imageUUID, imageURL: uploadURL } = ((await uploaded.json()) as { data: { imageUUID: string; imageURL: string } }).data
    const key = new URL(uploadURL).pathname.slice('/files/'.length)
    // No Accept naming a newer format: the upload's own format, read from its stored type.
    const res = await call(`${path(uploadURL)}&w=512`, { headers: { accept: '*/*' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/png')
    expect(await info(res)).toMatchObject({ format: 'image/png', width: 512, height: 768 })
    expect((await env.IMAGES.list({ prefix: `variants/${key}/` })).objects.map((o) => o.key)).toEqual([`variants/${key}/512.png`])

    const removed = await postV1([{ taskType: 'mediaStorage', taskUUID: crypto.randomUUID(), operation: 'delete', media: imageUUID }])
    expect(removed.status).toBe(200)
    expect((await env.IMAGES.list({ prefix: `variants/${key}/` })).objects).toHaveLength(0)
  })
})
