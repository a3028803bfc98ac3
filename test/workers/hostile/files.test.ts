/** Served files are inert, whatever bytes an uploader put in the bucket and whatever type it claimed. */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { requireConfig } from '../../../src/config/config'
import { UrlSigner } from '../../../src/images/url-signer'
import { imageKey, uploadKey } from '../../../src/lib/storage-keys'
import { buildServices } from '../../../src/services'
import { BASE, call, shardOf, taskRecord } from '../helpers'

const HTML = '<!doctype html><script>fetch("/v1/usage?k="+sessionStorage.key)</script>'
const PNG = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='), (c) =>
  c.charCodeAt(0),
)
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
const signer = () => new UrlSigner(env.SIGNING_SECRET, BASE)
const get = async (key: string) => {
  const url = new URL(await signer().fileUrl(key, 600))
  return call(`${url.pathname}${url.search}`)
}

function expectInert(res: Response) {
  expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox")
}

describe('inert files', () => {
  it.each([
    ['HTML', HTML, 'text/html'],
    ['SVG', SVG, 'image/svg+xml'],
  ])('serves %s bytes an uploader put under a result key as the key’s image type, nosniff, sandboxed', async (_kind, bytes, claimed) => {
    const key = imageKey('thostile', crypto.randomUUID(), 0, 'PNG')
    await env.IMAGES.put(key, bytes, { httpMetadata: { contentType: claimed } })
    const res = await get(key)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/png')
    expectInert(res)
  })

  it('never serves a stored type that is not an image', async () => {
    const key = uploadKey('thostile', crypto.randomUUID())
    await env.IMAGES.put(key, HTML, { httpMetadata: { contentType: 'text/html' } })
    const res = await get(key)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    expectInert(res)
  })

  it('makes errors on the file path inert too: a forged signature, a missing file', async () => {
    const forged = await call(`/files/images/thostile/x/0.png?exp=${Math.floor(Date.now() / 1000) + 600}&sig=AAAA`)
    expect(forged.status).toBe(403)
    expectInert(forged)
    const missing = await get(imageKey('thostile', crypto.randomUUID(), 0, 'JPG'))
    expect(missing.status).toBe(404)
    expectInert(missing)
  })

  it('in r2-presigned mode, never counts a result whose object is not the image its key names, and removes it', async () => {
    const services = buildServices(
      env,
      { ...requireConfig(env), UPLOAD_MODE: 'r2-presigned' },
      { origin: BASE, waitUntil: () => undefined },
    )
    const task = taskRecord({ tenant: 'thostile', outputFormat: 'PNG' })
    await shardOf('thostile', task.taskUUID).open(task, 0, {}, Date.now() + 60_000)
    const key = imageKey(task.tenant, task.taskUUID, 0, 'PNG')
    await env.IMAGES.put(key, HTML, { httpMetadata: { contentType: 'image/png' } })
    const item = { index: 0, item: { taskUUID: task.children[0]!.taskUUID, imageUUID: crypto.randomUUID() } }
    const outcome = await services.recorder.record(task, [item])
    expect(outcome.pending).toEqual([0])
    expect(outcome.results).toEqual([])
    expect(await env.IMAGES.head(key)).toBeNull()

    // An image of another format is not the image the key names either.
    const jpg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...Array.from({ length: 60 }, () => 7)])
    await env.IMAGES.put(key, jpg, { httpMetadata: { contentType: 'image/png' } })
    expect((await services.recorder.record(task, [item])).pending).toEqual([0])
    expect(await env.IMAGES.head(key)).toBeNull()

    // The PNG it names is counted, and kept.
    await env.IMAGES.put(key, PNG, { httpMetadata: { contentType: 'image/png' } })
    const landed = await services.recorder.record(task, [item])
    expect(landed.pending).toEqual([])
    expect(landed.results).toMatchObject([{ index: 0, ok: true }])
    expect(await env.IMAGES.head(key)).not.toBeNull()
  })

  it('in worker mode, refuses an upload that is not the image its key names with 415, storing nothing', async () => {
    const task = taskRecord({ tenant: 'thostile', outputFormat: 'PNG' })
    await shardOf('thostile', task.taskUUID).open(task, 0, {}, Date.now() + 60_000)
    const key = imageKey(task.tenant, task.taskUUID, 0, 'PNG')
    const url = (await signer().uploadUrl(key, 60)).slice(BASE.length)
    const jpg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...Array.from({ length: 60 }, () => 7)])
    for (const body of [HTML, SVG, jpg]) {
      const res = await call(url, { method: 'PUT', body })
      expect(res.status).toBe(415)
      expect(((await res.json()) as { errors: unknown[] }).errors).toMatchObject([
        { code: 'unsupportedImageFormat', message: 'The body is not a PNG image', allowedValues: ['PNG'] },
      ])
      expect(await env.IMAGES.head(key)).toBeNull()
    }
    // The PNG it names is stored, typed from its bytes.
    expect((await call(url, { method: 'PUT', body: PNG })).status).toBe(201)
    expect((await env.IMAGES.head(key))?.httpMetadata?.contentType).toBe('image/png')
  })
})
