/** GET/HEAD /files/{key}?exp&sig — signed, streamed image delivery from R2. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'

const PREFIX = '/files/'

/** The byte span R2 returned for a ranged read. */
function span(range: R2Range, size: number): { offset: number; length: number } {
  // R2 sets every field, some to undefined, so `in` checks would mislead.
  const { offset, length, suffix } = range as { offset?: number; length?: number; suffix?: number }
  if (suffix !== undefined) return { offset: size - suffix, length: suffix }
  return { offset: offset ?? 0, length: length ?? size - (offset ?? 0) }
}

export const fileRoutes = new Hono<AppEnv>().get('/*', async (c) => {
  const url = new URL(c.req.url)
  // Keys are URL-safe by construction; an encoded path simply fails the signature check.
  const key = url.pathname.slice(PREFIX.length)
  const exp = url.searchParams.get('exp') ?? undefined
  const check = await c.var.services.signer.checkFile(key, exp, url.searchParams.get('sig') ?? undefined)
  if (check !== 'ok') {
    throw new ApiError(403, {
      code: check === 'expired' ? 'signatureExpired' : 'invalidSignature',
      message: check === 'expired' ? 'This image URL has expired; fetch the task again for a fresh one' : 'This image URL is not valid',
    })
  }

  const headers = c.req.raw.headers
  const bucket = c.env.IMAGES
  // Hono runs GET handlers for HEAD; skip the body read then.
  const isHead = c.req.raw.method === 'HEAD'
  let object: R2Object | R2ObjectBody | null
  try {
    object = isHead ? await bucket.head(key) : await bucket.get(key, { onlyIf: headers, range: headers.has('range') ? headers : undefined })
  } catch {
    throw new ApiError(416, { code: 'invalidRange', message: 'The Range header cannot be satisfied' })
  }
  if (!object) throw new ApiError(404, { code: 'imageNotFound', message: 'No image at this URL' })

  const maxAge = Math.max(0, Number(exp) - Math.floor(Date.now() / 1000))
  const out = new Headers({
    etag: object.httpEtag,
    'content-type': object.httpMetadata?.contentType ?? 'application/octet-stream',
    // Never cacheable past the signature's expiry.
    'cache-control': `private, max-age=${maxAge}`,
    'accept-ranges': 'bytes',
  })
  const notModified = headers.get('if-none-match')?.split(/\s*,\s*/).includes(object.httpEtag)
  if (notModified || (!isHead && !('body' in object))) return new Response(null, { status: 304, headers: out })
  if (isHead || !('body' in object)) {
    out.set('content-length', String(object.size))
    return new Response(null, { status: 200, headers: out })
  }
  // R2 reports a range on every read; only a requested one makes a 206.
  if (!object.range || !headers.has('range')) {
    out.set('content-length', String(object.size))
    return new Response((object as R2ObjectBody).body, { status: 200, headers: out })
  }
  const { offset, length } = span(object.range, object.size)
  out.set('content-range', `bytes ${offset}-${offset + length - 1}/${object.size}`)
  out.set('content-length', String(length))
  return new Response((object as R2ObjectBody).body, { status: 206, headers: out })
})
