/** GET/HEAD /files/{key}?exp&sig — signed, streamed image delivery from R2 and the edge cache. */
import { Hono } from 'hono'
import type { AppEnv } from '../app-env'
import { ApiError } from '../lib/errors'
import { CONTENT_TYPES, EXTENSIONS, type ImageFormat } from '../lib/image-type'
import { services } from './middleware'

/** The byte span R2 returned for a ranged read. */
function span(range: R2Range, size: number): { offset: number; length: number } {
  // R2 sets every field, some to undefined, so `in` checks would mislead.
  const { offset, length, suffix } = range as { offset?: number; length?: number; suffix?: number }
  if (suffix !== undefined) return { offset: size - suffix, length: suffix }
  return { offset: offset ?? 0, length: length ?? size - (offset ?? 0) }
}

/** The headers that keep any stored bytes inert: never sniffed, never run, never framed with script. */
const INERT_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
}

/**
 * The type an image is served as: from its key's extension (a result's key names its format),
 * else the type the gateway stored from its magic bytes; never a type an uploader chose.
 */
function servedType(key: string, stored: string | undefined): string {
  const byExtension = EXTENSION_TYPES[key.slice(key.lastIndexOf('.') + 1)]
  if (byExtension) return byExtension
  return stored && IMAGE_TYPES.has(stored) ? stored : 'application/octet-stream'
}
const EXTENSION_TYPES: Record<string, string> = Object.fromEntries(
  (Object.keys(EXTENSIONS) as ImageFormat[]).map((format) => [EXTENSIONS[format], CONTENT_TYPES[format]]),
)
const IMAGE_TYPES = new Set(Object.values(CONTENT_TYPES))

export const fileRoutes = new Hono<AppEnv>()
  .use('*', async (c, next) => {
    await next()
    // Errors too: every answer on this origin's file path is inert.
    for (const [name, value] of Object.entries(INERT_HEADERS)) c.res.headers.set(name, value)
  })
  .get('/*', async (c) => {
    const { signer, cache, images } = services(c)
    const { key, exp } = await signer.signedKey('files', new URL(c.req.url))

    const request = c.req.raw.headers
    // Hono runs GET handlers for HEAD; skip the body read then.
    const isHead = c.req.raw.method === 'HEAD'
    const ranged = request.has('range')
    // Never cacheable past the signature's expiry.
    const headers = new Headers({
      'cache-control': `private, max-age=${Math.max(0, exp - Math.floor(Date.now() / 1000))}`,
      'accept-ranges': 'bytes',
    })
    const respond = (etag: string, status: number, body: ReadableStream | null, meta: Record<string, string>) => {
      headers.set('etag', etag)
      for (const [name, value] of Object.entries(meta)) headers.set(name, value)
      const notModified = request
        .get('if-none-match')
        ?.split(/\s*,\s*/)
        .includes(etag)
      if (notModified) {
        void body?.cancel()
        return new Response(null, { status: 304, headers })
      }
      return new Response(isHead ? null : body, { status, headers })
    }

    const hit = isHead || ranged ? undefined : await cache.match(key)
    if (hit) {
      return respond(hit.headers.get('etag') ?? '', 200, hit.body, {
        'content-type': servedType(key, hit.headers.get('content-type') ?? undefined),
        'content-length': hit.headers.get('content-length') ?? '',
      })
    }

    // Only If-None-Match is passed on, so a body-less answer from R2 always means 304.
    const ifNoneMatch = request.get('if-none-match')
    const onlyIf = ifNoneMatch ? new Headers({ 'if-none-match': ifNoneMatch }) : undefined
    let object: R2Object | R2ObjectBody | null
    try {
      object = isHead ? await images.head(key) : await images.get(key, { onlyIf, range: ranged ? request : undefined })
    } catch {
      throw new ApiError(416, { code: 'invalidRange', message: 'The Range header cannot be satisfied' })
    }
    if (!object) throw new ApiError(404, { code: 'imageNotFound', message: 'No image at this URL' })
    const meta = { 'content-type': servedType(key, object.httpMetadata?.contentType), 'content-length': String(object.size) }
    if (isHead || !('body' in object)) return respond(object.httpEtag, 200, null, meta)
    const body = object as R2ObjectBody
    // R2 reports a range on every read; only a requested one makes a 206.
    if (!ranged || !body.range)
      return respond(
        body.httpEtag,
        200,
        cache.fill(key, body, (p) => c.executionCtx.waitUntil(p)),
        meta,
      )
    const { offset, length } = span(body.range, body.size)
    return respond(body.httpEtag, 206, body.body, {
      ...meta,
      'content-range': `bytes ${offset}-${offset + length - 1}/${body.size}`,
      'content-length': String(length),
    })
  })
