/** Signed image delivery: signatures, expiry, HEAD, Range, ETag/304, Content-Type and Cache-Control. */
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { UrlSigner } from '../../../src/images/url-signer'
import { BASE, call } from '../helpers'

const KEY = 'images/tfiletest/00000000-0000-4000-8000-000000000001/0.png'
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Array.from({ length: 200 }, (_, i) => i % 256)])
const signer = () => new UrlSigner(env.SIGNING_SECRET, BASE)
const path = (url: string) => url.slice(BASE.length)

describe('GET /files', () => {
  beforeAll(async () => {
    await env.IMAGES.put(KEY, PNG, { httpMetadata: { contentType: 'image/png' } })
  })

  it('streams the object with its type, length, ETag and a Cache-Control bounded by the expiry', async () => {
    const url = await signer().fileUrl(KEY, 600)
    const res = await call(path(url))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/png')
    expect(res.headers.get('content-length')).toBe(String(PNG.length))
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG)
    const exp = Number(new URL(url).searchParams.get('exp'))
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1])
    expect(maxAge).toBeGreaterThan(0)
    expect(Date.now() / 1000 + maxAge).toBeLessThanOrEqual(exp + 1)
    expect(res.headers.get('etag')).toBeTruthy()
  })

  it('rounds expiries up to 5-minute buckets, so repeated reads share one URL', async () => {
    const a = await signer().fileUrl(KEY, 600, 1_000_000_000)
    const b = await signer().fileUrl(KEY, 600, 1_000_000_000 + 1000)
    expect(a).toBe(b)
    expect(Number(new URL(a).searchParams.get('exp')) % 300).toBe(0)
  })

  it('answers HEAD without a body', async () => {
    const res = await call(path(await signer().fileUrl(KEY, 600)), { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(PNG.length))
    expect((await res.arrayBuffer()).byteLength).toBe(0)
  })

  it('serves byte ranges with 206 and Content-Range', async () => {
    const res = await call(path(await signer().fileUrl(KEY, 600)), { headers: { range: 'bytes=0-7' } })
    expect(res.status).toBe(206)
    expect(res.headers.get('content-range')).toBe(`bytes 0-7/${PNG.length}`)
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG.slice(0, 8))
  })

  it('answers 304 to If-None-Match with the current ETag', async () => {
    const url = path(await signer().fileUrl(KEY, 600))
    const etag = (await call(url)).headers.get('etag') ?? ''
    const res = await call(url, { headers: { 'if-none-match': etag } })
    expect(res.status).toBe(304)
  })

  it('refuses a tampered signature, path or expiry with a 403 JSON error', async () => {
    const url = new URL(await signer().fileUrl(KEY, 600))
    const tamperedSig = `${url.pathname}?exp=${url.searchParams.get('exp')}&sig=${'A'.repeat(43)}`
    const otherPath = `${url.pathname.replace('0.png', '1.png')}${url.search}`
    const laterExp = `${url.pathname}?exp=${Number(url.searchParams.get('exp')) + 300}&sig=${url.searchParams.get('sig')}`
    for (const bad of [tamperedSig, otherPath, laterExp, url.pathname]) {
      const res = await call(bad)
      expect(res.status).toBe(403)
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('invalidSignature')
    }
  })

  it('refuses an expired URL with 403 signatureExpired', async () => {
    const url = await signer().fileUrl(KEY, 60, Date.now() - 3_600_000)
    const res = await call(path(url))
    expect(res.status).toBe(403)
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('signatureExpired')
  })

  it('answers 403, not a server error, for a malformed or encoded path', async () => {
    for (const bad of ['/files/%E0%A4%A?exp=1&sig=x', '/files/images%2Fa?exp=99999999999&sig=abc', '/files/?exp=&sig=']) {
      expect((await call(bad)).status).toBe(403)
    }
  })

  it('serves repeat reads from the edge cache, keyed by object, whatever the signature', async () => {
    const key = 'images/tfiletest/00000000-0000-4000-8000-000000000002/0.png'
    await env.IMAGES.put(key, PNG, { httpMetadata: { contentType: 'image/png' } })
    const first = await call(path(await signer().fileUrl(key, 600)))
    expect(first.status).toBe(200)
    await first.arrayBuffer()
    await new Promise((r) => setTimeout(r, 50)) // the cache fill runs after the response
    // Gone from R2 behind the gateway's back: only the edge cache can still answer.
    await env.IMAGES.delete(key)
    const again = await call(path(await signer().fileUrl(key, 3600)))
    expect(again.status).toBe(200)
    expect(again.headers.get('content-type')).toBe('image/png')
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(PNG)
    expect(Number(/max-age=(\d+)/.exec(again.headers.get('cache-control') ?? '')?.[1])).toBeGreaterThan(600)
    const revalidate = await call(path(await signer().fileUrl(key, 600)), { headers: { 'if-none-match': again.headers.get('etag') ?? '' } })
    expect(revalidate.status).toBe(304)
  })

  it('answers 404 for a signed URL whose object is gone', async () => {
    const res = await call(path(await signer().fileUrl('images/tfiletest/00000000-0000-4000-8000-000000000001/9.png', 600)))
    expect(res.status).toBe(404)
  })

  it('never names the bucket or account in a response', async () => {
    const res = await call(path(await signer().fileUrl(KEY, 600)))
    const headers = JSON.stringify([...res.headers])
    expect(headers).not.toContain(env.R2_BUCKET_NAME)
  })
})
